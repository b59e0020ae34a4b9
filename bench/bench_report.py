"""The manager's report: how long its figures take for one month and for one year of a busy
practice.

A year of a busy practice (300 calls every working day, Monday to Friday; --quick: 3 months)
is written in a temporary database through the Store's own methods, one write at a time as the
daemon writes them: each call's row, its queue events (entered, announced with the estimates,
answered or abandoned), its agenda action, its callback, the staff's mark on its message. The
mix (seeded, so every run writes the same records): calls from 6000 patients' numbers (so
some call again) and 3 % hidden numbers; 10 % outside opening hours (information or a
message); of the rest 55 % ask for the desk, 15 % mean to book (70 % book, the others go to the
desk), 12 % leave a prescription request, 6 % want information, 1 % emergencies; at the desk
85 % are answered after a wait of about 40 s, 12 % hang up, 3 % ask for a callback. The database
lives in /dev/shm when there is one: writing it is not what is timed.

Then, timed (wall clock, the best of --repeat runs): `compute` for the last month, for the
whole period, and what `frontdesk report --month` does for the last month (that month and the
one before computed, the terminal summary, the CSV files, the HTML report). Prints those times
and the year's figures. Usage: .venv/bin/python bench/bench_report.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from frontdesk.config.model import PracticeSettings, ReportSettings
from frontdesk.report.figures import Figures, Period, compute
from frontdesk.report.html import write_html
from frontdesk.report.text import terminal_summary, write_csv
from frontdesk.store import Store

ZONE = ZoneInfo("Europe/Paris")
CALLS_A_DAY = 300
PATIENTS = 6000
SETTINGS = ReportSettings()
ESTIMATES = "position={position},frontdesk={said:.0f},asterisk={said:.0f},queue_length=60"


def working_days(first: date, last: date) -> list[date]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def write_practice(store: Store, days: list[date], rng: random.Random) -> int:
    """The calls of `days`; returns how many."""
    count = 0
    for day in days:
        for n in range(CALLS_A_DAY):
            write_call(store, f"{day:%Y%m%d}-{n:04d}", start_of_call(day, rng), rng)
            count += 1
    store.flush()
    return count


def start_of_call(day: date, rng: random.Random) -> datetime:
    """Busiest from 8 to 10, quieter after lunch; a few outside opening hours."""
    hour = rng.choices(range(7, 21), weights=(2, 14, 14, 10, 8, 3, 4, 8, 8, 7, 6, 4, 2, 1))[0]
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60),
                    tzinfo=ZONE)


def write_call(store: Store, uuid: str, start: datetime, rng: random.Random) -> None:
    number = "anonymous" if rng.random() < 0.03 else f"06{rng.randrange(PATIENTS):08d}"
    closed = start.hour < 8 or start.hour >= 19 or start.hour == 12
    store.call_started(uuid, caller_number=number, caller_name="", destination="0140000000",
                       started_at=start, schedule_state="closed" if closed else "open",
                       schedule_detail="", config_version="bench")
    roll = rng.random()
    if closed:
        reason, outcome = ("information", "information") if roll < 0.6 else ("other", "message")
    elif roll < 0.15:
        reason, outcome = "appointment_new", "booked" if rng.random() < 0.7 else "desk"
    elif roll < 0.27:
        reason, outcome = "prescription", "message"
    elif roll < 0.33:
        reason, outcome = "information", "information"
    elif roll < 0.34:
        reason, outcome = "emergency", "desk"
    else:
        reason, outcome = "speak_to_someone", "desk"
    answered_at = None
    length = rng.uniform(20, 90)
    if outcome == "desk":
        outcome, answered_at, length = queued(store, uuid, start, number, reason, rng)
    elif outcome == "booked":
        store.agenda_action(uuid, "booked", uuid, at=start + timedelta(seconds=length))
    message = f"/var/lib/frontdesk/messages/{uuid}.wav" if outcome == "message" else None
    store.call_finished(uuid, ended_at=start + timedelta(seconds=length),
                        answered_at=answered_at, path=[{"node": "main", "event": "enter"}],
                        reason=reason, outcome=outcome, hangup_cause="NORMAL_CLEARING",
                        message_file=message)
    if message is not None and rng.random() < 0.9:
        store.message_done(uuid, by="console:anne",
                           at=start + timedelta(hours=rng.uniform(0.2, 30)))


def queued(store: Store, uuid: str, start: datetime, number: str, reason: str,
           rng: random.Random) -> tuple[str, datetime | None, float]:
    """The caller waits for the desk: answered, gone, or called back. Returns the outcome,
    when a human answered and the call's length."""
    emergency = reason == "emergency"
    entered = start + timedelta(seconds=8)
    store.queue_event(uuid, "entered", at=entered, wait=0.0,
                      detail="emergency" if emergency else None)
    wait = rng.uniform(2, 15) if emergency else rng.lognormvariate(3.4, 0.8)
    said = max(wait * rng.uniform(0.6, 1.4) - 3, 0)
    store.queue_event(uuid, "announced", at=entered + timedelta(seconds=3), wait=3.0,
                      detail=ESTIMATES.format(position=rng.randint(1, 6), said=said))
    roll = rng.random()
    if emergency or roll < 0.85:
        answered = entered + timedelta(seconds=wait)
        store.queue_event(uuid, "answered", at=answered, wait=wait, extension="201")
        talk = rng.lognormvariate(4.8, 0.5)
        outcome = "emergency_answered" if emergency else "answered"
        return outcome, answered, (answered - start).total_seconds() + talk
    if roll < 0.97:
        store.queue_event(uuid, "abandoned", at=entered + timedelta(seconds=wait), wait=wait)
        return "abandoned", None, 8 + wait
    asked = entered + timedelta(seconds=wait)
    store.queue_event(uuid, "callback_requested", at=asked, wait=wait)
    callback = store.callback_requested(uuid, number=number, call_started_at=start,
                                        requested_at=asked, extensions=["201"])
    store.callback_attempted(callback, at=asked + timedelta(minutes=rng.uniform(5, 90)),
                             result="201", state="completed")
    return "callback", None, 8 + wait + 20


