"""Outbound-socket mode: FreeSWITCH connects to us once per call (`socket ... async full`)."""

from __future__ import annotations

import enum
import uuid as uuidlib
from collections.abc import Callable

import gevent
import gevent.event
import gevent.server
import gevent.socket
import structlog

from frontdesk.esl._link import Link, check_line
from frontdesk.esl.errors import ApplicationTimeout, CallGone, ESLError
from frontdesk.esl.frame import JSON, PLAIN, Event

log = structlog.get_logger(__name__)

HANGUP_EVENTS = frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})


class Default(enum.Enum):
    LIMIT = "the session's application time limit"


class CallSession:
    """One outbound-socket connection, that is one call.

    `execute()` sends `sendmsg` with our own `Event-UUID` and waits for the
    CHANNEL_EXECUTE_COMPLETE whose `Application-UUID` echoes it: two runs of the same application
    (or a `uuid_broadcast` playback FreeSWITCH starts by itself) can never be confused.
    """

    def __init__(
        self,
        sock: gevent.socket.socket,
        *,
        reply_timeout: float = 5.0,
        hangup_grace: float = 2.0,
        application_timeout: float | None = None,
    ) -> None:
        self._reply_timeout = reply_timeout
        self._hangup_grace = hangup_grace
        self.application_timeout = application_timeout
        """Real seconds any application may take to complete beyond its own known duration
        (None: no limit); see `limit`."""
        self._log = log
        self._data: Event | None = None
        self._executing: dict[str, gevent.event.AsyncResult] = {}
        self._callbacks: list[Callable[[Event], None]] = []
        self._events_on = False
        self._grace: gevent.Greenlet | None = None
        self.hungup = gevent.event.Event()
        """Set when the channel hung up or the socket closed."""
        self.hangup_cause: str | None = None
        self._link = Link(
            sock, on_frame=self._on_frame, on_close=self._on_close, lost=CallGone, log=log
        )

    # -- channel data -------------------------------------------------------------------

    def connect(self) -> Event:
        """Send `connect`; returns the channel data (idempotent)."""
        if self._data is None:
            self._data = self._link.command("connect", self._reply_timeout)
            self._log = log.bind(call_uuid=self.uuid)
            self._log.debug("esl.call_connected", destination=self.destination)
        return self._data

    def _value(self, header: str) -> str:
        return (self._data.get(header) or "") if self._data is not None else ""

    @property
    def uuid(self) -> str:
        return self._value("Unique-ID")

    @property
    def caller_number(self) -> str:
        return self._value("Caller-Caller-ID-Number")

    @property
    def caller_name(self) -> str:
        return self._value("Caller-Caller-ID-Name")

    @property
    def destination(self) -> str:
        return self._value("Caller-Destination-Number")

    # -- commands -----------------------------------------------------------------------

    def _command(self, text: str) -> Event:
        reply = self._link.command(text, self._reply_timeout)
        answer = reply.get("Reply-Text") or ""
        if not answer.startswith("+OK"):
            if self.hungup.is_set():
                raise CallGone(answer)
            raise ESLError(f"{text.split(chr(10), 1)[0]!r} refused: {answer}")
        return reply

    def myevents(self) -> None:
        """Subscribe to this channel's events (plain)."""
        self._command("myevents")
        self._events_on = True

    def linger(self, seconds: int | None = None) -> None:
        """Keep the socket open `seconds` after hangup (None: until we close it)."""
        self._command("linger" if seconds is None else f"linger {int(seconds)}")

    def _sendmsg(self, app: str, arg: str, event_uuid: str | None = None) -> None:
        check_line(app, arg)
        if self.hungup.is_set():
            raise CallGone(f"cannot run {app}: the call is over")
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
        if arg:
            lines.append(f"execute-app-arg: {arg}")
        if event_uuid:
            lines.append(f"Event-UUID: {event_uuid}")
        self._command("\n".join(lines))

    def limit(self, known_seconds: float = 0.0) -> float | None:
        """The time limit of an application known to last `known_seconds` (a record's
        maximum, a menu's timeout): that plus `application_timeout`."""
        margin = self.application_timeout
        return None if margin is None else known_seconds + margin

    def execute(
        self, app: str, arg: str = "", *, timeout: float | None | Default = Default.LIMIT
    ) -> Event:
        """Run a dialplan application; returns its CHANNEL_EXECUTE_COMPLETE.

        The command reply is bounded by reply_timeout; the completion by `timeout` (by default
        `limit()`; None: no limit, for a bridge: the conversation lasts what it lasts) with
        `ApplicationTimeout`, and always by the call: CallGone when the socket ends, or
        `hangup_grace` seconds after the hangup (long enough for a `record` to report its
        partial result).
        """
        if timeout is Default.LIMIT:
            timeout = self.limit()
        event_uuid = str(uuidlib.uuid4())
        done = gevent.event.AsyncResult()
        self._executing[event_uuid] = done
        try:
            self._sendmsg(app, arg, event_uuid)
            try:
                return done.get(timeout=timeout)
            except gevent.Timeout:
                raise ApplicationTimeout(f"{app} did not complete within {timeout} s") from None
        finally:
            self._executing.pop(event_uuid, None)

    def set(self, var: str, value: str) -> None:
        """Set a channel variable (waits for the command reply only)."""
        self._sendmsg("set", f"{var}={value}")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the call up; a call that is already over is left alone."""
        if self.hungup.is_set() or self._link.closed.is_set():
            return
        try:
            self._sendmsg("hangup", cause)
        except CallGone:
            return
        if self._events_on:  # learn the hangup cause before returning, when we can
            self.hungup.wait(self._reply_timeout)

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """Call `callback(event)` for every event of the channel, from the reader greenlet:
        it must not block."""
        self._callbacks.append(callback)

    def close(self) -> None:
        self._link.close()

    # -- reader side --------------------------------------------------------------------

    def _on_frame(self, event: Event) -> None:
        kind = event.content_type
        if kind == PLAIN or kind == JSON:
            name = event.name
            if name == "CHANNEL_EXECUTE_COMPLETE":
                done = self._executing.pop(event.get("Application-UUID") or "", None)
                if done is not None:
                    done.set(event)
            elif name in HANGUP_EVENTS and (not self.uuid or event.uuid == self.uuid):
                self._hungup(event.get("Hangup-Cause"))
            for callback in self._callbacks:
                try:
                    callback(event)
                except Exception:
                    self._log.exception("esl.event_callback_failed", event_name=name)
        elif kind == "text/disconnect-notice":
            self._log.debug("esl.disconnect_notice", disposition=event.get("Content-Disposition"))
            self._hungup(None)

    def _hungup(self, cause: str | None) -> None:
        if cause and self.hangup_cause is None:
            self.hangup_cause = cause
        if not self.hungup.is_set():
            self.hungup.set()
            self._log.info("esl.call_hungup", cause=self.hangup_cause)
            self._grace = gevent.spawn_later(self._hangup_grace, self._fail_executing)

    def _fail_executing(self) -> None:
        while self._executing:
            _, done = self._executing.popitem()
            done.set_exception(CallGone("the call ended before the application completed"))

    def _on_close(self) -> None:
        if not self.hungup.is_set():
            self.hungup.set()
            self._log.info("esl.call_socket_closed")
        if self._grace is not None:
            self._grace.kill(block=False)
        self._fail_executing()


class OutboundServer:
    """The TCP server FreeSWITCH's `socket` application connects to; one greenlet per call runs
    `handler(session)`. A failing handler is logged; the server keeps serving."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: Callable[[CallSession], None],
        *,
        max_calls: int = 1000,
        reply_timeout: float = 5.0,
        allowed_peers: frozenset[str] | None = None,
        application_timeout: float | None = None,
    ) -> None:
        """`allowed_peers`: the only IP addresses a connection is accepted from (None: any).
        An outbound socket cannot authenticate FreeSWITCH, so a listener that is not on
        loopback must only take connections from FreeSWITCH's host."""
        self._address = (host, port)
        self._allowed_peers = allowed_peers
        self._handler = handler
        self._max_calls = max_calls
        self._reply_timeout = reply_timeout
        self._application_timeout = application_timeout
        self._sessions: set[CallSession] = set()
        self._server: gevent.server.StreamServer | None = None

    def start(self) -> None:
        """Listen (port 0: an ephemeral port, see `port`)."""
        self._server = gevent.server.StreamServer(self._address, self._handle)
        self._server.start()
        log.info("esl.outbound_listening", host=self._address[0], port=self.port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server.server_port

    @property
    def listening(self) -> bool:
        """True while the server accepts connections."""
        return self._server is not None and self._server.started and not self._server.closed

    def stop(self) -> None:
        """Stop accepting calls; the calls in progress go on (their owner ends them)."""
        if self._server is not None:
            self._server.close()

    def _handle(self, sock: gevent.socket.socket, address: tuple[str, int]) -> None:
        peer = address[0].removeprefix("::ffff:")  # IPv4 peer of a dual-stack listener
        if self._allowed_peers is not None and peer not in self._allowed_peers:
            log.warning("esl.peer_refused", peer=peer)
            sock.close()
            return
        if len(self._sessions) >= self._max_calls:
            # Closing at once makes FreeSWITCH's dialplan fall back: no caller is left in silence.
            log.warning("esl.call_refused", reason="max_calls", max_calls=self._max_calls)
            sock.close()
            return
        session = CallSession(
            sock, reply_timeout=self._reply_timeout, application_timeout=self._application_timeout
        )
        self._sessions.add(session)
        try:
            self._handler(session)
        except CallGone as error:
            log.info("esl.call_gone_in_handler", call_uuid=session.uuid, error=str(error))
        except ESLError as error:
            log.warning("esl.call_handler_esl_error", call_uuid=session.uuid, error=str(error))
        except Exception:
            log.exception("esl.call_handler_failed", call_uuid=session.uuid)
        finally:
            self._sessions.discard(session)
            session.close()
