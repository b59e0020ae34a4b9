"""ESL framing on bytes, and the lazily decoded `Event`.

A frame is a header block ended by a blank line, then exactly Content-Length bytes of body.
Everything here works on bytes: a TCP chunk is never decoded (it may split a UTF-8 sequence and
Content-Length counts bytes). Header values are URL-decoded one by one, after the block was split
into lines, so an encoded newline (`%0A`) in a caller-supplied value can never forge a header.

Speed comes from laziness: an `Event` keeps its raw bytes and answers the few fields the
dispatchers need (`content_type`, `name`, `uuid`, `get("Application-UUID")`, `get("Job-UUID")`)
with targeted searches; the full decoded dict is built only when `headers` is asked for.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from frontdesk.esl.errors import FrameError

MAX_CONTENT_LENGTH = 16 * 1024 * 1024
"""Largest body accepted; a bigger announced length is treated as a corrupt stream."""

MAX_HEADER_BLOCK = 1024 * 1024
"""Largest header block accepted (the `connect` reply, the biggest seen, is about 6 KB)."""

PLAIN = "text/event-plain"
JSON = "text/event-json"


def _raw_value(block: bytes, key: bytes, end: int) -> bytes | None:
    """Raw value of the first line of `block[:end]` that starts with `key` (`b"Name: "`).

    Lines are separated by a bare `\\n` and values never contain one (they are URL-encoded), so a
    match at the start of the block or right after a newline is a header line, never a value.
    """
    if block.startswith(key, 0, end):
        start = len(key)
    else:
        found = block.find(b"\n" + key, 0, end)
        if found < 0:
            return None
        start = found + 1 + len(key)
    stop = block.find(b"\n", start, end)
    return block[start : stop if stop >= 0 else end]


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return unquote(text) if "%" in text else text


def _decode_block(block: bytes) -> dict[str, str]:
    """Every `Name: value` line of a header block, values URL-decoded; the first name wins."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(": ")
        if sep and name not in headers:
            headers[name] = unquote(value) if "%" in value else value
    return headers


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object hook: FreeSWITCH repeats some names (Hangup-Cause); keep the first, as plain."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        obj = {}
        for name, value in pairs:
            obj.setdefault(name, value)
    return obj


def _plain_header_end(body: bytes) -> int:
    """Where the header lines of a plain event's body end.

    Only an event with its own body (BACKGROUND_JOB) has an inner Content-Length, as its last
    header, right before the blank line; without one, all of it is headers. This spares a search
    for the blank line, which is slow (newlines are everywhere); the search stays the fallback.
    """
    found = body.find(b"\nContent-Length: ")
    if found < 0 and not body.startswith(b"Content-Length: "):
        return len(body)
    stop = body.find(b"\n", found + 1)
    if stop >= 0 and body.startswith(b"\n\n", stop):
        return stop
    end = body.find(b"\n\n")
    return end if end >= 0 else len(body)


class _Ambiguous(Exception):
    """The cheap JSON lookup cannot answer for sure; parse the whole document."""


def _json_string(doc: bytes, name: str) -> str | None:
    """Top-level string value of `name` in FreeSWITCH's compact JSON, without parsing it all.

    A match counts only when its opening quote follows `{`, `,` or a space: such a quote cannot
    be inside a string (there it would be escaped), so it opens a key. Values with escapes, or a
    name present in any other form, raise `_Ambiguous`.
    """
    pattern = b'"' + name.encode() + b'":"'
    found = doc.find(pattern)
    while found > 0 and doc[found - 1] not in b"{, ":
        found = doc.find(pattern, found + 1)
    if found <= 0:
        if b'"' + name.encode() + b'"' in doc:
            raise _Ambiguous
        return None
    start = found + len(pattern)
    stop = doc.find(b'"', start)
    if stop < 0:
        raise _Ambiguous
    value = doc[start:stop]
    if b"\\" in value:
        raise _Ambiguous
    return value.decode("utf-8", "replace")


