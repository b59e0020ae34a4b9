"""The daemon's local status and control endpoint: a Unix socket in the state directory.

Why a Unix socket and not HTTP on 127.0.0.1: loopback TCP is open to every process of every
user on the box, and a browser on it can be made to send requests there (a web page posting
to 127.0.0.1, DNS rebinding): "log every receptionist out" must not be one click away. A
socket file is protected by the file system: ``frontdesk.sock`` next to the database, mode 0660,
group ``frontdesk`` (the daemon's group under systemd), so only root, the daemon's user and
the members of that group (the receptionists' accounts, `sudo frontdesk status`) can connect.
The peer's credentials (SO_PEERCRED) are checked again on each connection, so a socket made
wider by mistake still refuses other users. No TCP port is opened; nothing outside the box
can reach it (docs/internals.md: nothing listens beyond loopback unless configured, and then with
authentication — the dashboard will be that, in front of this).

Protocol: one request a line, words separated by spaces; one JSON object a line in reply,
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Requests:

- ``status`` -> ``{"status": {...}}`` (see `status`): the live state from the daemon's memory
  (queue, staff phones, calls in progress); the manual override is read from the store,
  where `frontdesk override` and the *60 code keep it;
- ``staff login EXT`` / ``staff logout EXT``: as the *50 / *51 feature codes
  (`Daemon.set_staff_login`).

The server reads and acts on the running daemon through `Reception`, what it uses of it.
"""

from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import socket
import struct
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import gevent
import gevent.pool
import gevent.socket
import structlog

from frontdesk.clock import Clock
from frontdesk.config.model import Config
from frontdesk.logs import Throttle, mask_number

if TYPE_CHECKING:  # the `frontdesk` commands import this module: only what they use
    from frontdesk.daemon import LiveCall
    from frontdesk.queue import CallQueue
    from frontdesk.schedule import Schedule
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

SOCKET_NAME = "frontdesk.sock"
GROUP = "frontdesk"
MODE = 0o660
MAX_LINE = 4096
CLIENT_TIMEOUT = 5.0
"""Seconds a client may take to send a request, and to read its reply: one that never does is
dropped, so it holds its place among MAX_CLIENTS no longer."""
MAX_CLIENTS = 64
BACKLOG = 128
"""Connections waiting for a place among MAX_CLIENTS (50 `frontdesk status` at once all wait
their turn instead of being closed)."""
OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
GONE_BEFORE_ACCEPT = frozenset({errno.ECONNABORTED, errno.EINTR, errno.EPROTO, errno.EAGAIN})
ACCEPT_BACKOFF = (0.05, 1.0)
"""First and longest pause after accept() failed for want of descriptors or memory."""


class RequestError(Exception):
    """A request the endpoint refuses; its message is sent back to the client."""


class Reception(Protocol):
    """What the control socket reads and does on the running daemon."""

    config: Config
    schedule: Schedule
    store: Store
    queue: CallQueue
    clock: Clock

    @property
    def live_calls(self) -> Mapping[str, LiveCall]: ...

    @property
    def freeswitch_connected(self) -> bool: ...

    def set_staff_login(self, extension: str, login: bool, *, by: str) -> None: ...


def socket_path(config: Config) -> Path:
    """The endpoint of the daemon running `config`: in its state directory."""
    return config.storage.database.parent / SOCKET_NAME


