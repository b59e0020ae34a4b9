"""Reminder calls placed per minute (frontdesk.agenda.reminders), for several `max_calls`.

The real daemon and the simulator in this process (`frontdesk.rehearse.Rig`) on a virtual
clock, with the example practice's config and `[reminders] enabled`: on Monday 7 December 2026
at 10:00 (the window's start), APPOINTMENTS appointments of Tuesday, each for its own patient
(an outside number of the simulator) who picks up after ANSWER_AFTER_S seconds, listens to the
sentence and presses 1 (confirmed in the built-in agenda). The figure is the number of
reminders ended per simulated minute, from 10:00 to the last one written; it depends on
simulated time only (ringing, the sentences' length, the key), never on the machine's speed or
load. The wall time is printed for information (espeak-ng renders each sentence once).
Prints its figures; asserts nothing.
Usage: .venv/bin/python bench/bench_reminders.py [--quick]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench_load import copy_practice, show
from frontdesk.agenda import AppointmentType, Practitioner
from frontdesk.config import load_config
from frontdesk.logs import configure_logging
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)
RUN = START.date().isoformat()
APPOINTMENTS = 40
ANSWER_AFTER_S = 8.0
RUN_GUARD_S = 4 * 3600.0
"""Simulated seconds after which a run is given up (a hang, not a figure)."""


def enable_reminders(max_calls: int):
    def edit(text: str) -> str:
        return re.sub(r"(\[reminders\]\n(?:#.*\n)*)enabled = false",
                      rf"\1enabled = true\nmax_calls = {max_calls}", text)
    return edit


def run(max_calls: int, appointments: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        config = load_config(copy_practice(workdir, enable_reminders(max_calls)))
        (workdir / "messages").mkdir()  # the rig's messages directory
        started = time.perf_counter()
        rig = Rig(config, workdir)
        try:
            rig.moment = START - timedelta(seconds=1)
            store = rig.daemon.store
            store.add_practitioner(Practitioner("martin", "Docteur Martin"))
            store.add_appointment_type(AppointmentType("consultation", 10))
            for n in range(appointments):
                number = f"06{n:08d}"
                rig.sim.add_outside(number, answer_after=ANSWER_AFTER_S,
                                    script=CallerScript(keys=["1"]))
                [(patient, _)] = store.add_patients([(f"Patient {n}", number, None)])
                begins = START + timedelta(days=1, hours=-2, minutes=10 * n)
                store.book_appointment("martin", begins, begins + timedelta(minutes=10),
                                       "consultation", patient.id, by="bench", at=START)
            first = rig.clock.now()

            def over() -> bool:
                reminders = store.reminders(RUN)
                return len(reminders) == appointments and all(
                    r.state not in ("pending", "calling") for r in reminders)

            finished = rig.wait_for(over, timeout=RUN_GUARD_S)
            minutes = (rig.clock.now() - first) / 60
            confirmed = sum(r.state == "confirmed" for r in store.reminders(RUN))
        finally:
            rig.close()
        return {
            "max_calls": max_calls,
            "reminders": appointments,
            "confirmed": confirmed,
            "sim. minutes": minutes,
            "calls/minute": appointments / minutes if finished else 0.0,
            "wall s": time.perf_counter() - started,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 appointments, 2 settings")
    args = parser.parse_args()
    configure_logging("error")
    appointments = 10 if args.quick else APPOINTMENTS
    settings = (1, 2) if args.quick else (1, 2, 5, 10)
    print(f"{appointments} appointments, patients pick up after {ANSWER_AFTER_S:.0f} s and "
          "press 1; simulated time (a virtual clock per run)")
    show("Reminder calls placed per minute", [run(n, appointments) for n in settings])


if __name__ == "__main__":
    main()
