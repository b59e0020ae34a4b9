"""Find the line where each key of a TOML document is written.

`tomllib` returns plain values with no positions, so this small scanner walks the text again
and records, for every key path, the line it is defined on. It only ever runs on text that
`tomllib` has already accepted, so it can trust the syntax and stay short.

A key path is a tuple of table keys (str) and array indexes (int):
``("flow", "nodes", "main_menu", "options", "2")``, ``("schedule", "closures", 1, "from")``.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_PLAIN_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_SCALAR = re.compile(r"[^,\]}#\r\n]*")
_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "e": "\x1b",
}


def format_path(path: Path) -> str:
    """``("flow", "nodes", "menu", "options", "2")`` -> ``flow.nodes.menu.options."2"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _PLAIN_PART.match(part) else '"' + part.replace('"', '\\"') + '"'
        out += ("." if out else "") + text
    return out


class Locator:
    """Line numbers of the keys, tables and array items of one TOML text."""

    def __init__(self, text: str) -> None:
        scanner = _Scanner(text)
        scanner.run()
        self._lines = scanner.lines
        self._implicit = scanner.implicit

    def line(self, path: Path) -> int:
        """The line of `path`, or of its nearest written ancestor (1 if none is written)."""
        for size in range(len(path), 0, -1):
            prefix = tuple(path[:size])
            if prefix in self._lines:
                return self._lines[prefix]
            if prefix in self._implicit:
                return self._implicit[prefix]
        return 1

    def paths(self) -> list[Path]:
        """Every path written explicitly in the text."""
        return list(self._lines)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.lineno = 1
        self.lines: dict[Path, int] = {}
        self.implicit: dict[Path, int] = {}
        self.table: Path = ()
        self.aot: dict[Path, int] = {}  # array of tables -> number of tables seen so far

    # -- low level -------------------------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.s[self.i : self.i + n]

    def advance(self, n: int = 1) -> None:
        self.lineno += self.s.count("\n", self.i, self.i + n)
        self.i += n

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (if `newlines`) line ends."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.advance()
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.advance((len(self.s) if end < 0 else end) - self.i)
            else:
                return

    # -- document --------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(self.s):
                return
            if self.peek(2) == "[[":
                self.header(array=True)
            elif self.peek() == "[":
                self.header(array=False)
            else:
                self.key_value(self.table)

    def header(self, array: bool) -> None:
        line = self.lineno
        self.advance(2 if array else 1)
        parts = self.key()
        self.advance(2 if array else 1)
        resolved: Path = ()
        for part in parts[:-1]:
            resolved += (part,)
            if resolved in self.aot:
                resolved += (self.aot[resolved] - 1,)
            self.implicit.setdefault(resolved, line)
        resolved += (parts[-1],)
        if array:
            index = self.aot.get(resolved, 0)
            self.aot[resolved] = index + 1
            self.lines.setdefault(resolved, line)
            resolved += (index,)
        self.lines[resolved] = line
        self.table = resolved

    def key_value(self, base: Path) -> None:
        line = self.lineno
        parts = self.key()
        for size in range(1, len(parts)):
            self.implicit.setdefault(base + tuple(parts[:size]), line)
        self.skip_blank(newlines=False)
        self.advance()  # '='
        self.skip_blank(newlines=False)
        self.value(base + tuple(parts))

    def key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            c = self.peek()
            if c == '"':
                parts.append(self.basic_string())
            elif c == "'":
                end = self.s.index("'", self.i + 1)
                parts.append(self.s[self.i + 1 : end])
                self.advance(end + 1 - self.i)
            else:
                match = _BARE_KEY.match(self.s, self.i)
                assert match is not None, "scanner used on invalid TOML"
                parts.append(match.group())
                self.advance(match.end() - self.i)
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    def basic_string(self) -> str:
        """A single-line "..." string, decoded (used for quoted keys)."""
        self.advance()
        out = []
        while (c := self.s[self.i]) != '"':
            if c == "\\":
                code = self.s[self.i + 1]
                if code in "uU":
                    width = 4 if code == "u" else 8
                    out.append(chr(int(self.s[self.i + 2 : self.i + 2 + width], 16)))
                    self.advance(2 + width)
                    continue
                out.append(_ESCAPES.get(code, code))
                self.advance(2)
            else:
                out.append(c)
                self.advance()
        self.advance()
        return "".join(out)

    # -- values ----------------------------------------------------------------------------

    def value(self, path: Path) -> None:
        self.lines.setdefault(path, self.lineno)
        if self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif self.peek() == '"':
            self.basic_string()
        elif self.peek() == "'":
            end = self.s.index("'", self.i + 1)
            self.advance(end + 1 - self.i)
        elif self.peek() == "[":
            self.array(path)
        elif self.peek() == "{":
            self.inline_table(path)
        else:
            match = _SCALAR.match(self.s, self.i)
            assert match is not None
            self.advance(match.end() - self.i)

    def multiline_string(self, quote: str) -> None:
        self.advance(3)
        while True:
            if quote == '"""' and self.peek() == "\\":
                self.advance(2)
            elif self.peek(3) == quote:
                run = 3
                while self.s[self.i + run : self.i + run + 1] == quote[0]:
                    run += 1
                self.advance(run)  # up to two extra quotes belong to the content
                return
            else:
                self.advance()

    def array(self, path: Path) -> None:
        self.advance()
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.advance()
                return
            self.value(path + (index,))
            index += 1
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()

    def inline_table(self, path: Path) -> None:
        self.advance()
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "}":
                self.advance()
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()


_STRING_OR_COMMENT = re.compile(
    r'"""(?:\\.|[^\\])*?"""|\'\'\'.*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\'|#[^\n]*', re.S
)


def deepest_line(text: str) -> int:
    """The line where arrays and inline tables are nested deepest (strings and comments
    skipped): where to point when a file is nested too deeply for `tomllib` to parse it."""
    bare = _STRING_OR_COMMENT.sub(lambda match: "\n" * match.group().count("\n"), text)
    depth = deepest = 0
    line = found = 1
    for char in bare:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, found = depth, line
        elif char in "]}":
            depth -= 1
    return found