class ControlSocketServer:
    """Serves the protocol above on `path` for `reception`."""

    def __init__(self, path: Path, reception: Reception) -> None:
        self.path = path
        self.reception = reception
        self._sock: gevent.socket.socket | None = None
        self._accepter: gevent.Greenlet | None = None
        self._clients = gevent.pool.Pool(MAX_CLIENTS)
        self._accept_errors = Throttle(60.0)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()  # left by a daemon that did not stop cleanly
        sock = gevent.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))  # created 0755 at most under the umask: nobody can connect
        try:
            os.chown(self.path, -1, grp.getgrnam(GROUP).gr_gid)
        except (KeyError, PermissionError):
            pass  # a development box without the group: the daemon's own group
        os.chmod(self.path, MODE)
        sock.listen(BACKLOG)
        self._sock = sock
        self._accepter = gevent.spawn(self._accept_forever)
        log.info("control.listening", socket=str(self.path))

    def stop(self) -> None:
        if self._accepter is not None:
            self._accepter.kill()
        self._clients.kill(block=False)
        if self._sock is not None:
            self._sock.close()
            self.path.unlink(missing_ok=True)

    @property
    def started(self) -> bool:
        """`start()` succeeded (the socket was made): the watchdog looks at it from then."""
        return self._accepter is not None

    @property
    def serving(self) -> bool:
        """False once the accept loop ended: stopped, or its socket broken (the watchdog
        looks)."""
        return self._accepter is not None and not self._accepter.dead

    def _accept_forever(self) -> None:
        assert self._sock is not None
        pause = ACCEPT_BACKOFF[0]
        while True:
            self._clients.wait_available()  # the others wait in the backlog meanwhile
            try:
                conn, _ = self._sock.accept()
            except OSError as error:
                if error.errno in GONE_BEFORE_ACCEPT:
                    continue
                if error.errno not in OUT_OF_FILES:
                    log.error("control.accept_loop_ended", error=str(error))
                    return  # the socket itself is broken: the watchdog sees `serving` False
                skipped = self._accept_errors.due()
                if skipped is not None:
                    log.error("control.accept_failed", error=str(error), not_logged=skipped)
                gevent.sleep(pause)
                pause = min(pause * 2, ACCEPT_BACKOFF[1])
                continue
            pause = ACCEPT_BACKOFF[0]
            self._clients.spawn(self._serve, conn)

    def _serve(self, conn: gevent.socket.socket) -> None:
        with conn:
            try:
                self._converse(conn)
            except (gevent.Timeout, OSError):
                return  # too slow to send or to read, or gone: its place goes to another

    def _converse(self, conn: gevent.socket.socket) -> None:
        uid = self._peer_allowed(conn)
        if uid is not None:
            log.warning("control.refused", uid=uid)
            _send(conn, _reply({"ok": False, "error": "permission denied"}))
            return
        reader = conn.makefile("rb")
        while True:
            with gevent.Timeout(CLIENT_TIMEOUT):
                line = reader.readline(MAX_LINE + 1)
            if not line:
                return
            if len(line) > MAX_LINE:
                _send(conn, _reply({"ok": False, "error": "request too long"}))
                return
            _send(conn, _reply(self.handle(line.decode("utf-8", "replace"))))

    def _peer_allowed(self, conn: gevent.socket.socket) -> int | None:
        """None when the peer may use the endpoint; otherwise its uid. Allowed: root, the
        daemon's user, and the socket's group (primary or supplementary)."""
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, gid = struct.unpack("3i", creds)
        group = self.path.stat().st_gid
        if uid in (0, os.getuid()) or gid == group:
            return None
        try:
            members = grp.getgrgid(group).gr_mem
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            return uid
        return None if name in members else uid

    def handle(self, line: str) -> dict[str, Any]:
        """One request line -> its reply."""
        words = line.split()
        try:
            match words:
                case ["status"]:
                    return {"ok": True, "status": status(self.reception)}
                case ["staff", ("login" | "logout") as action, ext]:
                    return {"ok": True, "staff": self._staff(ext, action == "login")}
                case _:
                    raise RequestError(f"unknown request {' '.join(words)[:80]!r}")
        except RequestError as error:
            return {"ok": False, "error": str(error)}
        except Exception:
            log.exception("control.request_failed", request=words[:1])
            return {"ok": False, "error": "internal error (see the daemon's log)"}

    def _staff(self, ext: str, login: bool) -> dict[str, Any]:
        if ext not in self.reception.queue.board.phones:
            raise RequestError(f"{ext} is not a staff phone of the queue")
        self.reception.set_staff_login(ext, login, by="cli")
        return _staff_row(self.reception, ext)


