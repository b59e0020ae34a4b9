"""A Monday-morning surge at the front desk: frontdesk's queue against a plain ring group.

One arrival trace (fixed seed): Poisson arrivals, lognormal handle times, exponential patience,
some callers who leave a voicemail message rather than hang up at the beep, some who would rather
be called back (CALLBACK_SHARE; drawn from a second generator so the rest of the trace does not
depend on it): on hold they press the callback key at CALLBACK_AT of their patience, and they
confirm their number with 1 whenever a callback is offered (the others press nothing and decline
it); of those, CALLBACK_UNREACHABLE never answer the phone when called back. For 1, 3 and 5
staff the same trace goes through two real systems, both on the simulator (a FreeSWITCH
stand-in speaking ESL over TCP), and is printed next to the Erlang C prediction (M/M/s, nobody
abandons, no wrap-up) for the same load:
- before frontdesk: FreeSWITCH's static fallback we ship (freeswitch-conf/dialplan/default.xml,
  what runs with no daemon listening): answer, ring every desk phone together for 25 s, the
  fallback prompt, a tone and a voicemail. A desk phone already on a call answers busy (no call
  waiting). FreeSWITCH records nothing in frontdesk's database: these outcomes come from the
  simulator's calls and from the voicemail files it wrote;
- frontdesk: the real daemon (`frontdesk.rehearse.Rig`: the daemon and the simulator in this
  process on one virtual clock) with the example practice's config as shipped (its
  [queue]: the callback key offered in every announcement, a callback offered after max_wait,
  instead of a full queue or an empty desk, missed patients called back when the desk is
  free), only the desk extensions set per staffing and a static announce_prompt added (see
  ANNOUNCE_PROMPT); --max-wait / --on-max-wait override the example's. The desk phones log
  in with the *50 feature code. Callers press 0 during the greeting and reach the `desk`
  node's queue. A callback rings a staff phone, then the patient
  through the gateway (the simulator's outside numbers: each patient's own number, picked up
  after CALLBACK_ANSWER_S, then the same handle time); the run goes on after the last caller
  hung up until no callback is pending (at most CALLBACK_DRAIN_S). Waits and outcomes are
  recomputed from the run's database (queue_events, calls, callbacks) and the voicemail
  files; the wait estimators are judged on every "announced" queue event against the wait
  that caller really had.
Patients lost: hung up without being served and never called back. A patient called back and
bridged to a staff member is served (a callback that failed every attempt, or still pending at
the end, is not). A voicemail message is not being served, but the practice may call back:
"lost, no message" counts callers who hung up without being served and without leaving a message
of at least MESSAGE_MIN_S; "lost in total" counts every caller not served (messages included).
Taken to the letter, "never called back" spares a patient whose phone frontdesk rang and who
never picked up: "never rung back" counts the callers not served whom nobody ever called.
The service level and the waits are those of the callers answered live (a callback's wait is
shown apart: queue entry to the patient bridged to the staff). The caller model is the same for
both systems (same trace, same scripts); the ring group has no hold music, so nobody there
presses the callback key. Every system and staffing runs alone, one after the other, on a
virtual clock of its own (frontdesk.clock.VirtualClock, from Monday 08:30 at the practice for
frontdesk): simulated time jumps to the next due timer as soon as nothing can run, so the hour
takes seconds and the figures depend only on the seed and the settings, never on the machine's
speed or load (bench_load.py measures the daemon's CPU and latency in real time). Waits and
handle times are simulated seconds; real time only guards against a hang (RUN_GUARD_S).
Prints its figures and the wall time; asserts nothing.
Usage: .venv/bin/python bench/bench_queue.py [--quick] [--seed N]
       [--max-wait S] [--on-max-wait callback|voicemail]
"""

from __future__ import annotations

import argparse
import math
import random
import re
import socket
import statistics
import tempfile
import time
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent

