"""Opening hours, lunch, public holidays, closures and the manual override.

Public holidays come from the `holidays` library rather than a table of our own: it keeps
maintained rules per country and region (movable feasts such as Easter Monday, Ascension and
Whit Monday; regional days such as Good Friday and St Stephen's Day in Alsace-Moselle), with
their names in the practice's language, and is updated when governments change them.

Precedence, first match wins: manual override > closure > public holiday > weekly hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

from frontdesk.config.model import PracticeSettings, ScheduleSettings

SEARCH_DAYS = 370
"""How far ahead `next_change` looks before giving up."""


@dataclass(frozen=True)
class ScheduleState:
    state: str
    """One of SCHEDULE_STATES (an override gives one of OVERRIDE_MODES)."""
    detail: str = ""
    """The holiday's name, the closure's reason, or "manual override"."""
    overridden: bool = False


class Override(Protocol):
    """What the staff switched the practice to (see `frontdesk.store`)."""

    @property
    def mode(self) -> str: ...  # one of OVERRIDE_MODES

    @property
    def until(self) -> dt.datetime | None: ...  # None: until switched back


class Schedule:
    """The state of the practice at any moment, in its own time zone."""

    def __init__(self, settings: ScheduleSettings, practice: PracticeSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(practice.timezone)
        self._holidays: holidays.HolidayBase | None = None
        if settings.public_holidays:
            self._holidays = holidays.country_holidays(
                practice.country, subdiv=practice.subdivision
            )
            language = _holiday_language(self._holidays, practice.language)
            if language is not None:
                self._holidays = holidays.country_holidays(
                    practice.country, subdiv=practice.subdivision, language=language
                )

    def state_at(self, when: dt.datetime, override: Override | None = None) -> ScheduleState:
        """The state at `when` (timezone-aware); an active `override` wins over the schedule."""
        if when.tzinfo is None:
            raise ValueError("state_at needs a timezone-aware datetime")
        if override is not None and (override.until is None or when < override.until):
            return ScheduleState(override.mode, "manual override", overridden=True)
        return self._scheduled(when.astimezone(self.zone))

    def holiday(self, day: dt.date) -> str | None:
        """The public holiday's name on `day`; None when it is none (or holidays are off)."""
        return self._holidays.get(day) if self._holidays is not None else None

    def next_change(self, when: dt.datetime) -> dt.datetime | None:
        """When the scheduled state (ignoring any override) next differs from the one at
        `when`, in the practice's zone; None if it never changes within a year."""
        if when.tzinfo is None:
            raise ValueError("next_change needs a timezone-aware datetime")
        local = when.astimezone(self.zone)
        current = self._scheduled(local)
        for offset in range(SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            times = {dt.time(0, 0)}
            for opening in self.settings.week.get(day.weekday(), ()):
                times |= {opening.start, opening.end}
            for moment in sorted(dt.datetime.combine(day, t, tzinfo=self.zone) for t in times):
                if moment > when and self._scheduled(moment) != current:
                    return moment
        return None

    def _scheduled(self, local: dt.datetime) -> ScheduleState:
        day = local.date()
        for closure in self.settings.closures:
            if closure.start <= day <= closure.end:
                return ScheduleState("closure", closure.reason)
        name = self.holiday(day)
        if name:
            return ScheduleState("holiday", name)
        ranges = self.settings.week.get(day.weekday(), ())
        now = local.time().replace(tzinfo=None)
        if any(opening.start <= now < opening.end for opening in ranges):
            return ScheduleState("open")
        if ranges and ranges[0].start <= now < ranges[-1].end:
            return ScheduleState("lunch")
        return ScheduleState("closed")


def _holiday_language(calendar: holidays.HolidayBase, language: str) -> str | None:
    supported = getattr(calendar, "supported_languages", ())
    for candidate in (language, f"{language}_US", f"{language}_GB"):
        if candidate in supported:
            return candidate
    return None
