"""Time for every timed part of frontdesk: real in production, virtual in tests.

Every part that waits or schedules (the daemon, the queue and its staff phones, callbacks,
hold announcements, the panel's heartbeats, the supervisor, the daily jobs, the simulator)
takes a `Clock` and never calls ``gevent.sleep``, ``gevent.spawn_later``, ``time.monotonic``
or ``datetime.now`` for behaviour. Two clocks:

- `RealClock`: the machine's time, what ``frontdesk run`` uses.
- `VirtualClock`: simulated time that jumps straight to the next due timer as soon as
  nothing can run (the idea of trio's autojump clock). The rehearsal rig, the tests and the
  benchmarks use it, so an hour of queue replays in seconds and gives the same result on a
  loaded Raspberry Pi as on an idle laptop: what happens depends only on simulated time.

Timeouts that guard input/output (an ESL reply, a client of the control socket, the
database's worker) are not behaviour and stay in real time, in the modules that do the I/O.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import gevent
import gevent.event
import gevent.timeout

Waitable = Any
"""What ``gevent.wait`` accepts: an Event, an AsyncResult, a Greenlet."""


class Timer(Protocol):
    """A call scheduled with `Clock.call_later`."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """What a timed part needs from time. Durations are seconds on this clock."""

    def now(self) -> float:
        """Monotonic seconds (only differences mean something)."""
        ...

    def wall(self) -> datetime:
        """The calendar time, timezone-aware (UTC)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, waitables: Waitable | Iterable[Waitable], timeout: float | None) -> bool:
        """Block until one of `waitables` is ready or `timeout` passed; True if one is."""
        ...

    def timeout(
        self, seconds: float | None, exception: BaseException | bool | None = None
    ) -> gevent.Timeout:
        """A ``gevent.Timeout`` running on this clock (same use: ``with``, ``except``;
        `exception` False: the ``with`` block just ends, as gevent's, whose stubs omit it)."""
        ...

    def call_later(self, seconds: float, fn: Callable[..., object], *args: object) -> Timer:
        """Run ``fn(*args)`` in a new greenlet after `seconds`."""
        ...

    def hold_while(self, busy: Callable[[], bool]) -> None:
        """Work done outside the event loop (a database thread) that greenlets wait for:
        a virtual clock does not move while `busy()` is true."""
        ...


def _as_list(waitables: Waitable | Iterable[Waitable]) -> list[Waitable]:
    if hasattr(waitables, "ready"):
        return [waitables]
    return list(waitables)


class _Greenlet:
    def __init__(self, greenlet: gevent.Greenlet) -> None:
        self._greenlet = greenlet

    def cancel(self) -> None:
        self._greenlet.kill(block=False)


