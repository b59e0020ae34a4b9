"""Server side of the ESL wire format: frame writers and a command reader.

Independent of ``frontdesk.esl`` on purpose: the simulator plays FreeSWITCH.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from gevent import socket

Headers = Sequence[tuple[str, str]]

# switch_url_encode(): these characters, controls and non-ASCII bytes are %XX-encoded.
_UNSAFE = set(b'\r\n "#%&+:;<=>?@[\\]^`{|}')

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def url_encode(value: str) -> str:
    """Encode a header value the way FreeSWITCH does in plain events."""
    out = []
    for byte in value.encode():
        if byte in _UNSAFE or byte < 0x20 or byte > 0x7E:
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _block(headers: Iterable[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers)


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(reply_text: str, extra: Headers = ()) -> bytes:
    return (
        _block([("Content-Type", "command/reply"), ("Reply-Text", reply_text), *extra]).encode()
        + b"\n"
    )


def api_response(body: str) -> bytes:
    data = body.encode()
    head = _block([("Content-Type", "api/response"), ("Content-Length", str(len(data)))])
    return head.encode() + b"\n" + data


def disconnect_notice(extra: Headers = ()) -> bytes:
    """The final notice with its 67-byte goodbye body (exit, bad auth, end of linger)."""
    data = GOODBYE.encode()
    head = _block(
        [("Content-Type", "text/disconnect-notice"), *extra, ("Content-Length", str(len(data)))]
    )
    return head.encode() + b"\n" + data


def linger_notice(session_uuid: str, channel_name: str, linger: int) -> bytes:
    head = _block(
        [
            ("Content-Type", "text/disconnect-notice"),
            ("Controlled-Session-UUID", session_uuid),
            ("Content-Disposition", "linger"),
            ("Channel-Name", channel_name),
            ("Linger-Time", str(linger)),
            ("Content-Length", "0"),
        ]
    )
    return head.encode() + b"\n"


def connect_reply(headers: Headers) -> bytes:
    """The outbound ``connect`` reply: channel data as URL-encoded headers, no body."""
    block = _block((name, url_encode(value)) for name, value in headers)
    tail = _block(
        [
            ("Content-Type", "command/reply"),
            ("Reply-Text", "%2BOK%0A"),
            ("Socket-Mode", "async"),
            ("Control", "full"),
        ]
    )
    return (block + tail).encode() + b"\n"


def event_plain(headers: Headers, body: str | None = None) -> bytes:
    inner = _block((name, url_encode(value)) for name, value in headers).encode()
    if body is not None:
        data = body.encode()
        inner += f"Content-Length: {len(data)}\n\n".encode() + data
    else:
        inner += b"\n"
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


def event_json(headers: Headers, body: str | None = None) -> bytes:
    obj: dict[str, str] = {}
    for name, value in headers:
        obj.setdefault(name, value)
    if body is not None:
        obj["Content-Length"] = str(len(body.encode()))
        obj["_body"] = body
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return f"Content-Length: {len(data)}\nContent-Type: text/event-json\n\n".encode() + data


class Command:
    """One command block received from a client: first line, headers, optional body."""

    __slots__ = ("line", "headers", "body")

    def __init__(self, line: str, headers: dict[str, str], body: str) -> None:
        self.line = line
        self.headers = headers
        self.body = body

    @property
    def verb(self) -> str:
        return self.line.split(" ", 1)[0]

    @property
    def arg(self) -> str:
        parts = self.line.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


class CommandReader:
    """Reads command blocks (terminated by a blank line) from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def _fill(self) -> bool:
        try:
            chunk = self._sock.recv(65536)
        except OSError:
            return False
        if not chunk:
            return False
        self._buf += chunk.replace(b"\r\n", b"\n")
        return True

    def read(self) -> Command | None:
        """Next command, or None when the peer closed the connection."""
        while b"\n\n" not in self._buf:
            if not self._fill():
                return None
        head, self._buf = self._buf.split(b"\n\n", 1)
        lines = head.decode(errors="replace").split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        headers: dict[str, str] = {}
        for raw in lines[1:]:
            name, _, value = raw.partition(":")
            headers[name.strip()] = value.strip()
        body = b""
        length = int(headers.get("Content-Length", "0") or 0)
        while len(self._buf) < length:
            if not self._fill():
                return None
        if length:
            body, self._buf = self._buf[:length], self._buf[length:]
        return Command(lines[0].strip() if lines else "", headers, body.decode(errors="replace"))