from bench_load import EXAMPLE, copy_practice, percentile, show
from frontdesk.clock import VirtualClock
from frontdesk.config import load_config
from frontdesk.estimate import ErlangC
from frontdesk.logs import configure_logging
from frontdesk.rehearse import Rig
from frontdesk.schedule import Schedule
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
RUN_GUARD_S = 600.0
"""Real seconds one system's run may take: a guard against a hang, never reached by a run
that ends (it takes seconds)."""
PRACTICE_QUEUE = load_config(EXAMPLE / "frontdesk.toml", check_files=False).queue
"""The example practice's [queue]: what a practice runs."""
CALLBACK_KEY = PRACTICE_QUEUE.callback_key
CALLBACK_ANSWER_S = 6.0
"""A patient called back picks up after this long (those who pick up at all)."""
CALLBACK_DRAIN_S = 3600.0
"""Simulated seconds after the last call ended for the pending callbacks to be placed."""
MONDAY_MORNING = datetime(2026, 9, 7, 8, 30, tzinfo=ZoneInfo("Europe/Paris"))
"""When the surge begins at the practice (the example's Monday opening)."""


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
    callback_share: float = 0.3
    """Callers who would rather be called back: they press the callback key on hold and accept
    a callback when offered."""
    callback_at: float = 0.5
    """They press the key after this share of their patience (counted from reaching the desk)."""
    callback_unreachable: float = 0.1
    """Of them, those who never answer when called back."""

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
    wants_callback: bool = False
    answers_callback: bool = True


def trace(surge: Surge) -> list[Caller]:
    rng = random.Random(surge.seed)
    choices = random.Random(surge.seed + 1)  # the callback traits: the rest stays as it was
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
                wants_callback=choices.random() < surge.callback_share,
                answers_callback=choices.random() >= surge.callback_unreachable,
            )
        )
    return callers


@dataclass(frozen=True)
class QueueSettings:
    """What the bench changes in the example config's [queue] (None: the example's)."""

    max_wait: float | None = None
    on_max_wait: str | None = None

    def edit(self, text: str) -> str:
        if self.max_wait is not None:
            text = _setting(text, "max_wait", f"{self.max_wait:g}")
        if self.on_max_wait is not None:
            text = _setting(text, "on_max_wait", f'"{self.on_max_wait}"')
        return text

    def describe(self) -> str:
        queue = PRACTICE_QUEUE
        return (
            f"callback_key {queue.callback_key!r}; max_wait {self.max_wait or queue.max_wait:g} s "
            f"-> {self.on_max_wait or queue.on_max_wait}; max_length {queue.max_length} -> "
            f"{queue.on_max_length}; nobody -> {queue.on_nobody}; missed_after "
            f"{queue.missed_after:g} s; call_back_missed {queue.call_back_missed}; "
            f"callback_retries {queue.callback_retries} every {queue.callback_retry_seconds:g} s;"
            f" wrapup {queue.wrapup_seconds:g} s; {ANNOUNCE_PROMPT}"
        )


def _setting(text: str, key: str, value: str) -> str:
    """`key = value` in [queue], replacing the example's line (set or commented out)."""
    pattern = re.compile(rf"^#? ?{key} = .*$", re.MULTILINE)
    start = text.index("\n[queue]\n")
    match = pattern.search(text, start)
    assert match is not None, f"the example has no {key} line in [queue]"
    return text[: match.start()] + f"{key} = {value}" + text[match.end():]


@dataclass
class Outcome:
    """What happened to one caller: served after `wait_s`, or not (and whether they left a
    voicemail message)."""

    served: bool
    wait_s: float = math.nan
    message: bool = False
    abandoned: bool = False
    """Hung up while waiting in frontdesk's queue (called back later or not)."""
    missed: bool = False
    """Called back by frontdesk as a missed patient (not asked for)."""
    attempts: int = 0
    """Callback attempts placed (the patient's phone rang)."""
    callback: str | None = None
    """Asked to be called back: "completed", "failed" (every attempt) or "pending" (at the
    end of the run)."""


def lost_counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "lost, no msg": sum(not o.served and not o.message for o in outcomes),
        "lost in total": sum(not o.served for o in outcomes),
        "never rung back": sum(not o.served and not o.attempts for o in outcomes),
    }


def message_left(path: str | None) -> bool:
    if not path or not Path(path).is_file():
        return False
    with wave.open(path) as recorded:
        return recorded.getnframes() / recorded.getframerate() >= MESSAGE_MIN_S


