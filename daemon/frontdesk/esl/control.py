"""The inbound control connection: events for the whole switch, api and bgapi commands.

A supervisor greenlet keeps it up: connect, authenticate, subscribe, then watch it; when it
drops, or no HEARTBEAT came for `heartbeat_timeout` seconds, it reconnects with exponential
backoff and calls `on_connect` again so the daemon can resynchronise its view of the calls.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Callable, Iterable

import gevent
import gevent.event
import gevent.socket
import structlog

from frontdesk.clock import Clock, RealClock
from frontdesk.esl._link import Link, check_line
from frontdesk.esl.errors import AuthenticationFailed, CommandTimeout, ConnectionLost, ESLError
from frontdesk.esl.frame import JSON, PLAIN, Event

log = structlog.get_logger(__name__)

ALWAYS_SUBSCRIBED = ("BACKGROUND_JOB", "HEARTBEAT")
DEFAULT_JOB_TIMEOUT = 120.0
"""How long `bgapi` waits for its BACKGROUND_JOB when no timeout is given (an originate rings
for at most its own timeout, well under this)."""


def subscription(events: Iterable[str]) -> str:
    """The `event plain ...` command: BACKGROUND_JOB and HEARTBEAT always, CUSTOM subclasses
    (names with `::`) last, since every word after CUSTOM is read as a subclass."""
    names: list[str] = []
    subclasses: list[str] = []
    for name in [*events, *ALWAYS_SUBSCRIBED]:
        target = subclasses if "::" in name else names
        if name != "CUSTOM" and name not in target:
            target.append(name)
    if subclasses:
        names += ["CUSTOM", *subclasses]
    return "event plain " + " ".join(names)


class ControlConnection:
    """Supervised inbound ESL connection (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Iterable[str],
        heartbeat_timeout: float = 40.0,
        reply_timeout: float = 5.0,
        max_backoff: float = 30.0,
        on_event: Callable[[Event], None] | None = None,
        on_connect: Callable[[], None] | None = None,
        initial_backoff: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        """`clock` times the reconnection's backoff (what the daemon does when FreeSWITCH is
        gone); reply timeouts and the heartbeat watchdog guard the socket, in real time."""
        check_line(password, *events)
        self._address = (host, port)
        self._password = password
        self._subscription = subscription(events)
        self._heartbeat_timeout = heartbeat_timeout
        self._reply_timeout = reply_timeout
        self._max_backoff = max_backoff
        self._initial_backoff = min(initial_backoff, max_backoff)
        self._on_event = on_event
        self._on_connect = on_connect
        self._clock: Clock = clock or RealClock()
        self._log = log.bind(freeswitch=f"{host}:{port}")
        self._link: Link | None = None
        self._jobs: dict[str, gevent.event.AsyncResult[str]] = {}
        self._greeting: gevent.event.AsyncResult[Event] = gevent.event.AsyncResult()
        self._last_heartbeat = 0.0
        self._connected = gevent.event.Event()
        self._stopping = gevent.event.Event()
        self._supervisor: gevent.Greenlet | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._supervisor = gevent.spawn(self._supervise)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.kill()
            self._supervisor = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    # -- commands -----------------------------------------------------------------------

    def _live_link(self) -> Link:
        link = self._link
        if link is None or not self._connected.is_set():
            raise ConnectionLost("not connected to FreeSWITCH")
        return link

    def api(self, cmd: str, timeout: float | None = None) -> str:
        """Run `api <cmd>`; returns the response body. Blocks this connection's replies until
        it answers: use bgapi for anything slow."""
        check_line(cmd)
        reply = self._live_link().command(f"api {cmd}", timeout or self._reply_timeout)
        if reply.content_type != "api/response":
            raise ESLError(f"api {cmd.split(' ', 1)[0]}: {reply.get('Reply-Text')}")
        return reply.body

    def bgapi(self, cmd: str, timeout: float | None = None) -> str:
        """Run `bgapi <cmd>` with our own Job-UUID; returns the BACKGROUND_JOB body (waiting
        `timeout` s, or DEFAULT_JOB_TIMEOUT)."""
        check_line(cmd)
        link = self._live_link()
        job_uuid = str(uuidlib.uuid4())
        job: gevent.event.AsyncResult[str] = gevent.event.AsyncResult()
        self._jobs[job_uuid] = job
        try:
            reply = link.command(f"bgapi {cmd}\nJob-UUID: {job_uuid}", self._reply_timeout)
            answer = reply.get("Reply-Text") or ""
            if not answer.startswith("+OK"):
                raise ESLError(f"bgapi {cmd.split(' ', 1)[0]} refused: {answer}")
            wait = DEFAULT_JOB_TIMEOUT if timeout is None else timeout
            try:
                return job.get(timeout=wait)  # type: ignore[return-value]  # gevent stub: get() -> T | None
            except gevent.Timeout:
                raise CommandTimeout(f"no BACKGROUND_JOB {job_uuid} within {wait} s") from None
        finally:
            self._jobs.pop(job_uuid, None)

    # -- supervision --------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = self._initial_backoff
        try:
            while not self._stopping.is_set():
                try:
                    link = self._open()
                except AuthenticationFailed as error:
                    self._log.error("esl.control_refused", error=str(error), retry_in=backoff)
                except (OSError, ESLError) as error:
                    self._log.warning("esl.control_connect_failed", error=str(error),
                                      retry_in=backoff)
                else:
                    backoff = self._initial_backoff
                    self._watch(link)
                    if self._stopping.is_set():
                        break
                    self._log.warning("esl.control_lost", retry_in=backoff)
                if self._clock.wait(self._stopping, backoff):
                    break
                backoff = min(backoff * 2, self._max_backoff)
        finally:
            self._drop()

    def _open(self) -> Link:
        sock = gevent.socket.create_connection(self._address, timeout=self._reply_timeout)
        sock.settimeout(None)
        self._greeting = gevent.event.AsyncResult()
        link = Link(
            sock, on_frame=self._on_frame, on_close=self._drop, lost=ConnectionLost, log=self._log
        )
        self._link = link
        try:
            gevent.wait([self._greeting, link.closed], timeout=self._reply_timeout, count=1)
            greeting = self._greeting.get(block=False) if self._greeting.ready() else None
            if greeting is None:
                raise ConnectionLost("no auth/request from FreeSWITCH")
            if greeting.content_type != "auth/request":
                raise AuthenticationFailed(f"rejected: {greeting.body.strip()}")
            answer = link.command(f"auth {self._password}", self._reply_timeout)
            if not (answer.get("Reply-Text") or "").startswith("+OK"):
                raise AuthenticationFailed(f"auth refused: {answer.get('Reply-Text')}")
            answer = link.command(self._subscription, self._reply_timeout)
            if not (answer.get("Reply-Text") or "").startswith("+OK"):
                raise ESLError(f"subscription refused: {answer.get('Reply-Text')}")
        except BaseException:
            link.close()
            raise
        self._last_heartbeat = time.monotonic()
        self._connected.set()
        self._log.info("esl.control_connected")
        if self._on_connect is not None:
            gevent.spawn(self._call_on_connect, self._on_connect)
        return link

    def _call_on_connect(self, on_connect: Callable[[], None]) -> None:
        try:
            on_connect()
        except Exception:
            self._log.exception("esl.on_connect_failed")

    def _watch(self, link: Link) -> None:
        """Return when the link closed, or close it when the heartbeats stopped."""
        while not link.closed.is_set():
            remaining = self._last_heartbeat + self._heartbeat_timeout - time.monotonic()
            if remaining <= 0:
                self._log.warning("esl.heartbeat_missed", timeout=self._heartbeat_timeout)
                break
            link.closed.wait(remaining)
        link.close()

    def _drop(self) -> None:
        """The connection is gone: every pending command and job fails with ConnectionLost."""
        self._connected.clear()
        link, self._link = self._link, None
        if link is not None:
            link.close()
        while self._jobs:
            _, job = self._jobs.popitem()
            job.set_exception(ConnectionLost("connection to FreeSWITCH lost"))

    # -- reader side --------------------------------------------------------------------

    def _on_frame(self, event: Event) -> None:
        kind = event.content_type
        if kind == PLAIN or kind == JSON:
            name = event.name
            if name == "HEARTBEAT":
                self._last_heartbeat = time.monotonic()
            elif name == "BACKGROUND_JOB":
                job = self._jobs.pop(event.get("Job-UUID") or "", None)
                if job is not None:
                    job.set(event.body)
            if self._on_event is not None:
                try:
                    self._on_event(event)
                except Exception:
                    self._log.exception("esl.event_callback_failed", event_name=name)
        elif kind == "auth/request" or kind == "text/rude-rejection":
            self._greeting.set(event)
        elif kind == "text/disconnect-notice":
            self._log.info("esl.control_disconnect_notice")
