"""The agenda's figures: from the caller's confirmation to the appointment written, and the
search for free slots, for the built-in agenda and for CalDAV against a local Radicale.

One practice for both: 5 practitioners working 8:30-12:00 and 14:00-17:30 on weekdays,
15-minute consultations, 500 patients, and 13 weeks of appointments (--fill of every slot
booked, all but one in thirty by default, drawn with a fixed seed) in the daemon's store
(builtin) or in one Radicale calendar per practitioner (caldav): booked through the adapter
(builtin), or written as the adapter's own events, each calendar in one PUT (caldav); the
seeding's time is printed, not measured.
Then the adapter alone, one booking or search at a time:
- book: `Agenda.book` of a free slot, what runs between the caller's confirmation key and
  the appointment stored (the CalDAV adapter reads the slot, writes the event with
  If-None-Match and reads the slot again); 200 bookings, p50 and p99;
- search: `Agenda.free_slots` of 3 consultations after a random moment of the period, for one
  practitioner and for the first available of the 5; 50 searches each, p50 and p99.
Then by phone (--calls, for each --parallel): the real daemon and the simulator in this process
(`frontdesk.rehearse.Rig`, the example practice's config), the daemon on real time set to the
first Monday's opening, the simulated caller's prompts played 100 times faster
(`ScaledClock(CALL_SCALE)`). Each call is a different patient of the directory booking by phone:
appointments, a new one, whom to see, the first slot offered, confirm (again "first slot,
confirm" when it was taken meanwhile). --parallel lines, each placing one call after another:
on one line the callers ask for the first available; on N lines at once, line n asks for
practitioner n (callers all asking for the first available at the same moment are all offered
the same slot: a race the tests cover, not a load). Each appointment is cancelled through the
adapter after its call (untimed): every caller meets the same agenda, whatever --calls.
- key -> appointment written: from the simulator sending the confirmation key to the daemon
  (the CHANNEL_EXECUTE_COMPLETE carrying it, `SimCall.keys_delivered`) to the adapter's `book`
  returning in the daemon (the built-in agenda's row committed; CalDAV's event PUT answered and
  the slot read back), for the calls booked;
- choice key -> slots heard: from the key choosing whom to see to the daemon's next command,
  the prompt offering the first slots (the search, and the sentence's synthesis by espeak-ng).
--quick: 2 weeks, 20 bookings, 10 searches, 10 calls.
Real time (these are input/output figures), Radicale on loopback in its own process as
`tests/radicale_rig.py` starts it for the tests (with its item cache trusting file times and
sizes: Radicale reads every event of a calendar for each query), the daemon's store in a
temporary directory.

Usage: .venv/bin/python bench/bench_agenda.py [--agenda builtin|caldav|both] [--quick]
       [--calls N] [--parallel 1,5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import gevent
import gevent.pool
import icalendar
import structlog

from bench_load import copy_practice
from frontdesk.agenda import (
    Agenda,
    Appointment,
    AppointmentType,
    Patient,
    Practitioner,
    Slot,
    SlotTaken,
)
from frontdesk.agenda.caldav import CalDAVAgenda, booking_event, uid_of
from frontdesk.config import load_config
from frontdesk.config.model import AgendaSettings, Config
from frontdesk.rehearse import RealTimeAt, Rig, moment_for
from frontdesk.sim import CallerScript, ScaledClock
from frontdesk.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from radicale_rig import USERNAME, Radicale  # noqa: E402  (the tests' Radicale)

ZONE = ZoneInfo("Europe/Paris")
FIRST_DAY = date(2027, 3, 1)  # a Monday
PRACTITIONERS = ("martin", "durand", "leroy", "moreau", "petit")
HOURS = [(time_of_day(8, 30), time_of_day(12)), (time_of_day(14), time_of_day(17, 30))]
MINUTES = 15
PATIENTS = 500
SEED_CONCURRENCY = 8
CALL_SCALE = 0.01
"""Real seconds per simulated second of the simulated callers (their prompts, their keys)."""
HEARTBEAT_S = 20.0
"""Real seconds between the simulator's heartbeats, as FreeSWITCH's: on real time the daemon's
control connection counts on them (`[freeswitch] heartbeat_timeout`)."""
CALL_GUARD_S = 300.0
"""Real seconds a call may take before it counts as failed (a hang, not a figure)."""
NEW_APPOINTMENT = ("2", "1")
"""Main menu: appointments; appointment menu: a new one."""
FIRST_AVAILABLE = "1"
FIRST_SLOT_CONFIRMED = ("1", "1") * 5
"""The first slot offered, confirmed; again as long as it was taken meanwhile."""
CHOICE = len(NEW_APPOINTMENT)
"""The index, among a call's accepted keys, of the one choosing whom to see."""


def make_directory(store: Store) -> None:
    """The practitioners (each with a calendar named after them), their hours and the type."""
    for doctor in PRACTITIONERS:
        store.add_practitioner(Practitioner(doctor, doctor.title(), doctor))
        for weekday in range(5):
            store.set_hours(doctor, weekday, HOURS)
    store.add_appointment_type(AppointmentType("consultation", MINUTES, "Consultation"))


