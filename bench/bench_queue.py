"""A Monday-morning surge at the front desk: frontdesk's queue against a plain ring group.

One arrival trace (fixed seed): Poisson arrivals, lognormal handle times, exponential patience,
some callers who leave a voicemail message rather than hang up at the beep. For 1, 3 and 5
staff the same trace goes through two real systems, both on the simulator (a FreeSWITCH
stand-in speaking ESL over TCP), and is printed next to the Erlang C prediction (M/M/s, nobody
abandons, no wrap-up) for the same load:
- before frontdesk: FreeSWITCH's static fallback we ship (freeswitch-conf/dialplan/default.xml,
  what runs with no daemon listening): answer, ring every desk phone together for 25 s, the
  fallback prompt, a tone and a voicemail. A desk phone already on a call answers busy (no call
  waiting). FreeSWITCH records nothing in frontdesk's database: these outcomes come from the
  simulator's calls and from the voicemail files it wrote;
- frontdesk: the real daemon (`Daemon.serve_forever`, in a process of its own, the queue's
  timers time-scaled like the simulator) with the example practice's config, the desk phones
  logged in with the *50 feature code, announcements on. Callers press 0 during the greeting
  and reach the `desk` node's queue. Waits and outcomes are recomputed from the run's database
  (queue_events, calls) and the voicemail files; the wait estimators are judged on every
  "announced" queue event against the wait that caller really had.
Patients lost: hung up without being served and never called back. A voicemail message is not
being served, but the practice may call back: "lost, no message" counts callers who hung up
without being served and without leaving a message of at least MESSAGE_MIN_S; "lost in total"
counts every caller not served (messages included). Callbacks from the queue are not yet
available (CALLBACKS_MISSING). Time runs `--time-scale` times real time; waits and handle times
are simulated seconds. Prints its figures; asserts nothing.
Usage: .venv/bin/python bench/bench_queue.py [--quick] [--seed N] [--time-scale S]
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import statistics
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import gevent

from bench_load import EXAMPLE, DaemonProcess, free_port, percentile, wait_until_serving
from frontdesk.estimate import ErlangC
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
MESSAGE_MIN_S = 2.0
"""A voicemail shorter than this is a caller who hung up at the beep, not a message."""
ANNOUNCE_PROMPT = 'announce_prompt = "connecting"'
"""The example config announces nothing; the bench turns announcements on (any prompt will do:
the queue stores the position and the three estimates with each announcement)."""
ESTIMATORS = ("frontdesk", "asterisk", "queue_length")
CALLBACKS_MISSING = "not yet available (no callback key in the queue or the simulated caller)"
DRAIN_S = 1200.0
"""Simulated seconds after the last arrival for the last calls to end."""


@dataclass(frozen=True)
class Surge:
    seed: int = 20260907
    calls: int = 120
    hour_s: float = 3600.0
    handle_median_s: float = 120.0
    handle_sigma: float = 0.5
    patience_mean_s: float = 150.0
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
                leaves_message=rng.random() < surge.message_share,
            )
        )
    return callers


@dataclass
class Outcome:
    """What happened to one caller: served after `wait_s`, or not (and whether they left a
    voicemail message)."""

    served: bool
    wait_s: float = math.nan
    message: bool = False
    abandoned: bool = False
    """Hung up while waiting in frontdesk's queue."""


def lost_counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "lost, no msg": sum(not o.served and not o.message for o in outcomes),
        "lost in total": sum(not o.served for o in outcomes),
    }


def message_left(path: str | None) -> bool:
    if not path or not Path(path).is_file():
        return False
    with wave.open(path) as recorded:
        return recorded.getnframes() / recorded.getframerate() >= MESSAGE_MIN_S


def place(
    sim: Simulator, callers: list[Caller], scale: float, *, barge: str | None, to_desk: float
) -> list[SimCall]:
    """Place the trace in real time x `scale`; patience counts from reaching the desk."""
    calls, start = [], time.perf_counter()
    for caller in callers:
        delay = start + caller.arrival_s * scale - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        script = CallerScript(
            barge=barge,
            patience=to_desk + caller.patience_s,
            talk_seconds=caller.handle_s,
            message_seconds=5.0 if caller.leaves_message else 0.5,
        )
        calls.append(sim.place_call(script, caller_number=caller.number))
    return calls


def add_desk_phones(sim: Simulator, extensions: list[str]) -> None:
    for ext in extensions:
        sim.add_phone(ext, answer_after=ANSWER_AFTER_S, talk_seconds=STAFF_TALK_S)


