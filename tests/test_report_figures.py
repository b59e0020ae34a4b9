"""The manager's figures: a fixed month of call records, written as the daemon writes them,
and each figure equal to the value computed by hand (the reckoning is in the comments, here
and in tests/report_records.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from frontdesk.config.model import ReportSettings
from frontdesk.report.figures import FIGURE_NAMES, Figures, Period, compute, definitions
from frontdesk.report.words import LABELS
from frontdesk.store import Store
from report_records import NOW, PARIS, seed_month

SETTINGS = ReportSettings()  # answered within 20 s, short abandons 5 s, repeat calls 48 h


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "frontdesk.db") as store:
        seed_month(store)
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
    """`Store.feedback_answers` comes with [feedback] (R-feedback): rows with the call and the
    key pressed."""

    @dataclass(frozen=True)
    class Answer:
        call_uuid: str
        answer: int

    class WithFeedback:
        def __init__(self, inner: Store) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

        def feedback_answers(self, start: datetime, end: datetime) -> list[Answer]:
            return [Answer("c1", 5), Answer("c2", 2), Answer("c9", 4)]

    figures = compute(WithFeedback(store), Period.month(2026, 11, PARIS), SETTINGS, PARIS,
                      now=NOW)
    assert (figures.total.satisfaction_answers, figures.total.satisfaction_average) == (3, 11 / 3)
    monday = figures.days[date(2026, 11, 2)]
    assert (monday.satisfaction_answers, monday.satisfaction_average) == (2, 3.5)


def test_the_docs_give_every_definition() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "report.md").read_text(encoding="utf-8")
    for name, text in definitions(SETTINGS).items():
        assert f"| `{name}` |" in docs and text in docs, name


def test_a_call_still_in_progress_counts_as_received_and_nothing_else(store: Store) -> None:
    store.call_started("now", caller_number="0611111199", caller_name="", destination="100",
                       started_at=NOW - timedelta(minutes=1), schedule_state="open",
                       schedule_detail="", config_version="test")
    today = Period.days(date(2026, 11, 30), date(2026, 11, 30), PARIS)

    figures = compute(store, today, SETTINGS, PARIS, now=NOW)

    assert figures.outcomes == {"information": 2, "in_progress": 1}
    assert figures.total.without_staff_rate == pytest.approx(2 / 3)
    assert figures.total.abandonment_rate is None