class Event:
    """One ESL frame: an event, a command reply, an api response, a notice.

    For `text/event-plain` and `text/event-json` the headers are the event's own (the outer
    envelope only gives `content_type`); for every other frame they are the frame's header block
    (for the outbound `connect` reply: the channel data).
    """

    __slots__ = ("content_type", "_block", "_end", "_json", "_body", "_headers", "_name", "_uuid")

    def __init__(self, head: bytes, body: bytes = b"") -> None:
        raw_type = _raw_value(head, b"Content-Type: ", len(head))
        self.content_type: str = raw_type.decode("utf-8", "replace") if raw_type else ""
        self._json: bytes | None = None
        self._headers: dict[str, Any] | None = None
        self._name: str | None = None
        self._uuid: str | None = None
        if self.content_type == PLAIN:
            end = _plain_header_end(body)
            self._block, self._end, self._body = body, end, body[end + 2 :]
        elif self.content_type == JSON:
            self._block, self._end, self._body = b"", 0, b""
            self._json = body
        else:
            self._block, self._end, self._body = head, len(head), body

    def __repr__(self) -> str:
        return f"<Event {self.content_type} {self.name or '-'} {self.uuid or '-'}>"

    @property
    def name(self) -> str:
        """Event-Name ('' if none)."""
        if self._name is None:
            self._name = self.get("Event-Name") or ""
        return self._name

    @property
    def uuid(self) -> str:
        """Unique-ID of the channel ('' if none)."""
        if self._uuid is None:
            self._uuid = self.get("Unique-ID") or ""
        return self._uuid

    def get(self, header: str, default: str | None = None) -> Any:
        """Decoded value of the first `header`, or `default`."""
        if self._headers is not None:
            return self._headers.get(header, default)
        if self._json is not None:
            try:
                value = _json_string(self._json, header)
            except _Ambiguous:
                return self.headers.get(header, default)
            return default if value is None else value
        raw = _raw_value(self._block, header.encode() + b": ", self._end)
        return default if raw is None else _decode(raw)

    def variable(self, name: str) -> Any:
        """The channel variable `name` (header `variable_<name>`), or None."""
        return self.get("variable_" + name)

    @property
    def headers(self) -> dict[str, Any]:
        """Every header, decoded (built on first use)."""
        if self._headers is None:
            if self._json is not None:
                try:
                    obj = json.loads(self._json, object_pairs_hook=_first_wins)
                except (ValueError, RecursionError):
                    obj = None
                self._headers = obj if isinstance(obj, dict) else {}
            else:
                self._headers = _decode_block(self._block[: self._end])
        return self._headers

    @property
    def body(self) -> str:
        """The body text: a BACKGROUND_JOB's output, an api response, a notice ('' if none)."""
        if self._json is not None:
            value = self.headers.get("_body", "")
            return value if isinstance(value, str) else ""
        return self._body.decode("utf-8", "replace")


def _content_length(head: bytes, maximum: int) -> int:
    raw = _raw_value(head, b"Content-Length: ", len(head))
    if raw is None:
        return 0
    raw = raw.strip()
    if not raw.isdigit():
        kind = "negative" if raw[:1] == b"-" else "not a number"
        raise FrameError(f"Content-Length is {kind}: {raw[:40]!r}")
    if len(raw) > 9 or int(raw) > maximum:
        raise FrameError(f"Content-Length over {maximum} bytes: {raw[:40]!r}")
    return int(raw)


class FrameReader:
    """Cuts a byte stream into `Event`s: `feed()` bytes as they arrive, then call `next_event()`
    until it returns None. Raises `FrameError` on a corrupt stream (the caller then drops it).

    Chunks are kept as they come and joined only when a frame can be complete, so a big body
    arriving in many chunks is copied once, not once per chunk. `max_header` and `max_body`
    bound what one frame may make it hold (`limit()` changes them, e.g. once the peer of an
    outbound socket proved it is FreeSWITCH).
    """

    __slots__ = (
        "_buf", "_pos", "_scan", "_chunks", "_chunked", "_head", "_length", "max_header",
        "max_body",
    )

    def __init__(
        self, *, max_header: int = MAX_HEADER_BLOCK, max_body: int = MAX_CONTENT_LENGTH
    ) -> None:
        self.max_header = max_header
        self.max_body = max_body
        self._buf = b""
        self._pos = 0
        self._scan = 0  # where the search for the blank line resumes
        self._chunks: list[bytes] = []
        self._chunked = 0
        self._head: bytes | None = None
        self._length = 0

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._chunked += len(data)

    def clear(self) -> None:
        """Drop what is buffered (the connection is over), so it is freed at once."""
        self._buf, self._pos, self._scan, self._head = b"", 0, 0, None
        self._chunks.clear()
        self._chunked = 0

    def _available(self) -> int:
        return len(self._buf) - self._pos + self._chunked

    def _join(self) -> bytes:
        if self._chunks:
            rest = self._buf[self._pos :] if self._pos < len(self._buf) else b""
            self._buf = rest + b"".join(self._chunks) if rest else b"".join(self._chunks)
            self._scan -= self._pos
            self._pos = 0
            self._chunks.clear()
            self._chunked = 0
        return self._buf

    def next_event(self) -> Event | None:
        while self._head is None:
            buf = self._join()
            end = buf.find(b"\n\n", max(self._pos, self._scan))
            if end < 0:
                self._scan = len(buf) - 1
                if len(buf) - self._pos > self.max_header:
                    raise FrameError(f"no end of header block within {self.max_header} bytes")
                return None
            if end == self._pos:  # a stray newline between frames
                self._pos += 1
                continue
            if end - self._pos > self.max_header:
                raise FrameError(f"header block over {self.max_header} bytes")
            head = buf[self._pos : end]
            self._pos = end + 2
            length = _content_length(head, self.max_body)
            if not length:
                return Event(head)
            self._head, self._length = head, length
        if self._available() < self._length:
            return None
        buf = self._join()
        start = self._pos
        self._pos += self._length
        event = Event(self._head, buf[start : self._pos])
        self._head = None
        return event