# -- before frontdesk: the shipped static fallback ---------------------------------------------


def ring_group(callers: list[Caller], staff: int, scale: float) -> dict[str, object]:
    extensions = [f"10{n + 1:02d}" for n in range(staff)]
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-ring-") as tmp:
        with socket.socket() as closed:  # a port nobody listens on: every call falls back
            closed.bind(("127.0.0.1", 0))
            nobody = closed.getsockname()
        sim = Simulator(
            password=PASSWORD,
            daemon_address=nobody,
            time_scale=scale,
            heartbeat_interval=0,
            fallback_extensions=extensions,
            fallback_prompt=str(EXAMPLE / "prompts/fallback.wav"),
            fallback_messages=tmp,
        )
        sim.start()
        try:
            add_desk_phones(sim, extensions)
            calls = place(sim, callers, scale, barge=None, to_desk=0.0)
            for call in calls:
                call.wait_done(DRAIN_S * scale + 60)
        finally:
            sim.stop()
        assert all(call.daemon_unreachable for call in calls)
        outcomes = [
            Outcome(
                served=call.bridged_to is not None,
                wait_s=ANSWER_AFTER_S if call.bridged_to is not None else math.nan,
                message=any(message_left(path) for path in call.recorded),
            )
            for call in calls
        ]
    return {"staff": staff, "served": sum(o.served for o in outcomes),
            "messages": sum(o.message for o in outcomes)} | lost_counts(outcomes)


# -- frontdesk's queue, through the real daemon ------------------------------------------------


@dataclass
class QueueRun:
    figures: dict[str, object]
    announcements: list[tuple[dict[str, float], float]]
    """Each announcement's estimates, with the rest of the wait that caller really had."""


def frontdesk(callers: list[Caller], staff: int, scale: float) -> QueueRun:
    extensions = [f"10{n + 1:02d}" for n in range(staff)]
    listed = "[" + ", ".join(f'"{e}"' for e in extensions) + "]"

    def edit(text: str) -> str:
        text = text.replace(DESK_EXTENSIONS, listed)
        return text.replace('# announce_prompt = "a_prompt"', ANNOUNCE_PROMPT, 1)

    sim = Simulator(password=PASSWORD, daemon_address=("127.0.0.1", free_port()),
                    time_scale=scale, heartbeat_interval=20)
    sim.start()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-queue-") as tmp:
        workdir = Path(tmp)
        daemon = DaemonProcess(workdir, sim, edit, time_scale=scale)
        try:
            sim.time_scale = 0.002
            wait_until_serving(sim)
            add_desk_phones(sim, extensions)
            for ext in extensions:  # each staff member dials *50 from their desk phone
                sim.place_call(CallerScript(), caller_number=ext, destination="*50").wait_done(30)
            sim.time_scale = scale
            to_desk = BARGE_S + media_seconds(str(workdir / "practice/prompts/connecting.wav"))
            cpu_before, started = daemon.cpu_seconds(), time.perf_counter()
            calls = place(sim, callers, scale, barge="0", to_desk=to_desk)
            for call in calls:
                call.wait_done(DRAIN_S * scale + 60)
            cpu_s, real_s = daemon.cpu_seconds() - cpu_before, time.perf_counter() - started
        finally:
            daemon.stop()
            sim.stop()
        with Store(workdir / "var/frontdesk.db") as store:
            rows = {row["uuid"]: row for row in store.calls()}
            events: dict[str, list[dict]] = {}
            for event in store.queue_events():
                events.setdefault(event["call_uuid"], []).append(event)
            logins = {e.extension for e in store.staff_events() if e.event == "login"}
        assert logins == set(extensions), f"staff logged in: {sorted(logins)}"
        outcomes = [queue_outcome(rows[call.uuid], events.get(call.uuid, [])) for call in calls]
    answered = [o.wait_s for o in outcomes if o.served]
    n = len(outcomes)
    to_queue = [  # answer of the call to its queue entry (the clock of `at` is real time)
        (e["at"] - rows[c.uuid]["started_at"]).total_seconds() / scale
        for c in calls
        for e in events.get(c.uuid, [])[:1]
        if e["event"] == "entered"
    ]
    figures = {
        "staff": staff,
        "served": len(answered),
        "SL 20 s %": 100 * sum(w <= 20 for w in answered) / n,
        "SL 30 s %": 100 * sum(w <= 30 for w in answered) / n,
        "abandon %": 100 * sum(o.abandoned for o in outcomes) / n,
        "avg wait s": statistics.fmean(answered) if answered else math.nan,
        "p90 wait s": percentile(answered, 0.9) if answered else math.nan,
        "overflowed": sum(any(e["event"] == "overflowed" for e in events.get(c.uuid, []))
                          for c in calls),
        "messages": sum(o.message for o in outcomes),
        "callbacks": "n/a",
        "to queue s": statistics.median(to_queue) if to_queue else math.nan,
        "cpu % run": 100 * cpu_s / real_s,
        "cpu s": cpu_s,
    } | lost_counts(outcomes)
    announcements = [
        (estimates, answered_wait - at_wait)
        for uuid_events in events.values()
        for estimates, at_wait, answered_wait in announced(uuid_events)
    ]
    return QueueRun(figures, announcements)