class RealClock:
    """The machine's time."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        gevent.sleep(max(seconds, 0.0))

    def wait(self, waitables: Waitable | Iterable[Waitable], timeout: float | None) -> bool:
        pending = _as_list(waitables)
        return bool(gevent.wait(pending, timeout=timeout, count=1))

    def timeout(
        self, seconds: float | None, exception: BaseException | bool | None = None
    ) -> gevent.Timeout:
        return gevent.Timeout(seconds, exception)  # type: ignore[arg-type]  # False: see Clock

    def call_later(self, seconds: float, fn: Callable[..., object], *args: object) -> Timer:
        return _Greenlet(gevent.spawn_later(max(seconds, 0.0), fn, *args))

    def hold_while(self, busy: Callable[[], bool]) -> None:
        del busy  # real time moves on regardless


class _Due:
    """One entry of the virtual clock's timetable."""

    __slots__ = ("at", "action", "cancelled")

    def __init__(self, at: float, action: Callable[[], object]) -> None:
        self.at = at
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _VirtualWatcher:
    """The part of a gevent timer watcher ``gevent.Timeout`` uses, on a virtual clock."""

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._due: _Due | None = None

    def start(self, callback: Callable[..., object], *args: object, update: bool = True) -> None:
        del update
        hub_loop = gevent.get_hub().loop
        self._due = self._clock.schedule(
            self._seconds, lambda: hub_loop.run_callback(self._fire, callback, args)
        )

    def _fire(self, callback: Callable[..., object], args: tuple[object, ...]) -> None:
        if self._due is not None and not self._due.cancelled:
            self._due = None
            callback(*args)

    def stop(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None

    close = stop

    @property
    def pending(self) -> bool:
        return False

    @property
    def active(self) -> bool:
        return self._due is not None


class _VirtualTimeout(gevent.Timeout):
    def __init__(
        self, clock: VirtualClock, seconds: float | None, exception: BaseException | bool | None
    ) -> None:
        super().__init__(None, exception)  # type: ignore[arg-type]  # False: see Clock.timeout
        self.seconds = seconds
        if seconds is not None:  # Timeout uses start, stop, close, pending and active only
            self.timer = _VirtualWatcher(clock, max(seconds, 0.0))  # type: ignore[assignment]


class VirtualClock:
    """Simulated time that runs only when every greenlet waits.

    A driver greenlet waits until the event loop is idle (nothing runnable, no socket ready,
    no database job in flight: see `hold_while`), then moves the time to the next due timer
    and fires it. Waiting in real time on something outside the process (a subprocess, a
    thread) lets simulated time run on meanwhile; such waits register with `hold_while`.
    """

    IDLE_ROUNDS = 3
    """Consecutive idle turns of the event loop before time moves: a turn polls every
    socket, so a reply already written by the other end is seen first."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = 0.0
        self._wall_start = start or datetime.now(UTC)
        self._wall_set_at = 0.0
        self._timetable: list[tuple[float, int, _Due]] = []
        self._order = itertools.count()
        self._added = gevent.event.Event()
        hub = gevent.get_hub()
        self._holds: list[Callable[[], bool]] = [lambda: len(hub.threadpool) > 0]
        self._driver: gevent.Greenlet | None = gevent.spawn(self._drive)

    # --- the Clock interface ------------------------------------------------------------------

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._wall_set_at)

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            gevent.sleep(0)
            return
        woken = gevent.event.Event()
        due = self.schedule(seconds, woken.set)
        try:
            woken.wait()
        finally:
            due.cancel()

    def wait(self, waitables: Waitable | Iterable[Waitable], timeout: float | None) -> bool:
        pending = _as_list(waitables)
        if timeout is None:
            return bool(gevent.wait(pending, count=1))
        if any(w.ready() for w in pending):
            return True
        expired = gevent.event.Event()
        due = self.schedule(timeout, expired.set)
        try:
            gevent.wait([*pending, expired], count=1)
        finally:
            due.cancel()
        return any(w.ready() for w in pending)

    def timeout(
        self, seconds: float | None, exception: BaseException | bool | None = None
    ) -> gevent.Timeout:
        return _VirtualTimeout(self, seconds, exception)

    def call_later(self, seconds: float, fn: Callable[..., object], *args: object) -> Timer:
        return self.schedule(seconds, lambda: gevent.spawn(fn, *args))

    # --- for the rigs that drive it ----------------------------------------------------------

    def set_wall(self, moment: datetime) -> None:
        """The calendar reads `moment` now, and advances with simulated time."""
        self._wall_start, self._wall_set_at = moment, self._now

    def hold_while(self, busy: Callable[[], bool]) -> None:
        self._holds.append(busy)

    def schedule(self, seconds: float, action: Callable[[], object]) -> _Due:
        """Run `action` (which must not block) once `seconds` of simulated time passed."""
        at = self._now + seconds if seconds > 0 else self._now
        if seconds > 0 and at <= self._now:  # too small to add: still strictly later
            at = math.nextafter(self._now, math.inf)
        due = _Due(at, action)
        heapq.heappush(self._timetable, (due.at, next(self._order), due))
        self._added.set()
        return due

    def stop(self) -> None:
        if self._driver is not None:
            self._driver.kill(block=False)
            self._driver = None

    def _drive(self) -> None:
        while True:
            self._settle()
            due = self._next_due()
            if due is None:
                self._added.clear()
                self._added.wait()
                continue
            self._now = max(self._now, due.at)
            due.action()

    def _next_due(self) -> _Due | None:
        while self._timetable:
            _at, _n, due = self._timetable[0]
            if not due.cancelled:
                heapq.heappop(self._timetable)
                return due
            heapq.heappop(self._timetable)
        return None

    def _settle(self) -> None:
        """Return once the event loop has been idle for IDLE_ROUNDS turns in a row."""
        rounds = 0
        while rounds < self.IDLE_ROUNDS:
            if any(busy() for busy in self._holds):
                gevent.sleep(0.0005)  # real time: work outside the loop is under way
                rounds = 0
                continue
            gevent.idle()
            rounds += 1
