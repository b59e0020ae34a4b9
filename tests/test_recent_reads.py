"""The CalDAV agenda's memory of what slot searches read (`RecentReads`): trusted for a few
seconds, forgotten at a write (even by a read that was under way), and bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from frontdesk.agenda._recent import RecentReads

DAY = datetime(2027, 3, 1, tzinfo=UTC)
WEEK = DAY + timedelta(days=7)


class Seconds:
    """A time that moves only when a test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reads(now: Seconds, calendars: int = 4, per_calendar: int = 2) -> RecentReads[str]:
    return RecentReads(now, 10.0, calendars, per_calendar)


def read(memory: RecentReads[str], url: str, found: str, start: datetime = DAY) -> None:
    memory.keep(url, memory.ticket(url), start, start + timedelta(days=7), found)


def test_a_read_covers_the_ranges_inside_it_for_its_seconds_only() -> None:
    now = Seconds()
    memory = reads(now)
    read(memory, "a/", "events")
    assert memory.covering("a/", DAY + timedelta(hours=9), WEEK) == "events"
    assert memory.covering("a/", DAY, WEEK + timedelta(minutes=1)) is None
    assert memory.covering("b/", DAY, WEEK) is None
    now.now = 10.0
    assert memory.covering("a/", DAY, WEEK) is None


def test_a_write_forgets_the_calendar_s_reads_and_a_read_under_way_is_not_kept() -> None:
    memory = reads(Seconds())
    read(memory, "a/", "before")
    read(memory, "b/", "other")
    ticket = memory.ticket("a/")  # a read begins...
    memory.forget("a/")  # ...frontdesk writes meanwhile...
    memory.keep("a/", ticket, DAY, WEEK, "what the read found")  # ...the read ends
    assert memory.covering("a/", DAY, WEEK) is None
    assert memory.covering("b/", DAY, WEEK) == "other"
    read(memory, "a/", "after")
    assert memory.covering("a/", DAY, WEEK) == "after"


def test_the_memory_is_bounded_the_least_recently_read_forgotten_first() -> None:
    memory = reads(Seconds(), calendars=2, per_calendar=2)
    for week in range(3):
        read(memory, "a/", f"week {week}", DAY + timedelta(days=7 * week))
    assert memory.covering("a/", DAY, WEEK) is None
    assert memory.covering("a/", WEEK, WEEK + timedelta(days=7)) == "week 1"
    read(memory, "b/", "b")
    read(memory, "c/", "c")
    assert memory.covering("a/", WEEK, WEEK + timedelta(days=7)) is None
    assert memory.covering("b/", DAY, WEEK) == "b"
    assert memory.covering("c/", DAY, WEEK) == "c"
