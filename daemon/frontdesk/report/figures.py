"""The practice manager's figures, computed from the stored call records (docs/report.md).

Nothing here is stored: every figure is recomputed from what the daemon already records (the
calls, their queue events, agenda actions, callbacks, the staff's marks on messages), so a
report can be made for any past period. A call belongs to the period, the day and the hour in
which it BEGAN (practice time); what happened to it later (a callback the next morning, a
message dealt with a week on) is counted with it.

`compute` reads a period's records through the store's `*_between` reads, turns each call into
its `CallFacts`, then `summarise` makes one `Summary` per bucket (the whole period, each day,
week, month and hour of the week). Each figure has one sentence in `DEFINITIONS`, shown beside
it in every report.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from frontdesk.config.model import CLOSED_STATES, ReportSettings
from frontdesk.queue.callbacks import callback_digits
from frontdesk.report.words import DEFINITIONS
from frontdesk.store import CallbackRequest, Store

WITHOUT_STAFF_OUTCOMES = ("information", "message", "booked", "moved", "cancelled", "requested")
"""Outcomes of a call the automation dealt with on its own (no staff on the line)."""
STAFF_OUTCOMES = ("answered", "emergency_answered")
"""Outcomes of a call a receptionist of the desk talked with."""
NOT_OPEN_STATES = ("lunch", *CLOSED_STATES)
BOOKING_REASON = "appointment_new"
"""The contact reason of the flow's booking nodes (and of a menu option "new appointment")."""
IN_PROGRESS = "in_progress"
"""The outcome counted for a call without one yet (today's figures on the console)."""
ANNOUNCER = "frontdesk"
"""The estimator whose figure the spoken announcement says (frontdesk.estimate)."""


