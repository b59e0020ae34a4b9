"""How long will this caller wait? The queue's wait estimators, and Erlang C.

Pure arithmetic: no ESL, no SQL, no clock of its own. Times are seconds; ``at`` / ``now`` are
any one monotonic clock the caller of this module chooses (the queue uses the same one
throughout). Three estimators share one interface (`Estimator`):

- `WaitEstimator` — frontdesk's, the one callers hear (method below);
- `AsteriskEstimator` — what Asterisk's app_queue announces: a moving average of past waits,
  ``(3·old + new) / 4``, updated when a call is answered, whatever the position and staffing;
- `QueueLengthEstimator` — ``(n + 1) / (s·μ)``: callers ahead plus one, over the service rate
  of the staff logged in.

How the queue plugs them in
---------------------------
Create one `Estimates` (it feeds the same history to all three) per queue and call:

- ``on_answered(wait_s, at)`` when a waiting caller is bridged to staff (wait = queue entry to
  answer; not for a callback: its patient was not on the line, could not hang up, and its age,
  a night for a callback placed the next morning, says nothing of how long callers wait);
- ``on_abandoned(wait_s, at)`` when a waiting caller hangs up;
- ``on_call_ended(handle_s, at)`` when a staff call ends (handle = answer to hangup);
- ``estimate(position, staff_available=…, staff_logged_in=…, busy_elapsed=[…], now=…,
  wrapup_elapsed=[…])`` -> ``{"frontdesk": s, "asterisk": s, "queue_length": s}``.
  ``position`` is 1 for the caller served next; ``busy_elapsed`` the seconds each staff member
  now on a call has been on it; ``wrapup_elapsed`` the seconds each one in wrap-up has been in
  it; logged-in staff in neither list and not available (a phone ringing, reserved) count as
  starting a call now. Announce ``["frontdesk"]`` (`math.inf` when nobody is logged in: say
  so instead of a figure) and store the whole dict with the "announced" queue event, so
  bench/bench_queue.py can compare each estimator with the wait the caller really had.
- The figure is said with `frontdesk.speech.duration(seconds, language)`, which owns the
  honest rounding ("less than a minute", "about N minutes"): this module returns seconds.

frontdesk's method (`WaitEstimator`)
------------------------------------
The staff are s parallel servers (s = staff logged in). A caller at position n ≤ the staff
available now waits only for a free phone to answer (``answer_s``). Otherwise the available
staff take the callers ahead first, and each other server finishes after its own expected
remaining time r:
- on a call for e seconds: the mean remaining handle time of recent calls that lasted longer
  than e (the mean of H − e over them, with one pseudo-call of remaining time h, so a call
  longer than any recent one is still expected to last a while), plus the wrap-up time w;
- in wrap-up for e seconds: w − e; ringing or reserved (taking a caller ahead): h + w;
then every h + w, h being an exponentially weighted mean of recent handle times (weight
``alpha`` for the newest; ``prior_handle_s`` until the first call ended), so a morning of long
calls shows quickly. Completions are counted in expectation, one at a time: a server still on
its first stretch completes at rate 1/r, one already past it at 1/(h + w); the next completion
comes after Δt = 1/(sum of the rates), and each server's chance of still being on its first
stretch drops by its rate times Δt, never below 0 (unbounded, it went negative for a server
about to finish, and took the estimate below zero). (Taking the smallest r instead would tell a
caller facing five busy staff to wait a whole call, when the first of five calls ends much
sooner.) Callers ahead leave,
too: with exponential patience, the abandonment rate θ is the maximum-likelihood one from recent
waits, θ = abandonments / total seconds waited (answered and abandoned waits both count as
exposure; a pseudo-exposure of ``prior_exposure_s`` keeps one early abandonment from meaning
"everyone leaves at once"). The expected number still ahead decays by exp(−θ·Δt) between
completions and drops by one at each (callbacks ahead, whose patients have hung up, never
give up: they take their share of each completion); the caller's turn is the first completion
at which fewer than half a caller is still ahead. With θ = 0 and every server just starting a
call this is n·(h + w)/s, the queue-length estimator; it differs by who is about to finish
and who gives up. "Recent" is the last ``window_s`` seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_HANDLE_S = 180.0
"""Mean handle time assumed before the first call of the day has ended."""


class Estimator(Protocol):
    """What the queue tells an estimator, and what it asks it."""

    def on_answered(self, wait_s: float, at: float) -> None: ...

    def on_abandoned(self, wait_s: float, at: float) -> None: ...

    def on_call_ended(self, handle_s: float, at: float) -> None: ...

    def estimate(
        self,
        position: int,
        *,
        staff_available: int,
        staff_logged_in: int,
        busy_elapsed: Sequence[float],
        now: float,
        wrapup_elapsed: Sequence[float] = (),
        callbacks_ahead: int = 0,
    ) -> float:
        """Expected wait in seconds of the caller at ``position`` (1 = next); inf if nobody
        is logged in. ``callbacks_ahead`` of the callers ahead are callbacks to place: they
        have hung up already, so they never give up."""
        ...


class _Recent:
    """Observations of the last ``window_s`` seconds: (at, value) in arrival order."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._items: deque[tuple[float, float]] = deque()

    def add(self, value: float, at: float) -> None:
        self._items.append((at, value))

    def values(self, now: float) -> list[float]:
        while self._items and self._items[0][0] < now - self.window_s:
            self._items.popleft()
        return [value for _, value in self._items]


