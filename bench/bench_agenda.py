"""The agenda's figures: from the caller's confirmation to the appointment written, and the
search for free slots, for the built-in agenda and for CalDAV against a local Radicale.

One practice for both: 5 practitioners working 8:30-12:00 and 14:00-17:30 on weekdays,
15-minute consultations, 500 patients, and 13 weeks of appointments (--fill of every slot
booked, all but one in thirty by default, drawn with a fixed seed) in frontdesk's store
(builtin) or in one Radicale calendar per practitioner (caldav): booked through the adapter
(builtin), or written as the adapter's own events, each calendar in one PUT (caldav); the
seeding's time is printed, not measured.
Then, one caller at a time:
- written: `Agenda.book` of a free slot, what runs between the caller's confirmation key and
  the appointment stored (the CalDAV adapter reads the slot, writes the event with
  If-None-Match and reads the slot again); 200 bookings, p50 and p99;
- search: `Agenda.free_slots` of 3 consultations after a random moment of the period, for one
  practitioner and for the first available of the 5; 50 searches each, p50 and p99.
--quick: 2 weeks, 20 bookings, 10 searches.
Real time (these are input/output figures), Radicale on loopback in its own process as
`tests/radicale_rig.py` starts it for the tests (with its item cache trusting file times and
sizes: Radicale reads every event of a calendar for each query), the daemon's store in a
temporary directory.

Usage: .venv/bin/python bench/bench_agenda.py [--agenda builtin|caldav|both] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import gevent.pool
import icalendar
import structlog

from frontdesk.agenda import (
    Agenda,
    Appointment,
    AppointmentType,
    Patient,
    Practitioner,
    Slot,
    SlotTaken,
)
from frontdesk.agenda.builtin import BuiltinAgenda
from frontdesk.agenda.caldav import CalDAVAgenda, booking_event, uid_of
from frontdesk.config.model import AgendaSettings
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


def make_directory(store: Store) -> list[Patient]:
    """The practitioners (each with a calendar named after them), their hours, the type and
    the patients."""
    for doctor in PRACTITIONERS:
        store.add_practitioner(Practitioner(doctor, doctor.title(), doctor))
        for weekday in range(5):
            store.set_hours(doctor, weekday, HOURS)
    store.add_appointment_type(AppointmentType("consultation", MINUTES, "Consultation"))
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
    print(figures("confirmation -> appointment written", written))
    one = timed(args.searches, lambda: agenda.free_slots(
        "consultation", rng.choice(PRACTITIONERS), random_moment(), 3))
    print(figures("3 free slots, one practitioner", one))
    first = timed(args.searches, lambda: agenda.free_slots(
        "consultation", None, random_moment(), 3))
    print(figures("3 free slots, first available of 5", first))


def run(kind: str, workdir: Path, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    slots = every_slot(args.weeks)
    booked = [slot for slot in slots if rng.random() < args.fill]
    settings = AgendaSettings(adapter=kind, horizon_days=7 * args.weeks, timeout=30)
    radicale = Radicale(workdir / "radicale") if kind == "caldav" else None
    with Store(workdir / f"{kind}.db") as store:
        patients = make_directory(store)
        agenda: Agenda
        if radicale is None:
            agenda = BuiltinAgenda(store, settings, ZONE)
        else:
            settings = replace(settings, caldav_url=radicale.url, caldav_username=USERNAME,
                               caldav_password_file=radicale.password_file)
            agenda = CalDAVAgenda(store, settings, ZONE)
        try:
            began = time.perf_counter()
            if radicale is None:
                seed_builtin(agenda, booked, patients, rng)
            else:
                seed_caldav(radicale, booked, patients, rng)
            print(f"{kind}: {len(PRACTITIONERS)} practitioners, {args.weeks} weeks, "
                  f"{len(booked)} of {len(slots)} slots booked "
                  f"(seeded in {time.perf_counter() - began:.1f} s)")
            measure(agenda, patients, args)
        finally:
            if radicale is not None:
                radicale.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agenda", choices=("builtin", "caldav", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="2 weeks, fewer runs")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fill", type=float, default=29 / 30, help="share of slots booked")
    args = parser.parse_args()
    args.weeks, args.bookings, args.searches = (2, 20, 10) if args.quick else (13, 200, 50)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    kinds = ("builtin", "caldav") if args.agenda == "both" else (args.agenda,)
    with tempfile.TemporaryDirectory(prefix="bench-agenda-") as workdir:
        for kind in kinds:
            run(kind, Path(workdir), args)


if __name__ == "__main__":
    main()
