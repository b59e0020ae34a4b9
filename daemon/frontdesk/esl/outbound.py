"""Outbound-socket mode: FreeSWITCH connects to us once per call (`socket ... async full`).

Anything on the box can connect to the listening port, so a connection is a call only once its
`connect` reply showed the secret channel variable the shipped dialplan sets before `socket`
(`socket_token`) and a Unique-ID no call in progress has. Until then it may hold at most
`UNAUTHENTICATED_LIMIT` bytes and `connect_timeout` seconds.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import uuid as uuidlib
from collections.abc import Callable

import gevent
import gevent.event
import gevent.server
import gevent.socket
import structlog

from frontdesk.esl import commands
from frontdesk.esl._link import Link, check_line
from frontdesk.esl.errors import ApplicationTimeout, CallGone, ESLError
from frontdesk.esl.frame import JSON, PLAIN, Event
from frontdesk.logs import Throttle

log = structlog.get_logger(__name__)

HANGUP_EVENTS = frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})
TOKEN_VARIABLE = "frontdesk_token"
"""Channel variable the shipped dialplan sets before `socket` (freeswitch-conf, fsconf)."""
_TOKEN_LABEL = b"frontdesk outbound socket token v1"
UNAUTHENTICATED_LIMIT = 64 * 1024
"""Bytes a connection may send before its connect reply was accepted (a real one is ~6 KB)."""
CONNECT_TIMEOUT = 10.0
"""Seconds a connection has to give its connect reply."""
DEFAULT_MAX_CALLS = 300
REFUSAL_LOG_INTERVAL = 60.0
NO_INVALID_FILE = "silence_stream://250"
"""What `read_digits` gives play_and_get_digits as its invalid file."""


def socket_token(esl_password: str) -> str:
    """The secret of `TOKEN_VARIABLE`: HMAC-SHA256 of a fixed label keyed with the event socket
    password, so FreeSWITCH and the daemon share it with nothing new to distribute, and it
    does not give the password away."""
    return hmac.new(esl_password.encode(), _TOKEN_LABEL, hashlib.sha256).hexdigest()


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
        untrusted_limit: int | None = None,
        application_timeout: float | None = None,
    ) -> None:
        """`untrusted_limit`: see `_link.Link`; `trust()` once the connect reply is accepted."""
        self._reply_timeout = reply_timeout
        self._hangup_grace = hangup_grace
        self.application_timeout = application_timeout
        """Real seconds any application may take to complete beyond its own known duration
        (None: no limit); see `limit`."""
        self._log = log
        self._data: Event | None = None
        self._executing: dict[str, gevent.event.AsyncResult[Event]] = {}
        self._callbacks: list[Callable[[Event], None]] = []
        self._events_on = False
        self._grace: gevent.Greenlet | None = None
        self.hungup = gevent.event.Event()
        """Set when the channel hung up or the socket closed."""
        self.hangup_cause: str | None = None
        self._link = Link(
            sock,
            on_frame=self._on_frame,
            on_close=self._on_close,
            lost=CallGone,
            log=log,
            untrusted_limit=untrusted_limit,
        )

    # -- channel data -------------------------------------------------------------------

    def connect(self, timeout: float | None = None) -> Event:
        """Send `connect`; returns the channel data (idempotent). `timeout`: default the
        reply timeout."""
        if self._data is None:
            wait = self._reply_timeout if timeout is None else timeout
            self._data = self._link.command("connect", wait)
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

    def variable(self, name: str) -> str | None:
        """A channel variable of the channel data (``variable_<name>``), None when unset."""
        return self._data.variable(name) if self._data is not None else None

    def has_token(self, token: str) -> bool:
        """Whether the channel data carries `token` in `TOKEN_VARIABLE` (constant time)."""
        given = self._data.variable(TOKEN_VARIABLE) if self._data is not None else None
        return hmac.compare_digest((given or "").encode(), token.encode())

    def trust(self) -> None:
        """The connection is FreeSWITCH's: lift the limits of an unauthenticated one."""
        self._link.trust()

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
        done: gevent.event.AsyncResult[Event] = gevent.event.AsyncResult()
        self._executing[event_uuid] = done
        try:
            self._sendmsg(app, arg, event_uuid)
            try:
                return done.get(timeout=timeout)  # type: ignore[return-value]  # gevent stub: get() -> T | None
            except gevent.Timeout:
                raise ApplicationTimeout(f"{app} did not complete within {timeout} s") from None
        finally:
            self._executing.pop(event_uuid, None)

    def read_digits(
        self,
        prompt: str,
        *,
        variable: str,
        regex: str,
        timeout_ms: int,
        min_digits: int = 1,
        max_digits: int = 1,
        inter_digit_ms: int | None = None,
    ) -> tuple[str | None, str]:
        """One try of `play_and_get_digits`: (digits, "key"), or (None, "invalid" | "timeout").

        FreeSWITCH plays the invalid file after a timeout too (esl-captures), so it gets only
        a short silence here: the caller decides what to say after each outcome. The digits
        come from `variable` (use a fresh name each time), never from ``read_result``."""
        done = self.execute(
            "play_and_get_digits",
            commands.play_and_get_digits(
                prompt,
                NO_INVALID_FILE,
                variable=variable,
                regex=regex,
                timeout_ms=timeout_ms,
                min_digits=min_digits,
                max_digits=max_digits,
                inter_digit_ms=inter_digit_ms or timeout_ms,
            ),
            timeout=self.limit((timeout_ms + max_digits * (inter_digit_ms or timeout_ms)) / 1000),
        )
        digits = done.variable(variable)
        if digits:
            return digits, "key"
        return None, "invalid" if done.variable(f"{variable}_invalid") else "timeout"

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
            if self._link.trusted:  # a refused connection is reported once by the server
                self._log.info("esl.call_socket_closed")
        if self._grace is not None:
            self._grace.kill(block=False)
        self._fail_executing()