class WaitEstimator:
    """frontdesk's estimator: servers, their remaining busy time, and abandonment ahead."""

    def __init__(
        self,
        *,
        wrapup_s: float = 0.0,
        answer_s: float = 5.0,
        alpha: float = 0.2,
        prior_handle_s: float = DEFAULT_HANDLE_S,
        prior_exposure_s: float = 600.0,
        window_s: float = 3600.0,
    ) -> None:
        self.wrapup_s = wrapup_s
        self.answer_s = answer_s
        self.alpha = alpha
        self.prior_exposure_s = prior_exposure_s
        self.mean_handle_s = prior_handle_s
        self._handles = _Recent(window_s)
        self._waits = _Recent(window_s)
        self._abandons = _Recent(window_s)

    def on_answered(self, wait_s: float, at: float) -> None:
        self._waits.add(wait_s, at)

    def on_abandoned(self, wait_s: float, at: float) -> None:
        self._waits.add(wait_s, at)
        self._abandons.add(wait_s, at)

    def on_call_ended(self, handle_s: float, at: float) -> None:
        self.mean_handle_s += self.alpha * (handle_s - self.mean_handle_s)
        self._handles.add(handle_s, at)

    def abandon_rate(self, now: float) -> float:
        """θ per second: recent abandonments over recent seconds waited (exponential patience)."""
        exposure = sum(self._waits.values(now)) + self.prior_exposure_s
        return len(self._abandons.values(now)) / exposure

    def remaining_s(self, elapsed_s: float, now: float) -> float:
        """Expected remaining handle time of a call that has lasted ``elapsed_s``."""
        longer = [h - elapsed_s for h in self._handles.values(now) if h > elapsed_s]
        return (sum(longer) + self.mean_handle_s) / (len(longer) + 1)

    def estimate(
        self,
        position: int,
        *,
        staff_available: int,
        staff_logged_in: int,
        busy_elapsed: Sequence[float],
        now: float,
        wrapup_elapsed: Sequence[float] = (),
        callbacks_ahead: int = 0,
    ) -> float:
        if staff_logged_in <= 0:
            return math.inf
        if position <= staff_available:
            return self.answer_s
        cycle = self.mean_handle_s + self.wrapup_s
        first = [self.remaining_s(e, now) + self.wrapup_s for e in busy_elapsed]
        first += [self.wrapup_s - e for e in wrapup_elapsed]
        first += [cycle] * max(staff_logged_in - staff_available - len(first), 0)
        remaining = [max(r, 1.0) for r in first[: staff_logged_in - staff_available]]
        still_first = [1.0] * len(remaining)  # chance each server is on its first stretch
        fresh = staff_available  # servers past their first stretch
        theta = self.abandon_rate(now)
        ahead = float(position - 1 - staff_available)
        callbacks = float(min(callbacks_ahead, max(ahead, 0.0)))
        on_the_line, waited = ahead - callbacks, 0.0
        while True:
            rates = [p / r for p, r in zip(still_first, remaining, strict=True)]
            total = sum(rates) + (fresh + sum(1 - p for p in still_first)) / cycle
            step = 1 / total
            waited += step
            on_the_line *= math.exp(-theta * step)
            if on_the_line + callbacks < 0.5:
                return waited
            served_callback = callbacks / (callbacks + on_the_line)  # in their order, mixed
            callbacks -= served_callback
            on_the_line -= 1.0 - served_callback
            still_first = [
                max(p - rate * step, 0.0) for p, rate in zip(still_first, rates, strict=True)
            ]


class AsteriskEstimator:
    """app_queue's holdtime: (3·old + new)/4 on each answer; position and staff ignored."""

    def __init__(self) -> None:
        self.holdtime_s = 0.0

    def on_answered(self, wait_s: float, at: float) -> None:
        self.holdtime_s = (3 * self.holdtime_s + wait_s) / 4

    def on_abandoned(self, wait_s: float, at: float) -> None:
        """Asterisk learns nothing from a caller who hung up."""

    def on_call_ended(self, handle_s: float, at: float) -> None:
        """Nor from handle times."""

    def estimate(
        self,
        position: int,
        *,
        staff_available: int,
        staff_logged_in: int,
        busy_elapsed: Sequence[float],
        now: float,
        wrapup_elapsed: Sequence[float] = (),
        callbacks_ahead: int = 0,
    ) -> float:
        return self.holdtime_s


