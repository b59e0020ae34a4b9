"""What systemd knows about the running daemon (``Type=notify``, ``WatchdogSec=``).

`Supervisor.start()` sends READY=1 (the daemon's servers listen by then) and runs one greenlet
that sends a STATUS= line whenever the calls in progress, the FreeSWITCH connection or the
config version change, and WATCHDOG=1 every half watchdog period, but only while the daemon's
own health check passes:
- the gevent hub is responsive: this greenlet woke up on time (a hub blocked by a runaway
  call would stop the pings anyway; a late wake-up means it just was);
- the outbound server FreeSWITCH hands calls to is listening;
- the local control socket (`frontdesk status`, `frontdesk staff`), when it started, still
  accepts connections;
- the database is open and answers (a store worker that never answers holds this greenlet, and
  the pings stop with it).
When the check fails the reason is logged and the pings stop: systemd restarts the daemon after
``WatchdogSec`` (FreeSWITCH's dialplan fallback takes the callers meanwhile), so a short hiccup
shorter than the period costs nothing.

A database that cannot record calls (its last write failed: a full or failing SD card; or
it cannot take a write lock: a technician's ``sqlite3`` shell left in a write transaction; or
it could not be opened) is logged as an error and shown in STATUS ("calls NOT recorded: why"),
but the pings go on: calls are served, their records kept in memory by the store until it can
write them, and a restart would cut every call in progress without repairing anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import gevent
import structlog

from frontdesk.sdnotify import notify, notify_address, watchdog_seconds
from frontdesk.store import StoreUnavailable

if TYPE_CHECKING:
    from frontdesk.clock import Clock
    from frontdesk.config.model import Config
    from frontdesk.control_socket import ControlSocketServer
    from frontdesk.esl import OutboundServer
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

STATUS_TICK = 1.0
"""Seconds between two looks at the status (a change is reported within this time)."""
MAX_DB_CHECK = 2.0


class Supervised(Protocol):
    """What the supervisor checks of the running daemon."""

    config: Config
    clock: Clock
    store: Store
    server: OutboundServer
    control_socket: ControlSocketServer

    @property
    def active_calls(self) -> int: ...

    @property
    def freeswitch_connected(self) -> bool: ...


class Supervisor:
    """Reports the daemon's state to systemd; does nothing outside systemd."""

    def __init__(self, daemon: Supervised, *, environ: Mapping[str, str] = os.environ) -> None:
        self.daemon = daemon
        self._environ = environ
        self._watchdog = watchdog_seconds(environ)
        self._status: str | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._last_problems: list[str] = []
        self._database_problem: str | None = None

    @property
    def active(self) -> bool:
        return notify_address(self._environ) is not None

    def start(self) -> None:
        """READY=1 with the first STATUS=, then keep systemd informed."""
        if not self.active:
            return
        self._status = self.status()
        self._notify("READY=1", f"STATUS={self._status}")
        log.info("systemd.ready", watchdog_seconds=self._watchdog)
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
        if self.active:
            self._notify("STOPPING=1", "STATUS=stopping")

    def status(self) -> str:
        daemon = self.daemon
        connected = daemon.freeswitch_connected
        status = (
            f"{daemon.active_calls} call(s) in progress; FreeSWITCH "
            f"{'connected' if connected else 'not connected'}; config {daemon.config.version}"
        )
        problem = daemon.store.health().problem or self._database_problem
        if problem is not None:
            status += f"; calls NOT recorded: {problem}"
        return status

    def health_problems(self, lag: float = 0.0) -> list[str]:
        """Empty when the daemon is healthy; otherwise what is wrong, in words."""
        problems = []
        period = self._watchdog or STATUS_TICK
        if lag > period / 2:
            problems.append(f"the event loop was blocked for {lag:.1f} s")
        if not self.daemon.server.listening:
            problems.append("the outbound server is not listening")
        control_socket = self.daemon.control_socket
        if control_socket.started and not control_socket.serving:
            problems.append("the control socket accepts no connections")
        return problems

    def database_problem(self) -> str | None:
        """Why calls cannot be recorded now (the database is locked or failing), or None."""
        store = self.daemon.store
        period = self._watchdog or STATUS_TICK
        try:
            store.check_writable(timeout=min(MAX_DB_CHECK, period / 2))
        except StoreUnavailable as error:  # the store says why
            return str(error)
        except Exception as error:  # any failure of the database: calls go unrecorded
            return f"the database cannot be written: {error}"
        return None

    def _run(self) -> None:
        clock = self.daemon.clock
        next_ping = clock.now()
        tick = min(STATUS_TICK, self._watchdog / 2) if self._watchdog else STATUS_TICK
        lag = 0.0
        while True:
            status = self.status()
            if status != self._status:
                self._status = status
                self._notify(f"STATUS={status}")
            if self._watchdog is not None and clock.now() >= next_ping:
                self._ping(lag)
                next_ping = clock.now() + self._watchdog / 2
            before = clock.now()
            clock.sleep(tick)
            lag = max(0.0, clock.now() - before - tick)

    def _ping(self, lag: float) -> None:
        database = self.database_problem()
        if database != self._database_problem:
            if database is not None:
                log.error("systemd.database_unwritable", problem=database)
            else:
                log.info("systemd.database_writable")
            self._database_problem = database
        problems = self.health_problems(lag)
        if problems != self._last_problems:
            if problems:
                log.error("systemd.health_check_failed", problems=problems)
            else:
                log.info("systemd.health_check_passed")
            self._last_problems = problems
        if not problems:
            self._notify("WATCHDOG=1")

    def _notify(self, *assignments: str) -> None:
        notify(*assignments, environ=self._environ)