def timed(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - began)
    return best, result


def whole_report(store: Store, month: Period, now: datetime, out: Path) -> None:
    current = compute(store, month, SETTINGS, ZONE, now=now)
    previous = compute(store, month.previous(), SETTINGS, ZONE, now=now)
    terminal_summary(current, previous)
    write_csv(current, previous, out / "csv")
    write_html(current, previous, out / "report.html",
               PracticeSettings(name="Cabinet du Parc", language="fr"), SETTINGS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 months instead of a year")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    args = parser.parse_args()
    first = date(2026, 10, 1) if args.quick else date(2026, 1, 1)
    last = date(2026, 12, 31)
    rng = random.Random(13)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        directory = Path(tmp)
        with Store(directory / "frontdesk.db") as store:
            began = time.perf_counter()
            calls = write_practice(store, working_days(first, last), rng)
            print(f"wrote {calls} calls ({first} to {last}) in "
                  f"{time.perf_counter() - began:.0f} s")
            now = datetime(2027, 1, 1, 9, tzinfo=ZONE)
            month = Period.month(2026, 12, ZONE)
            whole = Period.days(first, last, ZONE)
            month_s, figures = timed(lambda: compute(store, month, SETTINGS, ZONE, now=now),
                                     args.repeat)
            whole_s, year = timed(lambda: compute(store, whole, SETTINGS, ZONE, now=now),
                                  args.repeat)
            report_s, _ = timed(lambda: whole_report(store, month, now, directory),
                                args.repeat)
            before = compute(store, month.previous(), SETTINGS, ZONE, now=now)
        assert isinstance(figures, Figures) and isinstance(year, Figures)
        print(f"compute, one month ({figures.total.calls} calls): {month_s:.2f} s")
        print(f"compute, {whole.label} ({year.total.calls} calls): {whole_s:.2f} s")
        print(f"frontdesk report --month 2026-12 --csv --html (two months, text, CSV, HTML): "
              f"{report_s:.2f} s")
        print()
        print(terminal_summary(figures, before))


if __name__ == "__main__":
    main()