def add_patients(store: Store) -> list[Patient]:
    entries = [(f"Patient {n}", f"06{n:08d}", None) for n in range(PATIENTS)]
    return [patient for patient, _ in store.add_patients(entries)]


def every_slot(weeks: int) -> list[Slot]:
    slots = []
    for offset in range(weeks * 7):
        day = FIRST_DAY + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for doctor in PRACTITIONERS:
            for start, end in HOURS:
                moment = datetime.combine(day, start, ZONE)
                while moment < datetime.combine(day, end, ZONE):
                    slots.append(Slot(doctor, moment, moment + timedelta(minutes=MINUTES),
                                      "consultation"))
                    moment += timedelta(minutes=MINUTES)
    return slots


def seed_builtin(agenda: Agenda, slots: list[Slot], patients: list[Patient],
                 rng: random.Random) -> None:
    """Book `slots` through the adapter, SEED_CONCURRENCY at a time."""
    pool = gevent.pool.Pool(SEED_CONCURRENCY)
    for slot in slots:
        pool.spawn(agenda.book, slot, rng.choice(patients), by="seed")
    pool.join(raise_error=True)


def seed_caldav(radicale: Radicale, slots: list[Slot], patients: list[Patient],
                rng: random.Random) -> None:
    """Write `slots` as the adapter's own events, each practitioner's calendar in one PUT of
    the whole calendar (Radicale's import; booking them one by one takes minutes)."""
    stamp = datetime.now(UTC)
    for doctor in PRACTITIONERS:
        calendar = icalendar.Calendar()
        calendar.add("PRODID", "-//frontdesk bench//EN")
        calendar.add("VERSION", "2.0")
        for slot in (s for s in slots if s.practitioner == doctor):
            patient = rng.choice(patients)
            appointment = Appointment(
                f"{uid_of(doctor, slot.start)}#seed", doctor, slot.start, slot.end, slot.kind,
                patient.id, patient.name, patient.phone, booked_by="seed",
            )
            text = booking_event(appointment, "Consultation", stamp)
            calendar.add_component(icalendar.Calendar.from_ical(text).events[0])
        answer = radicale.client().put(f"{radicale.url}{doctor}/", calendar.to_ical().decode(),
                                       {"Content-Type": "text/calendar; charset=utf-8"})
        assert answer.status in (201, 204), answer.status


def timed(runs: int, once: Callable[[], object]) -> list[float]:
    durations = []
    for _ in range(runs):
        began = time.perf_counter()
        once()
        durations.append(time.perf_counter() - began)
    return durations


def figures(name: str, durations: list[float]) -> str:
    ms = sorted(d * 1000 for d in durations)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (f"  {name:<34} p50 {statistics.median(ms):8.1f} ms   p99 {p99:8.1f} ms"
            f"   ({len(ms)} runs)")


def measure(agenda: Agenda, patients: list[Patient], args: argparse.Namespace) -> None:
    rng = random.Random(args.seed + 1)
    period = timedelta(weeks=args.weeks)
    start = datetime.combine(FIRST_DAY, time_of_day(0), ZONE)

    def random_moment() -> datetime:
        return start + timedelta(seconds=rng.uniform(0, period.total_seconds() * 0.9))

    def book_one() -> None:
        slot = agenda.free_slots("consultation", rng.choice(PRACTITIONERS), random_moment(), 1)[0]
        began = time.perf_counter()
        try:
            agenda.book(slot, rng.choice(patients), by="phone")
        except SlotTaken:
            raise SystemExit("a free slot was taken: nobody else books here") from None
        written.append(time.perf_counter() - began)

    written: list[float] = []
    for _ in range(args.bookings):
        book_one()
    print(figures("book, the adapter alone", written))
    one = timed(args.searches, lambda: agenda.free_slots(
        "consultation", rng.choice(PRACTITIONERS), random_moment(), 3))
    print(figures("3 free slots, one practitioner", one))
    first = timed(args.searches, lambda: agenda.free_slots(
        "consultation", None, random_moment(), 3))
    print(figures("3 free slots, first available of 5", first))


class WriteTimes:
    """The daemon's agenda, noting when each booking began and returned, by patient: the
    appointment written. Counts the slots found taken meanwhile."""

    def __init__(self, agenda: Agenda) -> None:
        self._agenda = agenda
        self.written: dict[int, tuple[float, float, Appointment]] = {}
        self.taken = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agenda, name)

    def book(self, slot: Slot, patient: Patient, *, by: str) -> Appointment:
        began = time.perf_counter()
        try:
            appointment = self._agenda.book(slot, patient, by=by)
        except SlotTaken:
            self.taken += 1
            raise
        self.written[patient.id] = (began, time.perf_counter(), appointment)
        return appointment


