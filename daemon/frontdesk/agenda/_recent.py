"""What slot searches read of each calendar, kept a few seconds for the next searches."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Read(Generic[T]):
    """What one read of a calendar found over [start, end), at `at` (`now()` seconds)."""

    at: float
    start: datetime
    end: datetime
    found: T


class RecentReads(Generic[T]):
    """Reads of calendars by URL, each reused for `trusted_for` seconds by any search whose
    range it covers. Bounded: `calendars` calendars (the least recently read forgotten
    first), `per_calendar` reads each. Thread-safe.

    A write to a calendar `forget`s its reads; a read that began before that write is not kept
    (a `ticket` taken before the read, given to `keep` after it), so a search never sees a
    calendar as it was before frontdesk's own write."""

    def __init__(
        self, now: Callable[[], float], trusted_for: float, calendars: int, per_calendar: int
    ) -> None:
        self._now = now
        self._trusted_for = trusted_for
        self._calendars = calendars
        self._per_calendar = per_calendar
        self._lock = threading.Lock()
        self._reads: OrderedDict[str, list[_Read[T]]] = OrderedDict()
        self._generations: dict[str, int] = {}

    def covering(self, url: str, start: datetime, end: datetime) -> T | None:
        """What a read of `url` younger than `trusted_for` found, if it covers [start, end)."""
        with self._lock:
            reads = self._trusted(url)
            return next((r.found for r in reads if r.start <= start and end <= r.end), None)

    def ticket(self, url: str) -> tuple[int, float]:
        """Taken before a read of `url`, given to `keep` after it: which writes it may miss,
        when it began."""
        with self._lock:
            return self._generations.get(url, 0), self._now()

    def keep(
        self, url: str, ticket: tuple[int, float], start: datetime, end: datetime, found: T
    ) -> None:
        """Keep what a read of `url` over [start, end) found, trusted from when it began,
        unless `url` was written since its `ticket`."""
        generation, began = ticket
        with self._lock:
            if self._generations.get(url, 0) != generation:
                return
            reads = [*self._trusted(url), _Read(began, start, end, found)]
            self._reads[url] = reads[-self._per_calendar:]
            self._reads.move_to_end(url)
            while len(self._reads) > self._calendars:
                self._reads.popitem(last=False)

    def forget(self, url: str) -> None:
        """`url` was written (or may have been): its reads are stale."""
        with self._lock:
            self._reads.pop(url, None)
            self._generations[url] = self._generations.get(url, 0) + 1

    def _trusted(self, url: str) -> list[_Read[T]]:
        """The reads of `url` still trusted (the others dropped). Under the lock."""
        now = self._now()
        reads = [r for r in self._reads.get(url, []) if now - r.at < self._trusted_for]
        if reads:
            self._reads[url] = reads
        else:
            self._reads.pop(url, None)
        return reads
