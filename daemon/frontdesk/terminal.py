"""Text from callers, made safe to print on a terminal.

A caller chooses their caller-ID name (and, with some operators, the number): printed raw, an
escape sequence in it can clear the screen, move the cursor or write a fake line, and a bidi
override can show the text reversed. `safe` shows every such character as a visible escape.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\\\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
"""C0 and C1 controls (ESC, CR, LF... and the 8-bit CSI), DEL, line and paragraph separators,
bidi marks and overrides; and the backslash, so that an escape shown is never ambiguous."""


def safe(text: str) -> str:
    """`text` with every control, line break and bidi override shown as an escape: ESC is
    ``\\x1b``, U+202E is ``\\u202e``, a backslash is ``\\\\``."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
