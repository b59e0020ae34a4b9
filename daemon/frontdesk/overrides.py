"""The manual override (open / lunch / closed), set from the command line now and later from
the desk panel's button and a phone feature code: all of them go through these functions."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from frontdesk.config.model import Config
from frontdesk.schedule import Schedule
from frontdesk.store import Store

MODES = ("auto", "open", "lunch", "closed")


class OverrideRefused(ValueError):
    """An override that cannot be set; `reason` (bad_time, auto_until, past, mode) lets the
    console say why in the practice's language."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_until(text: str | None, timezone: str, now: datetime) -> datetime | None:
    """`HH:MM` (today in the practice's time zone, or tomorrow if already past) or a local
    ISO date-time; None means until changed again."""
    if not text:
        return None
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise OverrideRefused(
                "bad_time", f"expected HH:MM or YYYY-MM-DDTHH:MM, not {text!r}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    moment = datetime.combine(local_now.date(), clock, tzinfo=zone)
    if moment <= local_now:
        moment += timedelta(days=1)
    return moment


def set_override(
    store: Store, mode: str, *, until: datetime | None, now: datetime, set_by: str = "cli"
) -> None:
    """`mode` is open, lunch or closed; `auto` goes back to the schedule. OverrideRefused
    otherwise."""
    if mode not in MODES:
        raise OverrideRefused("mode", f"the mode is one of {', '.join(MODES)}, not {mode!r}")
    if mode == "auto" and until is not None:
        raise OverrideRefused(
            "auto_until", "'auto' goes back to the schedule for good: it takes no end time")
    if until is not None and until <= now:
        raise OverrideRefused("past", "the end of the override is in the past")
    store.set_override(None if mode == "auto" else mode, until=until, set_by=set_by, now=now)


def describe_override(store: Store, config: Config, now: datetime) -> str:
    """One line a receptionist can read: what callers hear now, and why."""
    zone = ZoneInfo(config.practice.timezone)
    override = store.get_override(now=now)
    state = Schedule(config.schedule, config.practice).state_at(now, override)
    if override is None:
        detail = f" ({state.detail})" if state.detail else ""
        return f"following the schedule: {state.state}{detail}"
    until = (
        f" until {override.until.astimezone(zone):%Y-%m-%d %H:%M}" if override.until else ""
    )
    return f"override: {override.mode}{until} (set by {override.set_by})"
