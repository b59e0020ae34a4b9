"""The manager's figures: a fixed month of call records, written as the daemon writes them,
and each figure equal to the value computed by hand (the reckoning is in the comments)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config.model import ReportSettings
from frontdesk.report.figures import FIGURE_NAMES, Figures, Period, compute, definitions
from frontdesk.report.words import LABELS
from frontdesk.store import Store

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = ReportSettings()  # answered within 20 s, short abandons 5 s, repeat calls 48 h
NOW = datetime(2026, 12, 1, tzinfo=PARIS)
ESTIMATES = "position=1,frontdesk={said},asterisk=50,queue_length=60"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS)


@dataclass
class Call:
    """One call as the daemon records it: its row, queue events (event, seconds after the
    start, wait, detail) and what came of it."""

    uuid: str
    number: str
    start: datetime
    reason: str
    outcome: str
    state: str = "open"
    answered_after: float | None = None
    length: float = 60.0
    queue: tuple[tuple[str, float, float | None, str | None], ...] = ()
    message: bool = False


def record(store: Store, call: Call) -> None:
    store.call_started(call.uuid, caller_number=call.number, caller_name="", destination="100",
                       started_at=call.start, schedule_state=call.state, schedule_detail="",
                       config_version="test")
    for event, after, wait, detail in call.queue:
        store.queue_event(call.uuid, event, at=call.start + timedelta(seconds=after), wait=wait,
                          detail=detail)
    answered = (None if call.answered_after is None
                else call.start + timedelta(seconds=call.answered_after))
    store.call_finished(call.uuid, ended_at=call.start + timedelta(seconds=call.length),
                        answered_at=answered, path=[], reason=call.reason, outcome=call.outcome,
                        hangup_cause="NORMAL_CLEARING",
                        message_file=f"/msg/{call.uuid}.wav" if call.message else None)


CALLS = [
    # c1: answered after 15 s, told 2 + 28 = 30 s; on the line 120 s
    Call("c1", "0611111111", at(2, 9), "speak_to_someone", "answered", answered_after=25,
         length=145, queue=(("entered", 10, 0.0, None),
                            ("announced", 12, 2.0, ESTIMATES.format(said=28)),
                            ("answered", 25, 15.0, None))),
    # c2: answered after 40 s, told 1 + 20 = 21 s; on the line 180 s
    Call("c2", "0622222222", at(2, 9, 30), "speak_to_someone", "answered", answered_after=50,
         length=230, queue=(("entered", 10, 0.0, None),
                            ("announced", 11, 1.0, ESTIMATES.format(said=20)),
                            ("answered", 50, 40.0, None))),
    # c3: hung up after 3 s (a short abandon), and called again 5 min later (c4)
    Call("c3", "06 33 33 33 33", at(2, 10), "speak_to_someone", "abandoned",
         queue=(("entered", 10, 0.0, None), ("abandoned", 13, 3.0, None))),
    # c4: hung up after 90 s; called back (missed) 600 s after
    Call("c4", "0633333333", at(2, 10, 5), "speak_to_someone", "abandoned",
         queue=(("entered", 10, 0.0, None), ("abandoned", 100, 90.0, None))),
    # c5: hidden number, booked by themselves
    Call("c5", "anonymous", at(3, 11), "appointment_new", "booked"),
    # c6: meant to book, left a request for the staff
    Call("c6", "0644444444", at(3, 11, 30), "appointment_new", "requested"),
    # c7: a message at lunch, dealt with an hour later
    Call("c7", "0655555555", at(4, 12, 30), "prescription", "message", state="lunch",
         message=True),
    # c8: a message while closed, still pending at NOW (26 days and 4 hours later)
    Call("c8", "0666666666", at(4, 20), "results", "message", state="closed", message=True),
    # c9: an emergency answered by the desk 12 s after it began (8 s in the queue); 288 s talk
    Call("c9", "0677777777", at(5, 9), "emergency", "emergency_answered", answered_after=12,
         length=300, queue=(("entered", 4, 0.0, "emergency"), ("answered", 12, 8.0, None))),
    # c10: an emergency while closed, put through to the on-call number after 30 s
    Call("c10", "0688888888", at(5, 22), "emergency", "emergency_transferred", state="closed",
         answered_after=30, length=200),
    # c11: asked to be called back; completed 1200 s after the request
    Call("c11", "0699999999", at(6, 9), "speak_to_someone", "callback",
         queue=(("entered", 10, 0.0, None), ("callback_requested", 40, 30.0, None))),
    # c12: turned away: nobody logged in, voicemail
    Call("c12", "0600000001", at(6, 9, 10), "speak_to_someone", "voicemail",
         queue=(("overflowed", 10, 0.0, "nobody_logged_in:voicemail"),)),
    # c13: the number of c1 again, 28 days later: not a repeat
    Call("c13", "0611111111", at(30, 23), "information", "information", state="closed"),
    # c14: called again (c15) the next morning, after the end of the month
    Call("c14", "0600000002", at(30, 22, 30), "information", "information", state="closed"),
    Call("c15", "0600000002", at(1, 8, month=12), "information", "information"),
    Call("c16", "0600000003", at(31, 18, month=10), "information", "information"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "frontdesk.db") as store:
        for call in CALLS:
            record(store, call)
        store.agenda_action("c5", "booked", "17", at=at(3, 11, 2))
        store.agenda_action("c6", "handed_off", None, at=at(3, 11, 32))
        missed = store.callback_requested(
            "c4", number="0633333333", call_started_at=at(2, 10, 5),
            requested_at=at(2, 10, 7), extensions=["201"], reason="missed")
        store.callback_attempted(missed, at=at(2, 10, 17), result="201", state="completed")
        asked = store.callback_requested(
            "c11", number="0699999999", call_started_at=at(6, 9), requested_at=at(6, 9, 1),
            extensions=["201"])
        store.callback_attempted(asked, at=at(6, 9, 21), result="201", state="completed")
        store.message_done("c7", by="cli:anne", at=at(4, 13, 30))
        yield store


@pytest.fixture
def november(store: Store) -> Figures:
    return compute(store, Period.month(2026, 11, PARIS), SETTINGS, PARIS, now=NOW)


def test_each_figure_of_the_month_equals_the_hand_computed_value(november: Figures) -> None:
    total = november.total
    assert total.calls == 14  # c1..c14
    assert total.calls_while_closed == 5  # c7 lunch, c8 c10 c13 c14 closed
    assert total.offered == 7  # c1 c2 c3 c4 c9 c11 entered, c12 turned away
    assert total.short_abandons == 1  # c3
    assert total.answered_in_time_rate == pytest.approx(2 / 6)  # c1 c9 of 7 - 1 short
    assert total.abandonment_rate == pytest.approx(1 / 6)  # c4
    assert total.wait_average == pytest.approx((15 + 40 + 8) / 3)
    assert total.wait_p90 == 40  # nearest rank: the 3rd of 3
    assert total.handle_average == pytest.approx((120 + 180 + 288) / 3)
    assert total.hidden_numbers == 1  # c5
    assert total.first_call_resolution == pytest.approx(11 / 13)  # c3 and c14 called again
    assert total.booking_intents == 2  # c5 c6
    assert total.booking_conversion == pytest.approx(1 / 2)  # c5 booked, c6 a request
    assert total.without_staff_rate == pytest.approx(6 / 14)  # c5 c6 c7 c8 c13 c14
    assert total.emergencies == 2
    assert total.emergency_to_human_average == pytest.approx((12 + 30) / 2)
    assert total.emergency_to_human_max == 30
    assert (total.callbacks_asked, total.callbacks_missed, total.callbacks_completed) == (1, 1, 2)
    assert total.callback_delay_average == pytest.approx((600 + 1200) / 2)
    assert (total.messages, total.messages_pending) == (2, 1)
    assert total.messages_pending_age_average == pytest.approx(26 * 86400 + 4 * 3600)
    assert total.message_delay_average == pytest.approx(3600)
    assert total.announced_wait_average == pytest.approx((30 + 21) / 2)
    assert total.announced_calls_wait_average == pytest.approx((15 + 40) / 2)
    assert total.announced_kept_rate == pytest.approx(1 / 2)  # c1 yes, c2 no
    assert (total.satisfaction_answers, total.satisfaction_average) == (0, None)


def test_the_figures_are_broken_down_by_day_week_month_and_hour_of_the_week(
    november: Figures,
) -> None:
    assert len(november.days) == 30
    assert november.days[date(2026, 11, 2)].calls == 4
    assert november.days[date(2026, 11, 2)].abandonment_rate == pytest.approx(1 / 3)
    assert november.days[date(2026, 11, 1)].calls == 0
    assert november.days[date(2026, 11, 1)].wait_average is None
    assert list(november.weeks)[0] == date(2026, 10, 26)  # the Monday of the first week
    assert november.weeks[date(2026, 11, 2)].calls == 12  # c1..c12
    assert list(november.months) == [date(2026, 11, 1)]
    assert len(november.hours) == 7 * 24
    assert november.hours[(0, 9)].calls == 2  # Mondays 9-10: c1 c2
    assert november.hours[(0, 22)].calls == 1  # c14, Monday 30 at 22:30
    assert november.reasons == {"speak_to_someone": 6, "information": 2, "appointment_new": 2,
                                "emergency": 2, "prescription": 1, "results": 1}
    assert november.waits == (8.0, 15.0, 40.0)


def test_the_previous_period_is_the_month_before_or_as_many_days_before(store: Store) -> None:
    november = Period.month(2026, 11, PARIS)
    assert november.previous() == Period.month(2026, 10, PARIS)
    assert Period.month(2026, 1, PARIS).previous().label == "2025-12"
    week = Period.days(date(2026, 11, 9), date(2026, 11, 15), PARIS)
    assert week.previous() == Period.days(date(2026, 11, 2), date(2026, 11, 8), PARIS)
    october = compute(store, november.previous(), SETTINGS, PARIS, now=NOW)
    assert october.total.calls == 1  # c16


def test_a_period_starts_at_the_practices_midnight_across_a_change_of_time() -> None:
    march = Period.month(2026, 3, PARIS)
    assert march.start.astimezone(UTC) == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert march.end.astimezone(UTC) == datetime(2026, 3, 31, 22, tzinfo=UTC)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_figure_has_its_name_and_definition_in_each_language(language: str) -> None:
    assert list(LABELS[language]) == list(FIGURE_NAMES)
    assert list(definitions(SETTINGS, language)) == list(FIGURE_NAMES)


def test_the_definitions_say_the_practices_thresholds() -> None:
    texts = definitions(SETTINGS)
    assert "within 20 s" in texts["answered_in_time_rate"]
    assert "48 h" in texts["first_call_resolution"]


def test_satisfaction_answers_count_when_the_store_keeps_them(store: Store) -> None:
    class WithFeedback:
        def __init__(self, inner: Store) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

        def feedback_answers(self, start: datetime, end: datetime) -> list[dict]:
            return [{"call_uuid": "c1", "answer": 5}, {"call_uuid": "c2", "answer": 2}]

    figures = compute(WithFeedback(store), Period.month(2026, 11, PARIS), SETTINGS, PARIS,
                      now=NOW)
    assert (figures.total.satisfaction_answers, figures.total.satisfaction_average) == (2, 3.5)
