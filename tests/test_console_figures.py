"""The console's figures page as the practice manager opens it: today's and this month's
figures, in the practice's language, each with its definition; the real daemon against the
simulator (simulated time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from console_helpers import FR, PARIS, PATIENT, RESULTS, Receptionist, cell, console_rig, row
from frontdesk.config.model import Config
from frontdesk.rehearse import Rig
from frontdesk.report.figures import definitions
from frontdesk.report.words import LABELS
from frontdesk.sim import CallerScript

TUESDAY = datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)
GIVES_UP = CallerScript(keys=RESULTS.keys, patience=90)
"""Asks for the desk (reason results), nobody answers: hangs up 90 s after the answer."""


@pytest.fixture
def rig(practice: Config, tmp_path) -> Iterator[Rig]:
    with console_rig(practice, tmp_path) as running:
        yield running


def earlier_this_month(rig: Rig) -> None:
    """A call of last Wednesday that heard the practice's information, as the daemon records
    it."""
    store, start = rig.daemon.store, TUESDAY - timedelta(days=6)
    store.call_started("wednesday", caller_number="0639985555", caller_name="",
                       destination="100", started_at=start, schedule_state="open",
                       schedule_detail="", config_version=rig.daemon.config.version)
    store.call_finished("wednesday", ended_at=start + timedelta(seconds=40), answered_at=None,
                        path=[], reason="information", outcome="information",
                        hangup_cause="NORMAL_CLEARING")


def test_the_figures_page_shows_today_and_this_month_with_definitions(rig: Rig) -> None:
    earlier_this_month(rig)
    call = rig.place(GIVES_UP, at=TUESDAY, caller_number=PATIENT)
    result = rig.result(call)
    assert result is not None and result.outcome == "abandoned"
    desk = Receptionist(rig)

    page = desk.get("/figures")

    assert '<a href="/figures" aria-current="page">' + FR["nav_figures"] in page
    calls = row(page, "figure", "figure", "calls")
    assert (cell(calls, "today"), cell(calls, "month")) == ("1", "2")
    assert LABELS["fr"]["calls"] in calls
    abandonment = row(page, "figure", "figure", "abandonment_rate")
    assert (cell(abandonment, "today"), cell(abandonment, "month")) == ("100.0 %", "100.0 %")
    assert cell(abandonment, "definition") == definitions(
        rig.daemon.config.report, "fr")["abandonment_rate"]
    without_staff = row(page, "figure", "figure", "without_staff_rate")
    assert (cell(without_staff, "today"), cell(without_staff, "month")) == ("0.0 %", "50.0 %")
    assert cell(row(page, "figure", "figure", "wait_average"), "today") == "–"