def place(
    sim: Simulator, callers: list[Caller], *, barge: str | None, to_desk: float, surge: Surge
) -> list[SimCall]:
    """Place the trace on the simulator's clock and wait for every call to end; patience
    counts from reaching the desk. Each caller's own number is reachable through the gateway
    (a callback)."""
    for caller in callers:
        sim.add_outside(caller.number,
                        answer_after=CALLBACK_ANSWER_S if caller.answers_callback else None,
                        talk_seconds=caller.handle_s)
    calls, start = [], sim.clock.now()
    for caller in callers:
        sim.clock.sleep(start + caller.arrival_s - sim.clock.now())
        script = CallerScript(
            keys=("1",) if caller.wants_callback else (),  # confirm the caller id, or nothing
            barge=barge,
            patience=to_desk + caller.patience_s,
            talk_seconds=caller.handle_s,
            message_seconds=5.0 if caller.leaves_message else 0.5,
            hold_key=CALLBACK_KEY if caller.wants_callback else None,
            hold_key_after=to_desk + surge.callback_at * caller.patience_s,
        )
        calls.append(sim.place_call(script, caller_number=caller.number))
    for call in calls:
        call.wait_done()
    return calls


def guarded(what: str) -> gevent.Timeout:
    """Ends the bench if one run takes longer than RUN_GUARD_S real seconds (a hang)."""
    return gevent.Timeout(RUN_GUARD_S, SystemExit(f"{what}: still running after "
                                                  f"{RUN_GUARD_S:g} real seconds"))


def add_desk_phones(sim: Simulator, extensions: list[str]) -> None:
    for ext in extensions:
        sim.add_phone(ext, answer_after=ANSWER_AFTER_S, talk_seconds=STAFF_TALK_S)


# -- before frontdesk: the shipped static fallback ---------------------------------------------


def ring_group(callers: list[Caller], staff: int, surge: Surge) -> dict[str, object]:
    extensions = [f"10{n + 1:02d}" for n in range(staff)]
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-ring-") as tmp:
        with socket.socket() as closed:  # a port nobody listens on: every call falls back
            closed.bind(("127.0.0.1", 0))
            nobody = closed.getsockname()
        clock = VirtualClock()
        sim = Simulator(
            password=PASSWORD,
            daemon_address=nobody,
            clock=clock,
            heartbeat_interval=0,
            fallback_extensions=extensions,
            fallback_prompt=str(EXAMPLE / "prompts/fallback.wav"),
            fallback_messages=tmp,
        )
        sim.start()
        try:
            with guarded(f"the ring group, {staff} staff"):
                add_desk_phones(sim, extensions)
                calls = place(sim, callers, barge=None, to_desk=0.0, surge=surge)
        finally:
            sim.stop()
            clock.stop()
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
    lost_why: dict[str, int]
    announcements: list[tuple[dict[str, float], float]]
    """Each announcement's estimates, with the rest of the wait that caller really had."""


