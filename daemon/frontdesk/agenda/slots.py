"""Free slots: a practitioner's weekly hours, minus absences, minus what is booked.

Every adapter computes slots here from the directory's hours and the busy times it knows (its
own appointments, a CalDAV calendar's events). Within one range of hours, slots follow each
other from the range's start, each as long as the appointment type; a busy time pushes the
next slot to its end (rounded up to `ALIGN_MINUTES`), so a 30-minute appointment booked by
hand does not leave the rest of the morning on odd minutes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from frontdesk.agenda import ConsultationHours, Slot

ALIGN_MINUTES = 5

Interval = tuple[datetime, datetime]


def free_slots(
    practitioner: str,
    kind: str,
    minutes: int,
    hours: Sequence[ConsultationHours],
    busy: Sequence[Interval],
    *,
    after: datetime,
    until: datetime,
    zone: ZoneInfo,
) -> Iterator[Slot]:
    """The free slots of `practitioner` for an appointment of `minutes`, starting in
    [after, until), soonest first. `busy` holds absences and booked times, in any order."""
    length = timedelta(minutes=minutes)
    taken = sorted(busy)
    day = after.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        for start, end in _ranges_of(day, hours, zone):
            for slot_start in _starts(start, end, length, taken):
                if after <= slot_start < until:
                    yield Slot(practitioner, slot_start, slot_start + length, kind)
        day += timedelta(days=1)


def _ranges_of(day: date, hours: Sequence[ConsultationHours], zone: ZoneInfo) -> list[Interval]:
    """The day's ranges of hours as aware datetimes (a time skipped by a clock change is taken
    as the zone says: `zoneinfo` folds it forward)."""
    ranges = [
        (datetime.combine(day, h.start, zone), datetime.combine(day, h.end, zone))
        for h in hours
        if h.weekday == day.weekday()
    ]
    return sorted(ranges)


def _starts(
    start: datetime, end: datetime, length: timedelta, taken: Sequence[Interval]
) -> Iterator[datetime]:
    moment = start
    while moment + length <= end:
        blocking = _first_overlap(moment, moment + length, taken)
        if blocking is None:
            yield moment
            moment += length
        else:
            moment = _aligned(max(blocking[1], moment + timedelta(minutes=ALIGN_MINUTES)), start)


def _first_overlap(start: datetime, end: datetime, taken: Sequence[Interval]) -> Interval | None:
    for interval in taken:
        if interval[0] < end and start < interval[1]:
            return interval
    return None


def _aligned(moment: datetime, origin: datetime) -> datetime:
    """`moment` rounded up to the next `ALIGN_MINUTES` step counted from `origin`."""
    step = timedelta(minutes=ALIGN_MINUTES)
    remainder = (moment - origin) % step
    return moment if not remainder else moment + (step - remainder)


def overlaps(slot: Slot, busy: Sequence[Interval]) -> bool:
    """True when `slot` overlaps any busy time (checked again at write time)."""
    return _first_overlap(slot.start, slot.end, busy) is not None