def queue_outcome(row: dict, events: list[dict]) -> Outcome:
    """From the database alone: the "answered" queue event's wait (queue entry to answer), an
    "abandoned" one, or the call's voicemail (an overflow, or nobody answering)."""
    kinds = {event["event"]: event for event in events}
    if "answered" in kinds:
        return Outcome(served=True, wait_s=kinds["answered"]["wait"])
    return Outcome(
        served=False,
        message=message_left(row["message_file"]),
        abandoned="abandoned" in kinds,
    )


def announced(events: list[dict]) -> list[tuple[dict[str, float], float, float]]:
    """(estimates, wait so far, wait at answer) of each announcement to a caller who was
    answered; the detail reads "position=N,frontdesk=S,asterisk=S,queue_length=S"."""
    answer = next((e["wait"] for e in events if e["event"] == "answered"), None)
    if answer is None:
        return []
    said = []
    for event in events:
        if event["event"] == "announced":
            fields = dict(item.split("=", 1) for item in event["detail"].split(","))
            said.append(({name: float(fields[name]) for name in ESTIMATORS}, event["wait"], answer))
    return said


def estimator_rows(announcements: list[tuple[dict[str, float], float]]) -> list[dict]:
    rows = []
    for name in ESTIMATORS:
        errors = [abs(estimates[name] - real) for estimates, real in announcements]
        rows.append(
            {
                "estimator": name,
                "announced": len(errors),
                "MAE s": statistics.fmean(errors) if errors else math.nan,
                "within 60 s %": 100 * sum(e <= 60 for e in errors) / len(errors)
                if errors
                else math.nan,
            }
        )
    return rows


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


def show(title: str, rows: list[dict]) -> None:
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
    print(f"mean handle {surge.handle_mean_s:.0f} s; time scale {args.time_scale} (simulator and "
          f"daemon); phones answer after {ANSWER_AFTER_S:.0f} s; a message is a voicemail of "
          f"{MESSAGE_MIN_S:.0f} s or more; the example config's [queue] with {ANNOUNCE_PROMPT}")
    # the ring groups need no daemon: run side by side, then each daemon run alone
    rings = [g.get() for g in [gevent.spawn(ring_group, callers, s, args.time_scale)
                               for s in staffing]]
    runs = [frontdesk(callers, s, args.time_scale) for s in staffing]
    show("Erlang C prediction (M/M/s, nobody abandons, no wrap-up)",
         [erlang_row(surge, s) for s in staffing])
    show("frontdesk's queue: the real daemon process (outcomes from its database)",
         [run.figures for run in runs])
    print(f"callbacks: {CALLBACKS_MISSING}")
    show("Before frontdesk: the shipped static fallback, ring all desk phones 25 s -> voicemail",
         rings)
    show("Patients lost (hung up unserved; 'no msg' = without leaving a message either)",
         [{"staff": s,
           "ring, no msg": r["lost, no msg"], "queue, no msg": q.figures["lost, no msg"],
           "ratio no msg": r["lost, no msg"] / max(q.figures["lost, no msg"], 1),
           "ring total": r["lost in total"], "queue total": q.figures["lost in total"],
           "ratio total": r["lost in total"] / max(q.figures["lost in total"], 1)}
          for s, r, q in zip(staffing, rings, runs, strict=True)])
    for s, run in zip(staffing, runs, strict=True):
        show(f"Wait estimates vs the wait each answered caller really had, {s} staff "
             "(every announcement in queue_events)", estimator_rows(run.announcements))


if __name__ == "__main__":
    main()