def frontdesk(
    callers: list[Caller], staff: int, surge: Surge, settings: QueueSettings
) -> QueueRun:
    extensions = [f"10{n + 1:02d}" for n in range(staff)]
    listed = "[" + ", ".join(f'"{e}"' for e in extensions) + "]"

    def edit(text: str) -> str:
        text = text.replace(DESK_EXTENSIONS, listed)
        text = text.replace('# announce_prompt = "a_prompt"', ANNOUNCE_PROMPT, 1)
        return settings.edit(text)

    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-queue-") as tmp:
        workdir = Path(tmp)
        config = load_config(copy_practice(workdir, edit))
        opening = Schedule(config.schedule, config.practice).state_at(MONDAY_MORNING)
        assert opening.state == "open", f"the practice is {opening.state} on Monday morning"
        to_desk = BARGE_S + media_seconds(str(config.prompts["connecting"].uri))
        with Rig(config, workdir / "var", answer_after=ANSWER_AFTER_S,
                 heartbeat_interval=20) as rig, guarded(f"frontdesk, {staff} staff"):
            log_in(rig, extensions)
            calls = place(rig.sim, callers, barge="0", to_desk=to_desk, surge=surge)
            drain_callbacks(rig)
        database = workdir / "var/rehearse.db"
        with Store(database) as store:
            rows = {row["uuid"]: row for row in store.calls()}
            events: dict[str, list[dict]] = {}
            for event in store.queue_events():
                events.setdefault(event["call_uuid"], []).append(event)
            logins = {e.extension for e in store.staff_events() if e.event == "login"}
            states = {r.call_uuid: r.state for r in store.callbacks(("pending", "failed"))}
        assert logins == set(extensions), f"staff logged in: {sorted(logins)}"
        outcomes = [queue_outcome(rows[c.uuid], events.get(c.uuid, []), states.get(c.uuid))
                    for c in calls]
    answered = [o.wait_s for o in outcomes if o.served and o.callback is None]
    called_back = [o.wait_s for o in outcomes if o.callback == "completed"]
    n = len(outcomes)
    to_queue = [  # answer of the call to its queue entry
        (e["at"] - rows[c.uuid]["started_at"]).total_seconds()
        for c in calls
        for e in events.get(c.uuid, [])[:1]
        if e["event"] == "entered"
    ]
    figures = {
        "staff": staff,
        "served": sum(o.served for o in outcomes),
        "SL 20 s %": 100 * sum(w <= 20 for w in answered) / n,
        "SL 30 s %": 100 * sum(w <= 30 for w in answered) / n,
        "abandon %": 100 * sum(o.abandoned for o in outcomes) / n,
        "avg wait s": statistics.fmean(answered) if answered else math.nan,
        "p90 wait s": percentile(answered, 0.9) if answered else math.nan,
        "overflowed": sum(any(e["event"] == "overflowed" for e in events.get(c.uuid, []))
                          for c in calls),
        "messages": sum(o.message for o in outcomes),
        "cb asked": sum(o.callback is not None and not o.missed for o in outcomes),
        "cb missed": sum(o.missed for o in outcomes),
        "cb done": len(called_back),
        "cb failed": sum(o.callback == "failed" for o in outcomes),
        "cb pending": sum(o.callback == "pending" for o in outcomes),
        "cb wait med s": statistics.median(called_back) if called_back else math.nan,
        "to queue s": statistics.median(to_queue) if to_queue else math.nan,
    } | lost_counts(outcomes)
    announcements = [
        (estimates, answered_wait - at_wait)
        for uuid_events in events.values()
        for estimates, at_wait, answered_wait in announced(uuid_events)
    ]
    lost = [o for o in outcomes if not o.served]
    lost_why = {
        "no callback": sum(o.callback is None for o in lost),
        "of them with msg": sum(o.callback is None and o.message for o in lost),
        "cb failed": sum(o.callback == "failed" for o in lost),
        "cb pending": sum(o.callback == "pending" for o in lost),
    }
    return QueueRun(figures, lost_why, announcements)


def log_in(rig: Rig, extensions: list[str]) -> None:
    """Only the desk phones of this staffing are registered; each staff member dials *50."""
    assert rig.daemon.control.wait_connected(5), "the daemon did not connect to the simulator"
    for ext, phone in rig.sim.phones.items():
        phone.talk_seconds = STAFF_TALK_S
        if ext not in extensions:
            rig.sim.set_registered(ext, False)
    for ext in extensions:  # the first at the surge's start: the daemon's calendar runs on
        rig.place(CallerScript(), at=MONDAY_MORNING, caller_number=ext,
                  destination="*50").wait_done()


def drain_callbacks(rig: Rig) -> None:
    """Let simulated time run until no callback is pending (placed, or given up), at most
    CALLBACK_DRAIN_S."""
    deadline = rig.clock.now() + CALLBACK_DRAIN_S
    while rig.daemon.store.callbacks(("pending",)) and rig.clock.now() < deadline:
        rig.clock.sleep(1.0)


