"""The built-in agenda under a practice's real load: slot search and booking.

Five practitioners, each consulting 7 hours a day on weekdays, in 15-minute appointments, with
three months of appointments already booked (all but about one slot in thirty); then the
time to find the first 3 free slots (one practitioner, and "first available": all five) and
the time to book one (the overlap check and the write in one transaction, `synchronous=FULL`:
on the SD card of the box this is mostly the fsync). Prints its figures; asserts nothing.
Usage: .venv/bin/python bench/bench_agenda.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from zoneinfo import ZoneInfo

from frontdesk.agenda import AppointmentType, Patient, Practitioner
from frontdesk.agenda.builtin import BuiltinAgenda
from frontdesk.config.model import AgendaSettings
from frontdesk.logs import configure_logging
from frontdesk.store import Store

ZONE = ZoneInfo("Europe/Paris")
START = datetime.combine(date(2026, 12, 7), time_of_day(), ZONE)
PRACTITIONERS = [f"doctor{n}" for n in range(1, 6)]
HOURS = [(time_of_day(8, 30), time_of_day(12, 0)), (time_of_day(14, 0), time_of_day(17, 30))]
FREE_SHARE = 1 / 30


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of each of `runs` runs."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return times


def seeded_agenda(store: Store, days: int) -> tuple[BuiltinAgenda, Patient]:
    store.add_appointment_type(AppointmentType("consultation", 15))
    for practitioner in PRACTITIONERS:
        store.add_practitioner(Practitioner(practitioner, practitioner))
        for weekday in range(5):
            store.set_hours(practitioner, weekday, HOURS)
    ((patient, _),) = store.add_patients([("Bench Patient", "0600000000", None)])
    agenda = BuiltinAgenda(store, AgendaSettings(horizon_days=days + 30), ZONE)
    chance = random.Random(7)
    for practitioner in PRACTITIONERS:
        for slot in agenda.free_slots("consultation", practitioner, START, 100_000):
            if slot.start >= START + timedelta(days=days):
                break
            if chance.random() >= FREE_SHARE:
                agenda.book(slot, patient, by="bench")
    return agenda, patient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two weeks of appointments")
    args = parser.parse_args()
    configure_logging("warning")
    days = 14 if args.quick else 91
    with tempfile.TemporaryDirectory() as workdir, Store(Path(workdir) / "bench.db") as store:
        began = time.perf_counter()
        agenda, patient = seeded_agenda(store, days)
        booked = len(agenda.between(START, START + timedelta(days=days)))
        print(f"seeded {booked} appointments over {days} days for {len(PRACTITIONERS)} "
              f"practitioners in {time.perf_counter() - began:.1f} s")
        for who, label in ((PRACTITIONERS[0], "one practitioner"), (None, "first available")):
            times = timed(lambda who=who: agenda.free_slots("consultation", who, START, 3), 50)
            print(f"first 3 free slots, {label}: p50 {statistics.median(times):.1f} ms, "
                  f"p99 {percentile(times, 0.99):.1f} ms")
        free = iter(agenda.free_slots("consultation", None, START, 200))
        times = timed(lambda: agenda.book(next(free), patient, by="bench"), 200)
        print(f"booking (check and write, one transaction): p50 {statistics.median(times):.1f} "
              f"ms, p99 {percentile(times, 0.99):.1f} ms")


if __name__ == "__main__":
    main()
