"""Test doubles for the esl tests: captured frames, frame builders, and tiny scripted fake
FreeSWITCH ends (deliberately independent of frontdesk.sim)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import gevent
import gevent.event
import gevent.queue
import gevent.server
import gevent.socket

CAPTURES = Path(__file__).resolve().parent / "data" / "esl-captures"
CAPTURE_NAMES = sorted(
    p.name.removesuffix(".chunks.jsonl") for p in CAPTURES.glob("*.chunks.jsonl")
)


def blocks(name: str) -> list[dict]:
    """The blocks of one capture: {"t", "dir": "s2c"|"c2s"|"note", "data"}."""
    path = CAPTURES / f"{name}.chunks.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def server_frames(name: str) -> list[bytes]:
    return [b["data"].encode() for b in blocks(name) if b["dir"] == "s2c"]


def find_frame(name: str, *needles: str) -> bytes:
    """The first server frame of a capture that contains every needle."""
    for frame in server_frames(name):
        if all(n.encode() in frame for n in needles):
            return frame
    raise LookupError(needles)


def replace_value(frame: bytes, header: str, encoded_value: str) -> bytes:
    """Set `header`'s (already encoded) value in a plain event frame, fixing Content-Length."""
    head, _, body = frame.partition(b"\n\n")
    body = re.sub(
        rb"(?m)^" + re.escape(header.encode()) + rb": .*$",
        lambda _: header.encode() + b": " + encoded_value.encode(),
        body,
        count=1,
    )
    head = re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(body), head)
    return head + b"\n\n" + body


def plain_event(headers: dict[str, str], body: str = "") -> bytes:
    """A text/event-plain frame, values URL-encoded as FreeSWITCH does."""
    lines = "".join(f"{k}: {quote(v, safe='')}\n" for k, v in headers.items())
    raw_body = body.encode()
    if raw_body:
        inner = lines.encode() + b"Content-Length: %d\n\n" % len(raw_body) + raw_body
    else:
        inner = lines.encode() + b"\n"
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(body: str) -> bytes:
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw) + raw


def command_headers(command: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in command.split("\n")[1:] if ": " in line)


class Peer:
    """The FreeSWITCH end of one socket, driven step by step by a test."""

    def __init__(self, sock: gevent.socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def command(self, timeout: float = 2.0) -> str:
        """The next command our side sent (without its blank line)."""
        with gevent.Timeout(timeout):
            while b"\n\n" not in self._buf:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("our side closed the socket")
                self._buf += data
        text, _, self._buf = self._buf.partition(b"\n\n")
        return text.decode()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def at_eof(self, timeout: float = 2.0) -> bool:
        with gevent.Timeout(timeout):
            try:
                while data := self.sock.recv(65536):
                    self._buf += data
            except OSError:
                pass
        return True

    def close(self) -> None:
        self.sock.close()


class FakeSwitch:
    """A scripted inbound ESL server (FreeSWITCH's port 8021), replaying captured frames.

    `hold` lists api commands it never answers; `bgapi_results` maps a bgapi command to its
    BACKGROUND_JOB body; `reject` answers with a rude rejection. Every command it reads goes to
    the `commands` queue, so tests wait on what it received.
    """

    def __init__(self, password: str = "fsref-secret", port: int = 0) -> None:
        self.password = password
        self.port = port
        self.hold: set[str] = set()
        self.api_results: dict[str, str] = {}
        self.bgapi_results: dict[str, str] = {}
        self.reject = False
        self.commands: gevent.queue.Queue = gevent.queue.Queue()
        self.accepted = 0
        self._peers: set[Peer] = set()
        self._server: gevent.server.StreamServer | None = None

    def start(self) -> None:
        self._server = gevent.server.StreamServer(("127.0.0.1", self.port), self._serve)
        self._server.start()
        self.port = self._server.server_port

    def stop(self) -> None:
        """Close the listening socket and every connection (FreeSWITCH going away)."""
        if self._server is not None:
            self._server.close()
        self.drop_all()

    def drop_all(self) -> None:
        for peer in list(self._peers):
            peer.close()

    def broadcast(self, frame: bytes) -> None:
        for peer in list(self._peers):
            try:
                peer.send(frame)
            except OSError:
                pass

    def next_command(self, timeout: float = 3.0) -> str:
        return self.commands.get(timeout=timeout)

    def _serve(self, sock: gevent.socket.socket, _address: object) -> None:
        self.accepted += 1
        peer = Peer(sock)
        self._peers.add(peer)
        try:
            self._script(peer)
        except (EOFError, OSError, gevent.Timeout):
            pass
        finally:
            self._peers.discard(peer)
            peer.close()

    def _script(self, peer: Peer) -> None:
        if self.reject:
            for frame in server_frames("inbound-acl-rejected"):
                peer.send(frame)
            return
        peer.send(b"Content-Type: auth/request\n\n")
        auth = peer.command(timeout=60)
        self.commands.put(auth)
        if auth != f"auth {self.password}":
            for frame in server_frames("inbound-auth-bad")[1:]:
                peer.send(frame)
            return
        peer.send(reply("+OK accepted"))
        stuck = False  # FreeSWITCH answers one command after the other: a held api blocks all
        while True:
            command = peer.command(timeout=60)
            self.commands.put(command)
            verb, _, rest = command.partition(" ")
            stuck = stuck or (verb == "api" and rest in self.hold)
            if stuck:
                continue
            if verb == "event":
                peer.send(reply("+OK event listener enabled plain"))
            elif verb == "api":
                peer.send(api_response(self.api_results.get(rest, "+OK\n")))
            elif verb == "bgapi":
                cmd = rest.split("\n", 1)[0]
                job = command_headers(command)["Job-UUID"]
                peer.send(reply(f"+OK Job-UUID: {job}\nJob-UUID: {job}"))
                if cmd in self.bgapi_results:
                    peer.send(background_job(job, cmd, self.bgapi_results[cmd]))
            elif verb == "exit":
                peer.send(reply("+OK bye"))
                return


def background_job(job_uuid: str, command: str, body: str) -> bytes:
    return plain_event(
        {"Event-Name": "BACKGROUND_JOB", "Job-UUID": job_uuid, "Job-Command": command}, body
    )


def heartbeat() -> bytes:
    return find_frame("inbound-events-plain", "Event-Name: HEARTBEAT")
