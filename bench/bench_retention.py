"""The retention purge of a busy practice (300 calls a day) and what it costs the calls.

A database with 395 days of call records (per call: its row, 4 queue events, 2 staff phone
states; a callback, an agenda action and a console action for some), then
`Store.purge_call_records`, as the daily job runs it:
- a day: the records of the day that just passed the year (the purge of every night);
- a year: 365 days at once (the first purge of a box that kept everything, or a retention
  shortened from two years to one).
Meanwhile a call's writes go on: every 20 ms a queue event is written (`Store.queue_event`,
then `flush`: how long it waited for the database); the figures are that wait's p50, p99
and max, against the same with no purge. `--batch` sets `PURGE_BATCH` (rows per statement).

The rows are seeded with sqlite3 in one transaction, not through the store (whose writes
commit one by one, each synced: a year would take hours); seeding is not measured. Real
time, the database in a temporary directory on this machine's disk (an SD card is slower:
compare the max wait with `BUSY_TIMEOUT_MS` and the call path's `OVERRIDE_WAIT`).

Usage: .venv/bin/python bench/bench_retention.py [--quick] [--batch 100,500,2000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent

import frontdesk.store
from bench_load import show
from frontdesk.logs import configure_logging
from frontdesk.store import Store

CALLS_PER_DAY = 300
DAYS = 395
NOW = datetime(2027, 3, 2, 2, 30, tzinfo=UTC)
WRITE_EVERY_S = 0.02


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def seed(path: Path, days: int) -> None:
    Store(path).close()  # the schema
    with sqlite3.connect(path) as db:
        for day in range(days):
            for n in range(CALLS_PER_DAY):
                at = NOW - timedelta(days=days - day, seconds=-n * 100)
                uuid, moment = f"{day:04d}-{n:04d}", ts(at)
                db.execute(
                    "INSERT INTO calls (uuid, caller_number, caller_name, destination,"
                    " started_at, ended_at, schedule_state, config_version, path, outcome)"
                    " VALUES (?, '0639981234', '', '5000', ?, ?, 'open', 'bench', '[]',"
                    " 'answered')", [uuid, moment, moment])
                db.executemany(
                    "INSERT INTO queue_events (call_uuid, at, event, wait) VALUES (?, ?, ?, 1)",
                    [(uuid, moment, event) for event in ("entered", "announced", "offered",
                                                         "answered")])
                db.executemany(
                    "INSERT INTO staff_states (at, extension, state, registered, logged_in)"
                    " VALUES (?, ?, ?, 1, 1)",
                    [(moment, f"10{n % 3:02d}", state) for state in ("talking", "idle")])
                if n % 10 == 0:
                    db.execute("INSERT INTO agenda_actions (call_uuid, action, at)"
                               " VALUES (?, 'booked', ?)", [uuid, moment])
                    db.execute("INSERT INTO console_actions (at, user, action)"
                               " VALUES (?, 'anne', 'done')", [moment])
                if n % 20 == 0:
                    db.execute(
                        "INSERT INTO callbacks (call_uuid, number, call_started_at,"
                        " requested_at, extensions, state) VALUES (?, '0639981234', ?, ?,"
                        " '1001', 'completed')", [uuid, moment, moment])


class Writer:
    """A call's writes during the purge: how long each waited to be written."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.waits: list[float] = []
        self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            began = time.perf_counter()
            self.store.queue_event("writer", "offered", at=NOW)
            self.store.flush()
            self.waits.append(time.perf_counter() - began)
            gevent.sleep(WRITE_EVERY_S)

    def stop(self) -> list[float]:
        self._greenlet.kill()
        return self.waits


def measure(path: Path, label: str, cutoff: datetime | None, batch: int) -> dict:
    frontdesk.store.PURGE_BATCH = batch
    with Store(path) as store:
        writer = Writer(store)
        gevent.sleep(0.5)  # the writer's pace before
        began = time.perf_counter()
        purged = store.purge_call_records(cutoff) if cutoff is not None else {}
        seconds = time.perf_counter() - began
        gevent.sleep(0.2)
        waits = sorted(writer.stop())
    ms = [wait * 1000 for wait in waits]
    return {
        "purge": label,
        "batch": batch,
        "rows": sum(purged.values()),
        "seconds": seconds,
        "write p50 ms": statistics.median(ms),
        "write p99 ms": ms[int(len(ms) * 0.99)],
        "write max ms": ms[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="40 days, one batch size")
    parser.add_argument("--batch", default="", help="rows per statement, comma-separated")
    args = parser.parse_args()
    configure_logging("warning")
    default = frontdesk.store.PURGE_BATCH
    batches = [int(b) for b in args.batch.split(",") if b] or (
        [default] if args.quick else [100, default, 5000])
    days = 40 if args.quick else DAYS
    year = days - 30
    rows = []
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        for batch in batches:
            path = Path(tmp) / f"purge-{batch}.db"
            began = time.perf_counter()
            seed(path, days)
            print(f"seeded {days} days x {CALLS_PER_DAY} calls in "
                  f"{time.perf_counter() - began:.0f} s ({path.stat().st_size >> 20} MiB)")
            rows.append(measure(path, "none", None, batch))
            rows.append(measure(path, "a day", NOW - timedelta(days=days - 1), batch))
            rows.append(measure(path, f"{year} days", NOW - timedelta(days=30), batch))
            path.unlink()
    show(f"Purge of call records, {CALLS_PER_DAY} calls a day; a call's write every "
         f"{WRITE_EVERY_S * 1000:.0f} ms meanwhile", rows)


if __name__ == "__main__":
    main()