def queue_outcome(row: dict, events: list[dict], callback_state: str | None) -> Outcome:
    """From the database alone: the "answered" queue event's wait (queue entry to answer), a
    callback (requested; "callback_completed" with its wait, or its state in the callbacks
    table: "failed" after every attempt, or still "pending"), an
    "abandoned" one, or the call's voicemail (an overflow, or nobody answering)."""
    kinds = {event["event"]: event for event in events}
    abandoned = "abandoned" in kinds
    attempts = sum(event["event"] == "callback_placed" for event in events)
    missed = "callback_requested" in kinds and "missed" in (kinds["callback_requested"]["detail"]
                                                              or "")
    if "answered" in kinds:
        return Outcome(served=True, wait_s=kinds["answered"]["wait"])
    if "callback_completed" in kinds:
        return Outcome(served=True, wait_s=kinds["callback_completed"]["wait"],
                       callback="completed", abandoned=abandoned, missed=missed)
    if "callback_requested" in kinds:
        return Outcome(served=False, callback=callback_state or "pending", abandoned=abandoned,
                       missed=missed, message=message_left(row["message_file"]),
                       attempts=attempts)
    return Outcome(served=False, message=message_left(row["message_file"]), abandoned=abandoned)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a quarter of the surge, 3 staff")
    parser.add_argument("--seed", type=int, default=Surge.seed)
    parser.add_argument("--max-wait", type=float, help="instead of the example's")
    parser.add_argument("--on-max-wait", choices=("callback", "voicemail"),
                        help="instead of the example's")
    args = parser.parse_args()
    started = time.perf_counter()
    settings = QueueSettings(max_wait=args.max_wait, on_max_wait=args.on_max_wait)
    configure_logging("error")  # the daemon's warnings (a callback given up) are in the figures
    surge = Surge(seed=args.seed)
    if args.quick:
        surge = Surge(seed=args.seed, calls=surge.calls // 4, hour_s=surge.hour_s / 4)
    staffing = (3,) if args.quick else (1, 3, 5)
    callers = trace(surge)
    print(f"surge: {surge}")
    print(f"mean handle {surge.handle_mean_s:.0f} s; simulated time (a virtual clock per run); "
          f"phones answer after {ANSWER_AFTER_S:.0f} s; a message is a voicemail of "
          f"{MESSAGE_MIN_S:.0f} s or more")
    print(f"callers: {100 * surge.callback_share:.0f} % would rather be called back (press "
          f"{CALLBACK_KEY} on hold at {100 * surge.callback_at:.0f} % of their patience, confirm "
          f"with 1, also when offered; the others decline an offer); "
          f"{100 * surge.callback_unreachable:.0f} % of them never pick up the callback, the "
          f"others after {CALLBACK_ANSWER_S:.0f} s; drawn: "
          f"{sum(c.wants_callback for c in callers)} of {len(callers)} callers")
    print("frontdesk's config: the example practice's, desk extensions per staffing; [queue]: "
          + settings.describe())
    rings = [ring_group(callers, s, surge) for s in staffing]
    runs = [frontdesk(callers, s, surge, settings) for s in staffing]
    show("Erlang C prediction (M/M/s, nobody abandons, no wrap-up)",
         [erlang_row(surge, s) for s in staffing])
    show("frontdesk's queue: the real daemon (outcomes from its database; served ="
         " answered live + called back; SL and waits: callers answered live)",
         [{k: v for k, v in run.figures.items() if not k.startswith("cb ")} for run in runs])
    show("frontdesk's callbacks (queue_events and the callbacks table): asked, completed (the "
         "patient bridged to staff), failed every attempt, still pending at the end",
         [{"staff": run.figures["staff"]}
          | {k: v for k, v in run.figures.items() if k.startswith("cb ")} for run in runs])
    show("Before frontdesk: the shipped static fallback, ring all desk phones 25 s -> voicemail",
         rings)
    show("Patients lost (hung up unserved; 'no msg' = without leaving a message either)",
         [{"staff": s,
           "ring, no msg": r["lost, no msg"], "queue, no msg": q.figures["lost, no msg"],
           "ratio no msg": r["lost, no msg"] / max(q.figures["lost, no msg"], 1),
           "ring total": r["lost in total"], "queue total": q.figures["lost in total"],
           "ratio total": r["lost in total"] / max(q.figures["lost in total"], 1),
           "queue never rung back": q.figures["never rung back"],
           "ratio": r["never rung back"] / max(q.figures["never rung back"], 1)}
          for s, r, q in zip(staffing, rings, runs, strict=True)])
    show("Why frontdesk lost them: no callback (declined the one offered, a hidden number, or "
         "hung up before missed_after), a callback that failed every attempt, one still "
         "pending at the end",
         [{"staff": s} | run.lost_why for s, run in zip(staffing, runs, strict=True)])
    for s, run in zip(staffing, runs, strict=True):
        show(f"Wait estimates vs the wait each answered caller really had, {s} staff "
             "(every announcement in queue_events)", estimator_rows(run.announcements))
    print(f"\nwall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