def status(
    reception: Reception, *, full_numbers: bool = False, estimates: bool = True
) -> dict[str, Any]:
    """What `frontdesk status` shows, from the daemon's memory (and the override's row).
    Callers' numbers are masked unless `full_numbers` (the console's logged-in staff, who call
    them back); each caller's remaining wait is estimated unless not `estimates` (the console,
    which reads the status several times a second in a surge, shows the wait announced)."""
    now = reception.clock.wall()
    number = (lambda digits: digits) if full_numbers else mask_number
    try:
        override = reception.store.get_override(now=now)
    except Exception:  # a failing database: the rest of the status is still worth having
        log.exception("control.override_unreadable")
        override = None
    state = reception.schedule.state_at(now, override)
    queue = reception.queue
    qnow = queue.now()
    waiting = []
    calls = reception.live_calls
    positions = queue.positions()
    for entry in list(queue.waiting.values()):
        position = positions.get(entry.uuid, 0)
        figure = queue.estimate(entry)["frontdesk"] if position and estimates else None
        waited = entry.wait(qnow)
        waiting.append(
            {
                "position": position or None,
                "call": entry.uuid,
                "caller": number(entry.caller_number),
                "emergency": entry.emergency,
                "state": entry.state,
                "callback": None if entry.callback is None
                else "missed" if entry.callback.missed else "requested",
                "waited": round(waited, 1),
                "since": (now - timedelta(seconds=waited)).isoformat(),
                "estimate": _seconds(figure),
                "announced": _seconds(entry.announced_wait),
                **_why(calls.get(entry.uuid)),
            }
        )
    waiting.sort(key=lambda row: (row["position"] is None, row["position"] or 0))
    return {
        "at": now.isoformat(),
        "config_version": reception.config.version,
        "freeswitch_connected": reception.freeswitch_connected,
        "recording": asdict(reception.store.health()),
        "practice": {
            "state": state.state,
            "detail": state.detail,
            "override": None
            if override is None
            else {
                "mode": override.mode,
                "until": override.until.isoformat() if override.until else None,
                "set_by": override.set_by,
            },
        },
        "queue": asdict(queue.feed.last) if queue.feed.last is not None else None,
        "waiting": waiting,
        "staff": [_staff_row(reception, ext) for ext in queue.board.phones],
        "calls": [
            {
                "call": call.uuid,
                "caller": number(call.caller_number),
                "started_at": call.started_at.isoformat(),
                "node": call.flow.result.path[-1].node if call.flow.result.path else None,
                **_why(call),
            }
            for call in list(calls.values())
        ],
    }


def _seconds(figure: float | None) -> int | None:
    """A wait estimate in whole seconds; None when there is none (or it is endless)."""
    return round(figure) if figure is not None and figure < 1e9 else None


def _why(call: LiveCall | None) -> dict[str, Any]:
    """Why the caller called: the contact reason the flow recorded so far and the menu nodes
    they went through (in order, each once in a row)."""
    if call is None:
        return {"reason": None, "path": []}
    result = call.flow.result
    nodes = [step.node for step in result.path]
    path = [node for i, node in enumerate(nodes) if i == 0 or nodes[i - 1] != node]
    return {"reason": result.reason, "path": path}


def _staff_row(reception: Reception, ext: str) -> dict[str, Any]:
    board = reception.queue.board
    phone = board.phones[ext]
    held = max(board.now() - phone.since, 0.0)
    since: datetime = reception.clock.wall() - timedelta(seconds=held)
    return {
        "extension": ext,
        "state": phone.state,
        "since": since.isoformat(),
        "for": round(held, 1),
        "registered": phone.registered,
        "logged_in": phone.logged_in,
    }


def _reply(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n"


def _send(conn: gevent.socket.socket, data: bytes) -> None:
    """The whole reply, within CLIENT_TIMEOUT (gevent.Timeout otherwise)."""
    with gevent.Timeout(CLIENT_TIMEOUT):
        conn.sendall(data)


def request(path: Path, line: str, timeout: float = 10.0) -> dict[str, Any]:
    """The client side (the `frontdesk` command): one request, its reply. Raises OSError
    (FileNotFoundError / ConnectionRefusedError: no daemon; PermissionError)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        try:
            sock.sendall(line.encode("utf-8") + b"\n")
        except BrokenPipeError:
            pass  # refused before reading the request: the reply says why
        reply = sock.makefile("rb").readline(16 * 1024 * 1024)
    if not reply:
        raise ConnectionResetError("the daemon closed the connection")
    return json.loads(reply)
