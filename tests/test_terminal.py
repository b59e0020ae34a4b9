"""Caller-controlled text shown on a terminal: nothing in it may act on the terminal."""

from __future__ import annotations

import io
import re
import sys

import structlog
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.logs import configure_logging
from frontdesk.terminal import safe

ACTS_ON_A_TERMINAL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ESCAPE = re.compile(r"\\(?:\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def unescape(shown: str) -> str:
    def one(match: re.Match[str]) -> str:
        text = match.group()
        return "\\" if text == "\\\\" else chr(int(text[2:], 16))

    return ESCAPE.sub(one, shown)


@given(st.text())
def test_safe_text_holds_no_character_that_acts_on_a_terminal(text: str) -> None:
    shown = safe(text)
    assert not ACTS_ON_A_TERMINAL.search(shown)
    assert unescape(shown) == text, "the escapes are unambiguous: nothing is lost"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cf"))))
def test_ordinary_text_is_shown_as_it_is(text: str) -> None:
    assert safe(text) == text.replace("\\", "\\\\")


def test_the_console_log_shows_a_caller_name_escaped(monkeypatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    configure_logging("info", json_lines=False)
    try:
        structlog.get_logger("test").info("call.started", caller_name="X\x1b[2J\r\nFAKE")
    finally:
        configure_logging("warning")

    assert "X\\x1b[2J\\x0d\\x0aFAKE" in stderr.getvalue()
    assert not ACTS_ON_A_TERMINAL.search(stderr.getvalue().replace("\n", ""))