# --- periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """From `start` (included) to `end` (excluded), both at midnight in the practice's zone."""

    start: datetime
    end: datetime
    label: str

    @classmethod
    def month(cls, year: int, month: int, zone: ZoneInfo) -> Period:
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        return cls(_midnight(first, zone), _midnight(after, zone), f"{first:%Y-%m}")

    @classmethod
    def days(cls, first: date, last: date, zone: ZoneInfo) -> Period:
        """The days from `first` to `last`, both included."""
        if last < first:
            raise ValueError(f"the period ends ({last}) before it begins ({first})")
        label = f"{first}" if first == last else f"{first} – {last}"  # any language
        return cls(_midnight(first, zone), _midnight(last + timedelta(days=1), zone), label)

    @property
    def zone(self) -> ZoneInfo:
        assert isinstance(self.start.tzinfo, ZoneInfo)
        return self.start.tzinfo

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return self.end.date() - timedelta(days=1)

    def is_month(self) -> bool:
        return self.first_day.day == 1 and self.end.date() == Period.month(
            self.first_day.year, self.first_day.month, self.zone).end.date()

    def previous(self) -> Period:
        """The period just before: the month before a month, else as many days before."""
        if self.is_month():
            before = self.first_day - timedelta(days=1)
            return Period.month(before.year, before.month, self.zone)
        length = self.last_day - self.first_day
        last = self.first_day - timedelta(days=1)
        return Period.days(last - length, last, self.zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


# --- one call's facts -----------------------------------------------------------------------


@dataclass(frozen=True)
class CallFacts:
    """What the figures need to know of one call (seconds; None: does not apply)."""

    started: datetime
    """In the practice's zone."""
    reason: str
    outcome: str
    not_open: bool
    offered: bool
    """It asked for the desk: entered the queue, or an overflow rule turned it away."""
    wait: float | None
    """Seconds in the queue until a receptionist answered."""
    abandoned_after: float | None
    """Seconds in the queue before the caller hung up."""
    handle: float | None
    emergency: bool
    to_human: float | None
    """An emergency call: seconds from its start until a human (desk or on-call) answered."""
    announced: float | None
    """The total wait the first announcement foresaw (wait so far + the estimate said)."""
    hidden: bool
    repeated: bool
    meant_to_book: bool
    booked: bool
    callbacks_asked: int
    callbacks_missed: int
    callbacks_completed: tuple[float, ...]
    """Seconds from each completed callback's request to its completion."""
    message: bool
    message_done_after: float | None
    message_pending_age: float | None
    """A message nobody marked done: its age at the time of the report."""
    satisfaction: int | None
    """The caller's answer to the satisfaction question (1 to 5), if asked and answered."""


def _facts(
    call: Mapping,
    events: Sequence[Mapping],
    booked: bool,
    callbacks: Sequence[CallbackRequest],
    message_done: datetime | None,
    repeated: bool,
    satisfaction: int | None,
    zone: ZoneInfo,
    now: datetime,
) -> CallFacts:
    started: datetime = call["started_at"]
    outcome = call["outcome"] or IN_PROGRESS
    reason = call["reason"] or "none"
    answered = _first(events, "answered")
    abandoned = _first(events, "abandoned")
    emergency = reason == "emergency" or outcome.startswith("emergency_")
    reached_human = call["answered_at"] is not None and outcome in (
        "emergency_answered", "emergency_transferred")
    has_message = call["message_file"] is not None
    return CallFacts(
        started=started.astimezone(zone),
        reason=reason,
        outcome=outcome,
        not_open=call["schedule_state"] in NOT_OPEN_STATES,
        offered=any(e["event"] in ("entered", "overflowed") for e in events),
        wait=None if answered is None else answered["wait"],
        abandoned_after=None if abandoned is None else abandoned["wait"],
        handle=_seconds(call["answered_at"], call["ended_at"])
        if outcome in STAFF_OUTCOMES else None,
        emergency=emergency,
        to_human=_seconds(started, call["answered_at"]) if emergency and reached_human else None,
        announced=_announced(events) if answered is not None else None,
        hidden=not callback_digits(call["caller_number"]),
        repeated=repeated,
        meant_to_book=reason == BOOKING_REASON,
        booked=booked or outcome == "booked",
        callbacks_asked=sum(c.reason == "requested" for c in callbacks),
        callbacks_missed=sum(c.reason == "missed" for c in callbacks),
        callbacks_completed=tuple(
            _seconds(c.requested_at, c.completed_at) or 0.0
            for c in callbacks if c.state == "completed" and c.completed_at is not None),
        message=has_message,
        message_done_after=_seconds(started, message_done) if has_message else None,
        message_pending_age=_seconds(started, now)
        if has_message and message_done is None else None,
        satisfaction=satisfaction,
    )


def _first(events: Sequence[Mapping], name: str) -> Mapping | None:
    return next((e for e in events if e["event"] == name), None)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _announced(events: Sequence[Mapping]) -> float | None:
    """Wait so far at the first announcement plus the estimate it said; None when there was
    none, or nobody was logged in (no figure said)."""
    first = _first(events, "announced")
    if first is None or not first["detail"]:
        return None
    figures = dict(part.split("=", 1) for part in first["detail"].split(",") if "=" in part)
    try:
        estimate = float(figures[ANNOUNCER])
    except (KeyError, ValueError):
        return None
    return (first["wait"] or 0.0) + estimate if math.isfinite(estimate) else None


# --- figures of a group of calls ----------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """The figures of a group of calls (a period, a day, an hour of the week). A rate is a
    fraction (0.25: 25 %), None when nothing it is a share of happened; seconds likewise."""

    calls: int
    calls_while_closed: int
    offered: int
    answered_in_time_rate: float | None
    abandonment_rate: float | None
    short_abandons: int
    wait_average: float | None
    wait_p90: float | None
    handle_average: float | None
    first_call_resolution: float | None
    hidden_numbers: int
    booking_intents: int
    booking_conversion: float | None
    without_staff_rate: float | None
    emergencies: int
    emergency_to_human_average: float | None
    emergency_to_human_max: float | None
    callbacks_asked: int
    callbacks_missed: int
    callbacks_completed: int
    callback_delay_average: float | None
    messages: int
    messages_pending: int
    messages_pending_age_average: float | None
    message_delay_average: float | None
    announced_wait_average: float | None
    announced_calls_wait_average: float | None
    announced_kept_rate: float | None
    satisfaction_answers: int
    satisfaction_average: float | None


FIGURE_NAMES = tuple(f.name for f in fields(Summary))


def _kind(name: str) -> str:
    if name == "satisfaction_average":
        return "score"
    if name.endswith(("_rate", "_resolution", "_conversion")):
        return "rate"
    if name.endswith(("_average", "_p90", "_max")):
        return "seconds"
    return "count"


KINDS = {name: _kind(name) for name in FIGURE_NAMES}
"""How each figure reads: count, rate (a fraction), seconds, score (1 to 5)."""


def definitions(settings: ReportSettings, language: str = "en") -> dict[str, str]:
    """One sentence per figure (`DEFINITIONS`), with the practice's thresholds in it."""
    return {
        name: text.format(within=settings.answered_within_seconds,
                          short=settings.short_abandon_seconds, hours=settings.repeat_call_hours)
        for name, text in DEFINITIONS[language].items()
    }


def summarise(facts: Sequence[CallFacts], settings: ReportSettings) -> Summary:
    """The figures of the calls of `facts`."""
    short = settings.short_abandon_seconds
    offered = [f for f in facts if f.offered]
    short_abandons = [f for f in offered if f.abandoned_after is not None
                      and f.abandoned_after <= short]
    counted = len(offered) - len(short_abandons)
    waits = sorted(f.wait for f in offered if f.wait is not None)
    in_time = sum(w <= settings.answered_within_seconds for w in waits)
    abandoned = sum(f.abandoned_after is not None and f.abandoned_after > short for f in offered)
    visible = [f for f in facts if not f.hidden]
    intents = [f for f in facts if f.meant_to_book]
    emergencies = [f.to_human for f in facts if f.emergency]
    to_human = [t for t in emergencies if t is not None]
    completed = [d for f in facts for d in f.callbacks_completed]
    messages = [f for f in facts if f.message]
    pending = [f.message_pending_age for f in messages if f.message_pending_age is not None]
    told = [f for f in facts if f.announced is not None and f.wait is not None]
    scores = [f.satisfaction for f in facts if f.satisfaction is not None]
    return Summary(
        calls=len(facts),
        calls_while_closed=sum(f.not_open for f in facts),
        offered=len(offered),
        answered_in_time_rate=_share(in_time, counted),
        abandonment_rate=_share(abandoned, counted),
        short_abandons=len(short_abandons),
        wait_average=_average(waits),
        wait_p90=_p90(waits),
        handle_average=_average([f.handle for f in facts if f.handle is not None]),
        first_call_resolution=_share(sum(not f.repeated for f in visible), len(visible)),
        hidden_numbers=len(facts) - len(visible),
        booking_intents=len(intents),
        booking_conversion=_share(sum(f.booked for f in intents), len(intents)),
        without_staff_rate=_share(sum(f.outcome in WITHOUT_STAFF_OUTCOMES for f in facts),
                                  len(facts)),
        emergencies=len(emergencies),
        emergency_to_human_average=_average(to_human),
        emergency_to_human_max=max(to_human, default=None),
        callbacks_asked=sum(f.callbacks_asked for f in facts),
        callbacks_missed=sum(f.callbacks_missed for f in facts),
        callbacks_completed=len(completed),
        callback_delay_average=_average(completed),
        messages=len(messages),
        messages_pending=len(pending),
        messages_pending_age_average=_average(pending),
        message_delay_average=_average([f.message_done_after for f in messages
                                        if f.message_done_after is not None]),
        announced_wait_average=_average([f.announced for f in told if f.announced is not None]),
        announced_calls_wait_average=_average([f.wait for f in told if f.wait is not None]),
        announced_kept_rate=_share(
            sum(f.wait is not None and f.announced is not None and f.wait <= f.announced
                for f in told), len(told)),
        satisfaction_answers=len(scores),
        satisfaction_average=_average(scores),
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _average(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _p90(ordered: Sequence[float]) -> float | None:
    """Nearest rank: the smallest value at least 90 % of the values do not exceed."""
    if not ordered:
        return None
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


# --- a period's figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    period: Period
    total: Summary
    days: dict[date, Summary]
    """Every day of the period, those without calls included."""
    weeks: dict[date, Summary]
    """By the Monday that starts the week (the first and last may be partial)."""
    months: dict[date, Summary]
    """By the first day of the month."""
    hours: dict[tuple[int, int], Summary]
    """By (weekday, hour): Monday 0, hours 0 to 23, all 168 of them."""
    reasons: dict[str, int]
    """Calls per contact reason, most frequent first ("none": no reason recorded)."""
    outcomes: dict[str, int]
    waits: tuple[float, ...]
    """Every answered caller's wait, in seconds, ascending (the wait distribution)."""
    definitions: dict[str, str]


@dataclass(frozen=True)
class Records:
    """What the store holds of a period's calls (`read`), for `figures_of`."""

    calls: list[dict]
    """The calls begun in the period and within `repeat_call_hours` after it, in order."""
    events: dict[str, list[Mapping]]
    booked: set[str]
    callbacks: dict[str, list[CallbackRequest]]
    marks: dict[str, tuple[datetime, str]]
    scores: dict[str, int]
    """Satisfaction answers by call ([feedback]); empty without them."""


def read(store: Store, period: Period, settings: ReportSettings) -> Records:
    """The records the figures of `period` come from (store reads only: in the store's
    thread, the calling greenlet waits)."""
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    return Records(
        calls=store.calls_between(start, end + timedelta(hours=settings.repeat_call_hours)),
        events=_by_call(store.queue_events_between(start, end)),
        booked={a["call_uuid"] for a in store.agenda_actions_between(start, end)
                if a["action"] == "booked"},
        callbacks=_by_call_attr(store.callbacks_between(start, end)),
        marks=store.message_marks(),
        scores=_scores(store, start, end),
    )


def compute(
    store: Store,
    period: Period,
    settings: ReportSettings,
    zone: ZoneInfo,
    *,
    now: datetime,
) -> Figures:
    """The figures of the calls that began in `period` (`now`: when pending messages are
    aged; a period still running counts its calls so far)."""
    return figures_of(read(store, period, settings), period, settings, zone, now=now)


def figures_of(
    records: Records,
    period: Period,
    settings: ReportSettings,
    zone: ZoneInfo,
    *,
    now: datetime,
) -> Figures:
    """`compute` without the store: pure computation, which the daemon runs in a thread of
    its pool (a month of a busy practice is a few tenths of a second of CPU)."""
    end = period.end.astimezone(UTC)
    repeats = _repeated(records.calls, timedelta(hours=settings.repeat_call_hours))
    facts = [
        _facts(c, records.events.get(c["uuid"], ()), c["uuid"] in records.booked,
               records.callbacks.get(c["uuid"], ()), records.marks.get(c["uuid"], (None, ""))[0],
               c["uuid"] in repeats, records.scores.get(c["uuid"]), zone, now)
        for c in records.calls if c["started_at"] < end
    ]

    def grouped(key: Callable[[CallFacts], object], keys: Iterable[object]) -> dict:
        groups: dict[object, list[CallFacts]] = defaultdict(list)
        for fact in facts:
            groups[key(fact)].append(fact)
        return {k: summarise(groups.get(k, []), settings) for k in keys}

    days = [period.first_day + timedelta(days=n)
            for n in range((period.last_day - period.first_day).days + 1)]
    return Figures(
        period=period,
        total=summarise(facts, settings),
        days=grouped(lambda f: f.started.date(), days),
        weeks=grouped(lambda f: _monday(f.started.date()), dict.fromkeys(map(_monday, days))),
        months=grouped(lambda f: f.started.date().replace(day=1),
                       dict.fromkeys(d.replace(day=1) for d in days)),
        hours=grouped(lambda f: (f.started.weekday(), f.started.hour),
                      [(day, hour) for day in range(7) for hour in range(24)]),
        reasons=dict(Counter(f.reason for f in facts).most_common()),
        outcomes=dict(Counter(f.outcome for f in facts).most_common()),
        waits=tuple(sorted(f.wait for f in facts if f.wait is not None)),
        definitions=definitions(settings),
    )


def _by_call(rows: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    grouped: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        grouped[row["call_uuid"]].append(row)
    return grouped


def _by_call_attr(callbacks: Iterable[CallbackRequest]) -> dict[str, list[CallbackRequest]]:
    grouped: dict[str, list[CallbackRequest]] = defaultdict(list)
    for callback in callbacks:
        grouped[callback.call_uuid].append(callback)
    return grouped


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _repeated(calls: Sequence[Mapping], window: timedelta) -> set[str]:
    """The calls (uuids) after which the same visible number called again within `window`;
    `calls` in the order they began."""
    last: dict[str, Mapping] = {}
    repeated: set[str] = set()
    for call in calls:
        number = callback_digits(call["caller_number"])
        if not number:
            continue
        before = last.get(number)
        if before is not None and call["started_at"] - before["started_at"] <= window:
            repeated.add(before["uuid"])
        last[number] = call
    return repeated


def _scores(store: Store, start: datetime, end: datetime) -> dict[str, int]:
    """The satisfaction answers (keys 1 to 5) of the period's calls by call, when the store
    keeps them ([feedback]: `Store.feedback_answers`, rows with `call_uuid` and `answer`);
    none otherwise."""
    answers = getattr(store, "feedback_answers", None)
    if answers is None:
        return {}
    return {row.call_uuid: row.answer for row in answers(start, end)}
