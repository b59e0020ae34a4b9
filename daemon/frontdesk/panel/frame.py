"""Frames of the desk panel protocol (docs/panel-protocol.md): encoding, checksum, decoding,
and cutting a byte stream into lines. No I/O here: the transport is in `link.py`."""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL_VERSION = 1
MAX_LINE = 80
"""Bytes of one line, `$` to checksum; a longer line is discarded whole."""
SEQ_MODULO = 65536
LEVELS = ("G", "A", "R")
MODES = ("AUTO", "OPEN", "LUNCH", "CLOSED")
BUTTONS = ("LUNCH", "CLOSED", "AWAY")
FIELD_COUNTS = {"V": 2, "S": 5, "H": 0, "A": 2, "B": 1}
"""Frame type -> number of fields after the sequence number."""


class FrameError(ValueError):
    """A line that is not a valid frame (noise, a cut line, a bad checksum)."""


@dataclass(frozen=True)
class Frame:
    kind: str
    seq: int
    fields: tuple[str, ...] = ()


def checksum(body: bytes) -> int:
    """XOR of the bytes between `$` and `*` (the NMEA 0183 checksum)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode(frame: Frame) -> bytes:
    body = ",".join((frame.kind, str(frame.seq % SEQ_MODULO), *frame.fields)).encode("ascii")
    return b"$%s*%02X\n" % (body, checksum(body))


def decode(line: bytes) -> Frame:
    """One line (with or without its line ending) -> a Frame; FrameError when invalid."""
    start = line.rfind(b"$")
    if start < 0:
        raise FrameError("no '$'")
    text = line[start + 1 :].rstrip(b"\r\n")
    body, star, sent = text.rpartition(b"*")
    if not star or len(sent) != 2:
        raise FrameError("no checksum")
    if sent.strip(b"0123456789ABCDEFabcdef"):  # int() alone would take " 3" or "+3"
        raise FrameError("checksum is not hex")
    expected = int(sent, 16)
    if checksum(body) != expected:
        raise FrameError("bad checksum")
    try:
        kind, seq, *fields = body.decode("ascii").split(",")
    except (UnicodeDecodeError, ValueError):
        raise FrameError("not a frame") from None
    if FIELD_COUNTS.get(kind) != len(fields):
        raise FrameError(f"unknown type or wrong field count: {kind!r}")
    if not seq.isdigit() or int(seq) >= SEQ_MODULO:
        raise FrameError("bad sequence number")
    return Frame(kind, int(seq), tuple(fields))


def state_fields(
    waiting: int, longest: float, available: int, level: str, mode: str
) -> tuple[str, ...]:
    """The fields of an `S` frame, clamped to the ranges the protocol gives."""
    return (
        str(min(max(waiting, 0), 999)),
        str(min(max(round(longest), 0), 99999)),
        str(min(max(available, 0), 999)),
        level,
        mode,
    )


class LineSplitter:
    """Bytes in, complete lines out. A line longer than MAX_LINE is dropped whole (counted in
    `overlong`); a partial line waits for the rest (or is dropped by `reset()` on reconnect)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._discarding = False
        self.overlong = 0

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if self._discarding:  # the end of a line already counted as overlong
                self._discarding = False
            elif len(line) > MAX_LINE:
                self.overlong += 1
            else:
                lines.append(line)
        if len(self._buffer) > MAX_LINE:
            self.overlong += not self._discarding
            self._buffer, self._discarding = b"", True
        return lines

    def reset(self) -> None:
        self._buffer, self._discarding = b"", False