class OutboundServer:
    """The TCP server FreeSWITCH's `socket` application connects to; one greenlet per call runs
    `handler(session)`. A failing handler is logged; the server keeps serving.

    A connection reaches the handler only once its connect reply came within `connect_timeout`
    and `UNAUTHENTICATED_LIMIT` bytes, carries `token` (when given) and a Unique-ID that no
    other connection has; otherwise it is closed (FreeSWITCH's dialplan fallback takes a real
    caller) and a warning is logged, at most once a minute.
    """

    def __init__(
        self,
        host: str,
        port: int,
        handler: Callable[[CallSession], None],
        *,
        max_calls: int = DEFAULT_MAX_CALLS,
        reply_timeout: float = 5.0,
        allowed_peers: frozenset[str] | None = None,
        token: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        application_timeout: float | None = None,
    ) -> None:
        """`allowed_peers`: the only IP addresses a connection is accepted from (None: any).
        An outbound socket cannot authenticate FreeSWITCH by itself, so a listener that is not
        on loopback must only take connections from FreeSWITCH's host. `token`: the value of
        `TOKEN_VARIABLE` a connection must show (`socket_token`); None checks nothing."""
        self._address = (host, port)
        self._allowed_peers = allowed_peers
        self._handler = handler
        self._max_calls = max_calls
        self._reply_timeout = reply_timeout
        self._token = token
        self._connect_timeout = connect_timeout
        self._application_timeout = application_timeout
        self._sessions: set[CallSession] = set()
        self._server: gevent.server.StreamServer | None = None
        self._refusals = Throttle(REFUSAL_LOG_INTERVAL)

    def start(self) -> None:
        """Listen (port 0: an ephemeral port, see `port`)."""
        self._server = gevent.server.StreamServer(self._address, self._handle)
        self._server.start()
        log.info("esl.outbound_listening", host=self._address[0], port=self.port)

    @property
    def port(self) -> int:
        port = None if self._server is None else self._server.server_port
        if port is None:
            raise RuntimeError("server not started")
        return port

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
            self._log_refusal("a peer that is not FreeSWITCH's host", peer)
            sock.close()
            return
        if len(self._sessions) >= self._max_calls:
            # Closing at once makes FreeSWITCH's dialplan fall back: no caller is left in silence.
            self._log_refusal(f"max_calls ({self._max_calls}) reached", peer)
            sock.close()
            return
        session = CallSession(
            sock,
            reply_timeout=self._reply_timeout,
            untrusted_limit=UNAUTHENTICATED_LIMIT,
            application_timeout=self._application_timeout,
        )
        self._sessions.add(session)
        try:
            refused = self._refusal(session)
            if refused is not None:
                self._log_refusal(refused, peer)
                return
            session.trust()
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

    def _refusal(self, session: CallSession) -> str | None:
        """Why this connection is not a call FreeSWITCH handed over, or None."""
        try:
            session.connect(self._connect_timeout)
        except ESLError as error:
            return f"no connect reply: {error}"
        if self._token is not None and not session.has_token(self._token):
            return f"no valid {TOKEN_VARIABLE}"
        if not session.uuid:
            return "no Unique-ID"
        if any(other.uuid == session.uuid for other in self._sessions if other is not session):
            return "the Unique-ID of a call in progress"
        return None

    def _log_refusal(self, reason: str, peer: str) -> None:
        """One warning a minute, whatever the reason: a flood of connections is no flood of
        log lines."""
        skipped = self._refusals.due()
        if skipped is not None:
            log.warning("esl.connection_refused", reason=reason, peer=peer, not_logged=skipped)
