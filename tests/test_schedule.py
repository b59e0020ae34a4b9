"""The schedule: weekly hours, lunch, French public holidays, closures, override, DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config.model import Closure, PracticeSettings, ScheduleSettings, TimeRange
from frontdesk.schedule import Schedule

PARIS = ZoneInfo("Europe/Paris")
WEEKDAY = (TimeRange(time(8, 30), time(12, 30)), TimeRange(time(14, 0), time(19, 0)))
WEEK = {day: WEEKDAY for day in range(5)} | {5: (TimeRange(time(9), time(12)),), 6: ()}
SUMMER = Closure(date(2026, 8, 10), date(2026, 8, 23), "Congés d'été")


def schedule(
    *, closures: tuple[Closure, ...] = (SUMMER,), public_holidays: bool = True, subdivision=None
) -> Schedule:
    settings = ScheduleSettings(week=WEEK, closures=closures, public_holidays=public_holidays)
    practice = PracticeSettings(name="Tilleuls", subdivision=subdivision)
    return Schedule(settings, practice)


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Override:
    mode: str
    until: datetime | None = None


# -- weekly hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        ("2026-10-07T08:29", "closed"),  # Wednesday, before opening
        ("2026-10-07T08:30", "open"),
        ("2026-10-07T10:00", "open"),
        ("2026-10-07T12:30", "lunch"),
        ("2026-10-07T13:15", "lunch"),
        ("2026-10-07T14:00", "open"),
        ("2026-10-07T18:59", "open"),
        ("2026-10-07T19:00", "closed"),
        ("2026-10-07T22:00", "closed"),
        ("2026-10-10T10:00", "open"),  # Saturday morning
        ("2026-10-10T13:00", "closed"),  # Saturday: one range, no lunch after it
        ("2026-10-11T10:00", "closed"),  # Sunday
    ],
)
def test_weekly_hours_give_open_lunch_and_closed(moment: str, state: str) -> None:
    result = schedule().state_at(paris(moment))
    assert (result.state, result.overridden) == (state, False)


def test_a_moment_in_another_zone_is_converted_to_the_practice_zone() -> None:
    assert schedule().state_at(utc("2026-10-07T08:00")).state == "open"  # 10:00 in Paris
    assert schedule().state_at(utc("2026-10-07T17:30")).state == "closed"  # 19:30 in Paris


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError):
        schedule().state_at(datetime(2026, 10, 7, 10, 0))


# -- public holidays and closures ------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2026-12-25", "Noël"),
        ("2027-03-29", "Lundi de Pâques"),
        ("2026-07-14", "Fête nationale"),
        ("2026-05-14", "Ascension"),
    ],
)
def test_french_public_holidays_close_the_practice(day: str, name: str) -> None:
    result = schedule().state_at(paris(f"{day}T10:00"))
    assert (result.state, result.detail) == ("holiday", name)


def test_public_holidays_can_be_ignored() -> None:
    assert schedule(public_holidays=False).state_at(paris("2026-07-14T10:00")).state == "open"


def test_alsace_moselle_has_good_friday() -> None:
    good_friday = paris("2026-04-03T10:00")
    assert schedule().state_at(good_friday).state == "open"
    assert schedule(subdivision="57").state_at(good_friday).state == "holiday"


def test_a_closure_covers_its_first_and_last_days() -> None:
    s = schedule()
    assert s.state_at(paris("2026-08-07T10:00")).state == "open"
    assert s.state_at(paris("2026-08-10T00:00")).state == "closure"
    assert s.state_at(paris("2026-08-23T23:59")).state == "closure"
    assert s.state_at(paris("2026-08-24T10:00")).state == "open"
    assert s.state_at(paris("2026-08-12T10:00")).detail == "Congés d'été"


def test_a_closure_wins_over_a_public_holiday() -> None:
    assert schedule().state_at(paris("2026-08-14T10:00")).state == "closure"  # 15 August inside


# -- manual override -------------------------------------------------------------------------


def test_an_override_without_end_wins_over_everything() -> None:
    s = schedule()
    result = s.state_at(paris("2026-12-25T10:00"), Override("open"))
    assert (result.state, result.overridden) == ("open", True)
    assert s.state_at(paris("2026-10-07T10:00"), Override("closed")).state == "closed"


def test_an_override_with_an_end_lasts_until_then() -> None:
    s = schedule()
    lunch_until_14 = Override("lunch", until=paris("2026-10-07T14:00"))
    assert s.state_at(paris("2026-10-07T11:00"), lunch_until_14).state == "lunch"
    after = s.state_at(paris("2026-10-07T14:00"), lunch_until_14)
    assert (after.state, after.overridden) == ("open", False)


# -- daylight saving time (Europe/Paris: last Sunday of March and of October) -------------------


def test_opening_follows_summer_time() -> None:
    s = schedule()
    # Monday 23 March 2026, winter time: 08:30 in Paris is 07:30 UTC.
    assert s.state_at(utc("2026-03-23T07:29")).state == "closed"
    assert s.state_at(utc("2026-03-23T07:30")).state == "open"
    # Monday 30 March 2026, the day after the change: 08:30 is 06:30 UTC.
    assert s.state_at(utc("2026-03-30T06:29")).state == "closed"
    assert s.state_at(utc("2026-03-30T06:30")).state == "open"


def test_opening_follows_winter_time() -> None:
    s = schedule()
    # Monday 26 October 2026, the day after the change: 08:30 is 07:30 UTC again.
    assert s.state_at(utc("2026-10-26T06:30")).state == "closed"
    assert s.state_at(utc("2026-10-26T07:30")).state == "open"
    # The repeated hour of the night of the change (02:00-03:00 twice) is simply closed.
    assert s.state_at(utc("2026-10-25T00:30")).state == "closed"
    assert s.state_at(utc("2026-10-25T01:30")).state == "closed"


# -- next change -------------------------------------------------------------------------------


def test_the_next_change_is_the_end_of_the_current_range() -> None:
    s = schedule()
    assert s.next_change(paris("2026-10-07T10:00")) == paris("2026-10-07T12:30")
    assert s.next_change(paris("2026-10-07T13:00")) == paris("2026-10-07T14:00")
    assert s.next_change(paris("2026-10-07T20:00")) == paris("2026-10-08T08:30")


def test_the_next_change_across_a_weekend_and_summer_time() -> None:
    monday = schedule().next_change(paris("2026-03-28T12:00"))
    assert monday == utc("2026-03-30T06:30")


def test_the_next_change_after_a_closure_or_holiday() -> None:
    s = schedule()
    # The closure ends at midnight (closed until the desk opens at 08:30).
    assert s.next_change(paris("2026-08-12T10:00")) == paris("2026-08-24T00:00")
    assert s.next_change(paris("2026-07-14T10:00")) == paris("2026-07-15T00:00")