def by_phone(rig: Rig, agenda: Agenda, callers: list[Patient], parallel: int) -> None:
    """`callers` book by phone on `parallel` lines at once, each line one call after another;
    prints the figures. On one line the caller asks for the first available; on several, line
    n asks for practitioner n (callers all wanting the first available at the same moment
    would all be offered the same slot: a race the tests cover, not a load). Each appointment
    is cancelled after its call, untimed: every caller meets the same agenda."""
    timed = WriteTimes(agenda)
    rig.daemon.agenda = timed
    opening = moment_for("open", rig.config, datetime.combine(FIRST_DAY, time_of_day(0), ZONE))
    written: list[float] = []
    search: list[float] = []
    failed: Counter[str] = Counter()

    def call(patient: Patient, choice: str) -> None:
        script = CallerScript(keys=(*NEW_APPOINTMENT, choice, *FIRST_SLOT_CONFIRMED))
        placed = rig.place(script, at=opening, caller_number=patient.phone)
        result = rig.result(placed, CALL_GUARD_S)
        booked = timed.written.get(patient.id)
        if result is None or result.outcome != "booked" or booked is None:
            failed[result.outcome if result else "no end recorded"] += 1
            return
        began, returned, appointment = booked
        confirmed = max(at for _, at in placed.keys_delivered if at <= began)
        written.append(returned - confirmed)
        search.append(placed.decision_latencies[CHOICE])
        agenda.cancel(appointment, by="bench")

    def line(n: int) -> None:
        choice = FIRST_AVAILABLE if parallel == 1 else str(2 + n % len(PRACTITIONERS))
        for patient in callers[n::parallel]:
            call(patient, choice)

    began = time.perf_counter()
    gevent.joinall([gevent.spawn(line, n) for n in range(parallel)], raise_error=True)
    whom = "first available" if parallel == 1 else "one practitioner per line"
    print(f"  by phone, {parallel} line(s) at once, {whom}: {len(callers)} calls in "
          f"{time.perf_counter() - began:.1f} s, {len(written)} booked, "
          f"{timed.taken} slot(s) taken meanwhile, failed: {dict(failed) or 'none'}")
    if written:
        print(figures("key -> appointment written", written))
        print(figures("choice key -> slots heard", search))


def practice(workdir: Path, settings: AgendaSettings) -> Config:
    """The example practice with `settings` as its agenda and a database holding the bench's
    directory, which the rig copies (`frontdesk.rehearse.seed_agenda`)."""
    config = load_config(copy_practice(workdir))
    database = workdir / "practice.db"
    with Store(database) as store:
        make_directory(store)
    return replace(config, storage=replace(config.storage, database=database), agenda=settings)


def run(kind: str, workdir: Path, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    slots = every_slot(args.weeks)
    booked = [slot for slot in slots if rng.random() < args.fill]
    settings = AgendaSettings(adapter=kind, horizon_days=7 * args.weeks, timeout=30)
    rig = Rig(practice(workdir, settings), workdir, clock=RealTimeAt(),
              sim_clock=ScaledClock(CALL_SCALE), heartbeat_interval=HEARTBEAT_S / CALL_SCALE)
    radicale = None
    try:
        if kind == "caldav":
            radicale = Radicale(workdir / "radicale")
        patients = add_patients(rig.daemon.store)
        agenda: Agenda
        if radicale is None:
            agenda = rig.seeded
        else:
            settings = replace(settings, caldav_url=radicale.url, caldav_username=USERNAME,
                               caldav_password_file=radicale.password_file)
            agenda = CalDAVAgenda(rig.daemon.store, settings, ZONE)
        began = time.perf_counter()
        if radicale is None:
            seed_builtin(agenda, booked, patients, rng)
        else:
            seed_caldav(radicale, booked, patients, rng)
        print(f"{kind}: {len(PRACTITIONERS)} practitioners, {args.weeks} weeks, "
              f"{len(booked)} of {len(slots)} slots booked "
              f"(seeded in {time.perf_counter() - began:.1f} s)")
        measure(agenda, patients, args)
        callers = random.Random(args.seed + 2).sample(patients, args.calls * len(args.parallel))
        for n, parallel in enumerate(args.parallel):
            by_phone(rig, agenda, callers[n * args.calls:(n + 1) * args.calls], parallel)
    finally:
        if radicale is not None:
            radicale.stop()
        rig.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agenda", choices=("builtin", "caldav", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="2 weeks, fewer runs")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fill", type=float, default=29 / 30, help="share of slots booked")
    parser.add_argument("--calls", type=int, help="calls booking by phone, for each --parallel "
                        "(default 100, 10 with --quick; 0: none)")
    parser.add_argument("--parallel", default="1,5",
                        help="callers on the line at once, one run each (default 1,5)")
    args = parser.parse_args()
    args.weeks, args.bookings, args.searches = (2, 20, 10) if args.quick else (13, 200, 50)
    if args.calls is None:
        args.calls = 10 if args.quick else 100
    args.parallel = [int(n) for n in args.parallel.split(",")] if args.calls else []
    if args.calls * len(args.parallel) > PATIENTS:
        parser.error(f"each call is another of the {PATIENTS} patients: too many calls")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    kinds = ("builtin", "caldav") if args.agenda == "both" else (args.agenda,)
    with tempfile.TemporaryDirectory(prefix="bench-agenda-") as workdir:
        for kind in kinds:
            run(kind, Path(workdir) / kind, args)


if __name__ == "__main__":
    main()
