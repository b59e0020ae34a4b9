"""A Monday-morning surge at the front desk: frontdesk's queue against a plain ring group.

One arrival trace (fixed seed): Poisson arrivals, lognormal handle times, exponential patience,
some callers who would ask for a callback. For 1, 3 and 5 staff it prints, side by side:
- the Erlang C prediction for the same load (M/M/s, nobody abandons);
- the ring group a practice has before frontdesk, run through the REAL daemon process and the
  simulator (the example config's `desk` node rings every desk phone, then voicemail): callers
  press 0 during the greeting and reach it;
- an ideal first-come-first-served queue with callbacks (a model run in this process, not the
  daemon), which also feeds the three wait estimators of `frontdesk.estimate` and compares each
  announcement with the wait that caller really had;
- frontdesk's queue through the real daemon, once `frontdesk.queue` exists (see QUEUE_MISSING).
Patients lost: hung up without being served and never called back (a voicemail message counts
as a callback to come). Time runs `--time-scale` times real time in the simulator; waits and
handle times are simulated seconds. Prints its figures; asserts nothing.
Usage: .venv/bin/python bench/bench_queue.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import gevent

from bench_load import DaemonProcess, percentile, wait_until_serving
from frontdesk.estimate import ErlangC, Estimates
from frontdesk.logs import configure_logging
from frontdesk.sim import CallerScript, SimCall, Simulator
from frontdesk.sim.session import media_seconds
from frontdesk.store import Store

PASSWORD = "bench-password"
DESK_EXTENSIONS = '["1001", "1002", "1003"]'
ANSWER_AFTER_S = 3.0
"""A free desk phone is picked up after this long."""
STAFF_TALK_S = 1e6
"""Staff never end a call: the patient does, after their handle time."""
BARGE_S = 0.5
"""The simulated caller presses 0 half a second into the greeting."""
ANNOUNCE_EVERY_S = 60.0
QUEUE_MISSING = (
    "frontdesk's queue through the daemon: not run — frontdesk.queue has not landed "
    "(needs: a config that queues the desk callers, the callback key, queue_events in the store)"
)


@dataclass(frozen=True)
class Surge:
    seed: int = 20260907
    calls: int = 120
    hour_s: float = 3600.0
    handle_median_s: float = 120.0
    handle_sigma: float = 0.5
    patience_mean_s: float = 150.0
    callback_share: float = 0.2
    """Callers who ask to be called back when the queue offers it."""
    message_share: float = 0.3
    """Callers who leave a voicemail message rather than hang up at the beep."""

    @property
    def handle_mean_s(self) -> float:
        return self.handle_median_s * math.exp(self.handle_sigma**2 / 2)


@dataclass(frozen=True)
class Caller:
    number: str
    arrival_s: float
    handle_s: float
    patience_s: float
    wants_callback: bool
    leaves_message: bool


def trace(surge: Surge) -> list[Caller]:
    rng = random.Random(surge.seed)
    callers, at = [], 0.0
    for n in range(surge.calls):
        at += rng.expovariate(surge.calls / surge.hour_s)
        callers.append(
            Caller(
                number=f"06{n:08d}",
                arrival_s=at,
                handle_s=rng.lognormvariate(math.log(surge.handle_median_s), surge.handle_sigma),
                patience_s=rng.expovariate(1 / surge.patience_mean_s),
                wants_callback=rng.random() < surge.callback_share,
                leaves_message=rng.random() < surge.message_share,
            )
        )
    return callers


@dataclass
class Outcome:
    """What happened to one caller: waited `wait_s` (to answer, or to hanging up)."""

    served: bool
    wait_s: float
    called_back: bool = False
    message: bool = False

    @property
    def lost(self) -> bool:
        return not self.served and not self.called_back and not self.message


def figures(outcomes: list[Outcome], staff: int) -> dict[str, object]:
    answered = [o.wait_s for o in outcomes if o.served]
    return {
        "staff": staff,
        "served": len(answered),
        "SL 20 s %": 100 * sum(w <= 20 for w in answered) / len(outcomes),
        "SL 30 s %": 100 * sum(w <= 30 for w in answered) / len(outcomes),
        "abandon %": 100 * sum(not o.served and not o.message for o in outcomes) / len(outcomes),
        "avg wait s": statistics.fmean(answered) if answered else math.nan,
        "p90 wait s": percentile(answered, 0.9) if answered else math.nan,
        "callbacks": sum(o.called_back for o in outcomes),
        "messages": sum(o.message for o in outcomes),
        "lost": sum(o.lost for o in outcomes),
    }


def erlang_row(surge: Surge, staff: int) -> dict[str, object]:
    queue = ErlangC(surge.calls / surge.hour_s, surge.handle_mean_s, staff)
    return {
        "staff": staff,
        "load erl": queue.load,
        "P(wait) %": 100 * queue.wait_probability,
        "SL 20 s %": 100 * queue.service_level(20),
        "SL 30 s %": 100 * queue.service_level(30),
        "avg wait s": queue.mean_wait_s,
        "p90 wait s": queue.wait_quantile_s(0.9),
    }


# -- the ring group, through the real daemon ------------------------------------------------


def ring_group(surge: Surge, callers: list[Caller], staff: int, scale: float) -> dict[str, object]:
    extensions = [f"10{n + 1:02d}" for n in range(staff)]
    listed = "[" + ", ".join(f'"{e}"' for e in extensions) + "]"
    sim = Simulator(password=PASSWORD, daemon_address=("127.0.0.1", 1), heartbeat_interval=20)
    sim.start()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-queue-") as tmp:
        workdir = Path(tmp)
        daemon = DaemonProcess(workdir, sim, lambda text: text.replace(DESK_EXTENSIONS, listed))
        try:
            sim.time_scale = 0.002
            wait_until_serving(sim)
            sim.time_scale = scale
            for ext in extensions:
                sim.add_phone(ext, answer_after=ANSWER_AFTER_S, talk_seconds=STAFF_TALK_S)
            to_desk = BARGE_S + media_seconds(str(workdir / "practice/prompts/connecting.wav"))
            cpu_before, started = daemon.cpu_seconds(), time.perf_counter()
            calls = place(sim, callers, to_desk, scale)
            for call in calls:
                call.wait_done(3600 * scale + 60)
            cpu = 100 * (daemon.cpu_seconds() - cpu_before) / (time.perf_counter() - started)
        finally:
            daemon.stop()
            sim.stop()
        with Store(workdir / "var/frontdesk.db") as store:
            rows = {row["uuid"]: row for row in store.calls()}
    outcomes = [ring_outcome(rows[call.uuid], scale) for call in calls]
    return figures(outcomes, staff) | {"daemon cpu %": cpu}


def place(sim: Simulator, callers: list[Caller], to_desk: float, scale: float) -> list[SimCall]:
    calls, start = [], time.perf_counter()
    for caller in callers:
        delay = start + caller.arrival_s * scale - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        script = CallerScript(
            barge="0",
            patience=to_desk + caller.patience_s,
            talk_seconds=caller.handle_s,
            message_seconds=5.0 if caller.leaves_message else 0.5,
        )
        calls.append(sim.place_call(script, caller_number=caller.number))
    return calls


def ring_outcome(row: dict, scale: float) -> Outcome:
    """From the daemon's call record: the wait runs from entering the desk node (a step of the
    path, real seconds after the call began) to the bridge (`answered_at`)."""
    if row["answered_at"] is None:
        return Outcome(served=False, wait_s=math.nan, message=row["outcome"] == "voicemail")
    entered = next(s["at"] for s in row["path"] if s["node"] == "desk" and s["event"] == "enter")
    answered = (row["answered_at"] - row["started_at"]).total_seconds()
    return Outcome(served=True, wait_s=(answered - entered) / scale)


# -- the ideal queue, a model in this process ------------------------------------------------


@dataclass(order=True)
class _Event:
    at: float
    kind: str
    index: int = field(compare=False)


@dataclass
class Announcement:
    caller: int
    at: float
    estimates: dict[str, float]


def ideal_queue(
    surge: Surge, callers: list[Caller], staff: int
) -> tuple[dict[str, object], list[Announcement], dict[int, float]]:
    """First come first served; a callback keeps its place and is always reached; an
    announcement on entry and every minute to each caller who has to wait. Returns the
    figures, the announcements and each served caller's moment of answer."""
    estimates = Estimates(answer_s=ANSWER_AFTER_S)
    events = [_Event(c.arrival_s, "arrive", n) for n, c in enumerate(callers)]
    heapq.heapify(events)
    waiting: list[int] = []
    called_back: set[int] = set()
    busy: dict[int, float] = {}  # caller -> start of their call
    free = staff
    answered_at: dict[int, float] = {}
    outcomes: dict[int, Outcome] = {}
    said: list[Announcement] = []

    def announce(n: int, now: float) -> None:
        position = waiting.index(n) + 1
        figures_now = estimates.estimate(
            position,
            staff_available=free,
            staff_logged_in=staff,
            busy_elapsed=[now - s for s in busy.values()],
            now=now,
        )
        said.append(Announcement(n, now, figures_now))
        heapq.heappush(events, _Event(now + ANNOUNCE_EVERY_S, "announce", n))

    while events:
        event = heapq.heappop(events)
        now, n = event.at, event.index
        caller = callers[n]
        if event.kind == "arrive":
            waiting.append(n)
            if free == 0:
                announce(n, now)
                if caller.wants_callback:
                    called_back.add(n)
                else:
                    heapq.heappush(events, _Event(now + caller.patience_s, "give_up", n))
        elif event.kind == "announce" and n in waiting and n not in called_back:
            announce(n, now)
        elif event.kind == "give_up" and n in waiting:
            waiting.remove(n)
            outcomes[n] = Outcome(served=False, wait_s=now - caller.arrival_s)
            estimates.on_abandoned(now - caller.arrival_s, now)
        elif event.kind == "hang_up":
            del busy[n]
            free += 1
            estimates.on_call_ended(caller.handle_s, now)
        while free and waiting:
            m = waiting.pop(0)
            start = now + ANSWER_AFTER_S
            free -= 1
            busy[m] = start
            answered_at[m] = start
            wait = start - callers[m].arrival_s
            outcomes[m] = Outcome(
                served=m not in called_back, wait_s=wait, called_back=m in called_back
            )
            estimates.on_answered(wait, start)
            heapq.heappush(events, _Event(start + callers[m].handle_s, "hang_up", m))
    ordered = [outcomes[n] for n in range(len(callers))]
    return figures(ordered, staff), said, answered_at


