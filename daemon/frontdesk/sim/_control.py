"""Inbound ESL connections (mod_event_socket on port 8021): auth, events, api, bgapi."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent
import gevent.lock
import structlog
from gevent import socket

from . import _wire
from ._channel import SimEvent, new_uuid

if TYPE_CHECKING:
    from .core import Simulator

log = structlog.get_logger(__name__)

Deferred = Callable[[], object] | None


class EventSink:
    """A socket that receives ESL frames, with the subscription FreeSWITCH keeps for it."""

    def __init__(self, sim: Simulator, sock: socket.socket, kind: str) -> None:
        self.sim = sim
        self.sock = sock
        self.kind = kind
        self.format = "plain"
        self.all_events = False
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.closed = False
        self._lock = gevent.lock.BoundedSemaphore()

    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        with self._lock:
            try:
                self.sock.sendall(frame)
            except OSError:
                self.closed = True
                return
        self.sim.record_frame(self.kind, frame)

    def subscribe(self, arg: str) -> str:
        words = arg.split()
        fmt = words[0].lower() if words else "plain"
        if fmt not in ("plain", "json", "xml"):
            return "-ERR invalid format"
        self.format = fmt
        custom = False
        for word in words[1:]:
            if custom:
                self.subclasses.add(word)
            elif word == "CUSTOM":
                custom = True
            elif word == "ALL":
                self.all_events = True
            else:
                self.names.add(word)
        return f"+OK event listener enabled {fmt}"

    def wants(self, event: SimEvent) -> bool:
        if self.all_events:
            return True
        if event.name == "CUSTOM":
            return event.subclass in self.subclasses
        return event.name in self.names

    def render(self, event: SimEvent) -> bytes:
        if self.format == "json":
            return _wire.event_json(event.headers, event.body)
        return _wire.event_plain(event.headers, event.body)

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class ControlConnection(EventSink):
    """One inbound connection, served in its own greenlet."""

    def __init__(self, sim: Simulator, sock: socket.socket) -> None:
        super().__init__(sim, sock, "inbound")
        self.authed = False

    def deliver(self, event: SimEvent) -> None:
        if self.authed and self.wants(event):
            self.send(self.render(event))

    def serve(self) -> None:
        reader = _wire.CommandReader(self.sock)
        self.send(_wire.auth_request())
        try:
            while not self.closed:
                cmd = reader.read()
                if cmd is None:
                    break
                if cmd.line and not self._handle(cmd):
                    break
        finally:
            self.close()
            self.sim.forget_control(self)

    def _bye(self, reply: str) -> None:
        self.send(_wire.command_reply(reply))
        self.send(_wire.disconnect_notice())

    def _handle(self, cmd: _wire.Command) -> bool:
        verb = cmd.verb
        if not self.authed:
            if verb == "auth" and cmd.arg == self.sim.password:
                self.authed = True
                self.send(_wire.command_reply("+OK accepted"))
                return True
            if verb == "auth":
                log.info("sim.auth_rejected")
                self._bye("-ERR invalid")
                return False
            self.send(_wire.command_reply("-ERR invalid"))
            return True
        if verb == "exit":
            self._bye("+OK bye")
            return False
        if verb == "event":
            self.send(_wire.command_reply(self.subscribe(cmd.arg)))
        elif verb == "noevents":
            self.names.clear()
            self.subclasses.clear()
            self.all_events = False
            self.send(_wire.command_reply("+OK no longer listening for events"))
        elif verb == "api":
            text, after = self.sim.api(cmd.arg)
            self.send(_wire.api_response(text))
            if after is not None:
                after()
        elif verb == "bgapi":
            job = cmd.headers.get("Job-UUID") or new_uuid()
            self.send(_wire.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
            gevent.spawn(self.sim.background_job, job, cmd.arg)
        else:
            self.send(_wire.command_reply("-ERR command not found"))
        return True
