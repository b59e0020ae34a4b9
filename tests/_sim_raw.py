"""A tiny raw-socket ESL client and a fake daemon listener, for the simulator's tests (their
`daemon` and `sim` fixtures are in conftest.py).

Deliberately independent of frontdesk.esl: these tests check the simulator's wire output.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass

import gevent
import gevent.event
import gevent.queue
from gevent import socket
from gevent.server import StreamServer

SCALE = 0.002
"""The simulator's time scale in these tests: a simulated second is 2 ms."""


@dataclass
class Frame:
    raw: bytes
    headers: list[tuple[str, str]]
    body: str

    @property
    def content_type(self) -> str:
        return dict(self.headers).get("Content-Type", "")

    def get(self, name: str, default: str | None = None) -> str | None:
        return dict(self.headers).get(name, default)

    @property
    def event(self) -> list[tuple[str, str]]:
        """The event's own headers (decoded), for text/event-plain and text/event-json."""
        if self.content_type == "text/event-json":
            return list(json.loads(self.body).items())
        if self.content_type != "text/event-plain":
            return []
        head = self.body.split("\n\n", 1)[0]
        out = []
        for line in head.split("\n"):
            name, _, value = line.partition(": ")
            out.append((name, urllib.parse.unquote(value)))
        return out

    def ev(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.event:
            if key == name:
                return value
        return default

    @property
    def name(self) -> str:
        return self.ev("Event-Name") or ""

    @property
    def inner_body(self) -> str:
        """The body carried inside a plain event (BACKGROUND_JOB output)."""
        if self.content_type == "text/event-json":
            return json.loads(self.body).get("_body", "")
        parts = self.body.split("\n\n", 1)
        return parts[1] if len(parts) > 1 else ""


class RawESL:
    """Reads whole frames from a socket, writes commands."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.pending: list[Frame] = []  # events read while waiting for a command's reply

    @classmethod
    def connect(cls, port: int) -> RawESL:
        return cls(socket.create_connection(("127.0.0.1", port), timeout=5))

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def _fill(self, timeout: float) -> bool:
        with gevent.Timeout(timeout):
            chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def read(self, timeout: float = 5.0) -> Frame | None:
        """The next frame, or None at end of stream."""
        if self.pending:
            return self.pending.pop(0)
        return self._read_wire(timeout)

    def _read_wire(self, timeout: float) -> Frame | None:
        while b"\n\n" not in self.buf:
            if not self._fill(timeout):
                return None
        head, rest = self.buf.split(b"\n\n", 1)
        headers = []
        for line in head.decode().split("\n"):
            name, _, value = line.partition(": ")
            headers.append((name, value))
        length = int(dict(headers).get("Content-Length", "0"))
        while len(rest) < length:
            self.buf = head + b"\n\n" + rest
            if not self._fill(timeout):
                return None
            head, rest = self.buf.split(b"\n\n", 1)
        body, self.buf = rest[:length], rest[length:]
        return Frame(head + b"\n\n" + body, headers, body.decode())

    def command(self, text: str) -> Frame:
        """Send a command and return its reply; events arriving first are kept for read()."""
        self.send(text.rstrip("\n") + "\n\n")
        while True:
            frame = self._read_wire(5.0)
            assert frame is not None
            if frame.content_type.startswith("text/event-"):
                self.pending.append(frame)
                continue
            return frame

    def until(self, predicate: Callable[[Frame], bool], timeout: float = 5.0) -> list[Frame]:
        """Frames read until (and including) the first one matching predicate."""
        frames = []
        while True:
            frame = self.read(timeout)
            assert frame is not None, (
                f"stream ended; got {[f.name or f.content_type for f in frames]}"
            )
            frames.append(frame)
            if predicate(frame):
                return frames

    def execute(self, app: str, arg: str = "") -> list[Frame]:
        """sendmsg execute; returns the frames up to its CHANNEL_EXECUTE_COMPLETE."""
        event_uuid = str(uuidlib.uuid4())
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
        if arg:
            lines.append(f"execute-app-arg: {arg}")
        lines.append(f"Event-UUID: {event_uuid}")
        self.send("\n".join(lines) + "\n\n")
        return self.until(
            lambda f: (
                f.name == "CHANNEL_EXECUTE_COMPLETE" and f.ev("Application-UUID") == event_uuid
            )
        )

    def rest(self, timeout: float = 5.0) -> list[Frame]:
        """Every frame until the other side closes."""
        frames = []
        while (frame := self.read(timeout)) is not None:
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close()


class FakeDaemon:
    """Accepts the simulator's outbound-socket connections."""

    def __init__(self) -> None:
        self.accepted: gevent.queue.Queue = gevent.queue.Queue()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.server.server_port)

    def _handle(self, sock: socket.socket, _addr: object) -> None:
        done = gevent.event.Event()
        self.accepted.put((sock, done))
        done.wait()

    def accept(self, *, linger: str | None = "5", events: str = "") -> tuple[RawESL, Frame]:
        """Take the next call: connect, myevents, linger; returns the session and channel data."""
        sock, _done = self.accepted.get(timeout=5)
        esl = RawESL(sock)
        data = esl.command("connect")
        assert esl.command(f"myevents {events}".strip()).get("Reply-Text") == "+OK Events Enabled"
        if linger is not None:
            esl.command(f"linger {linger}".strip())
        return esl, data

    def stop(self) -> None:
        self.server.stop(timeout=0)