def estimator_rows(said: list[Announcement], answered_at: dict[int, float]) -> list[dict]:
    """Each announcement against the rest of the wait that caller really had (answered ones)."""
    compared = [a for a in said if a.caller in answered_at]
    rows = []
    for name in ("frontdesk", "asterisk", "queue_length"):
        errors = [abs(a.estimates[name] - (answered_at[a.caller] - a.at)) for a in compared]
        rows.append(
            {
                "estimator": name,
                "announcements": len(errors),
                "MAE s": statistics.fmean(errors) if errors else math.nan,
                "within 60 s %": 100 * sum(e <= 60 for e in errors) / len(errors)
                if errors
                else math.nan,
            }
        )
    return rows


def show(title: str, rows: Iterable[dict]) -> None:
    rows = list(rows)
    print(f"\n{title}")
    columns = list(rows[0])
    print("  ".join(f"{c:>13}" for c in columns))
    for row in rows:
        cells = [f"{v:>13.1f}" if isinstance(v, float) else f"{v!s:>13}" for v in row.values()]
        print("  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a quarter of the surge, 3 staff")
    parser.add_argument("--seed", type=int, default=Surge.seed)
    parser.add_argument("--time-scale", type=float, default=0.02)
    args = parser.parse_args()
    configure_logging("warning")
    surge = Surge(seed=args.seed)
    if args.quick:
        surge = Surge(seed=args.seed, calls=surge.calls // 4, hour_s=surge.hour_s / 4)
    staffing = (3,) if args.quick else (1, 3, 5)
    callers = trace(surge)
    print(f"surge: {surge}")
    print(f"mean handle {surge.handle_mean_s:.0f} s; time scale {args.time_scale}; "
          f"phones answer after {ANSWER_AFTER_S:.0f} s; announcements every "
          f"{ANNOUNCE_EVERY_S:.0f} s")
    show("Erlang C prediction (M/M/s, nobody abandons)", [erlang_row(surge, s) for s in staffing])
    models = {s: ideal_queue(surge, callers, s) for s in staffing}
    show("Ideal FIFO queue with callbacks (model in this process, not the daemon)",
         [models[s][0] for s in staffing])
    print(f"\n{QUEUE_MISSING}")
    rings = [ring_group(surge, callers, s, args.time_scale) for s in staffing]
    show("Plain ring group -> voicemail (the real daemon, example config's desk node)", rings)
    show("Patients lost (hung up unserved, never called back)",
         [{"staff": s, "ring group": r["lost"], "ideal queue": models[s][0]["lost"],
           "ratio": r["lost"] / max(models[s][0]["lost"], 1)}
          for s, r in zip(staffing, rings, strict=True)])
    for s in staffing:
        _, said, answered_at = models[s]
        show(f"Wait estimates vs the wait each caller really had, {s} staff (ideal queue model)",
             estimator_rows(said, answered_at))


if __name__ == "__main__":
    main()