class QueueLengthEstimator:
    """(n + 1)/(s·μ): n callers ahead, s staff logged in, 1/μ the recent mean handle time."""

    def __init__(
        self, *, prior_handle_s: float = DEFAULT_HANDLE_S, window_s: float = 3600.0
    ) -> None:
        self.prior_handle_s = prior_handle_s
        self._handles = _Recent(window_s)

    def on_answered(self, wait_s: float, at: float) -> None:
        """Waits do not enter the formula."""

    def on_abandoned(self, wait_s: float, at: float) -> None:
        """Nor do abandonments."""

    def on_call_ended(self, handle_s: float, at: float) -> None:
        self._handles.add(handle_s, at)

    def estimate(
        self,
        position: int,
        *,
        staff_available: int,
        staff_logged_in: int,
        busy_elapsed: Sequence[float],
        now: float,
        wrapup_elapsed: Sequence[float] = (),
        callbacks_ahead: int = 0,
    ) -> float:
        if staff_logged_in <= 0:
            return math.inf
        handles = self._handles.values(now)
        mean_handle = sum(handles) / len(handles) if handles else self.prior_handle_s
        return position * mean_handle / staff_logged_in


class Estimates:
    """The three estimators fed the same history; `estimate` returns each one's figure."""

    def __init__(self, *, wrapup_s: float = 0.0, answer_s: float = 5.0) -> None:
        self.estimators: dict[str, Estimator] = {
            "frontdesk": WaitEstimator(wrapup_s=wrapup_s, answer_s=answer_s),
            "asterisk": AsteriskEstimator(),
            "queue_length": QueueLengthEstimator(),
        }

    def on_answered(self, wait_s: float, at: float) -> None:
        for estimator in self.estimators.values():
            estimator.on_answered(wait_s, at)

    def on_abandoned(self, wait_s: float, at: float) -> None:
        for estimator in self.estimators.values():
            estimator.on_abandoned(wait_s, at)

    def on_call_ended(self, handle_s: float, at: float) -> None:
        for estimator in self.estimators.values():
            estimator.on_call_ended(handle_s, at)

    def estimate(
        self,
        position: int,
        *,
        staff_available: int,
        staff_logged_in: int,
        busy_elapsed: Sequence[float],
        now: float,
        wrapup_elapsed: Sequence[float] = (),
        callbacks_ahead: int = 0,
    ) -> dict[str, float]:
        return {
            name: estimator.estimate(
                position,
                staff_available=staff_available,
                staff_logged_in=staff_logged_in,
                busy_elapsed=busy_elapsed,
                now=now,
                wrapup_elapsed=wrapup_elapsed,
                callbacks_ahead=callbacks_ahead,
            )
            for name, estimator in self.estimators.items()
        }


# -- Erlang C: the textbook M/M/s queue ----------------------------------------------------


@dataclass(frozen=True)
class ErlangC:
    """An M/M/s queue: Poisson arrivals (``arrivals_per_s``), exponential handle times of mean
    ``handle_s``, ``agents`` servers, nobody abandons. Over capacity (load ≥ agents) every
    caller waits and the mean wait is infinite."""

    arrivals_per_s: float
    handle_s: float
    agents: int

    @property
    def load(self) -> float:
        """Offered traffic in erlangs: a = λ·h."""
        return self.arrivals_per_s * self.handle_s

    @property
    def wait_probability(self) -> float:
        """C(s, a): the chance an arriving caller has to wait, from Erlang B's recursion
        B(k) = a·B(k−1) / (k + a·B(k−1)), then C = s·B / (s − a·(1 − B))."""
        a, s = self.load, self.agents
        if s <= 0 or a >= s:
            return 1.0
        blocking = 1.0
        for k in range(1, s + 1):
            blocking = a * blocking / (k + a * blocking)
        return s * blocking / (s - a * (1 - blocking))

    @property
    def mean_wait_s(self) -> float:
        """Mean wait over all callers: C·h / (s − a)."""
        a, s = self.load, self.agents
        if a >= s:
            return math.inf
        return self.wait_probability * self.handle_s / (s - a)

    def service_level(self, within_s: float) -> float:
        """P(W ≤ t) = 1 − C·exp(−(s − a)·t / h)."""
        a, s = self.load, self.agents
        if a >= s:
            return 0.0
        return 1 - self.wait_probability * math.exp(-(s - a) * within_s / self.handle_s)

    def wait_quantile_s(self, share: float) -> float:
        """The wait that ``share`` of callers do not exceed (inverse of `service_level`)."""
        a, s = self.load, self.agents
        if a >= s:
            return math.inf
        waiting = self.wait_probability
        if share <= 1 - waiting:
            return 0.0
        return self.handle_s / (s - a) * math.log(waiting / (1 - share))
