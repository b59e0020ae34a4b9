"""Wait estimators and Erlang C: textbook values, monotonicity, what each one learns from."""

from __future__ import annotations

import math

import pytest

from frontdesk.estimate import (
    AsteriskEstimator,
    ErlangC,
    Estimates,
    QueueLengthEstimator,
    WaitEstimator,
)


def erlang_c_by_the_sum(a: float, s: int) -> float:
    """C(s, a) = (a^s/s! · s/(s−a)) / (Σ_{k<s} a^k/k! + a^s/s! · s/(s−a)), term by term."""
    top = a**s / math.factorial(s) * s / (s - a)
    return top / (sum(a**k / math.factorial(k) for k in range(s)) + top)


# -- Erlang C ------------------------------------------------------------------------------


def test_erlang_c_worked_example_two_calls_a_minute_three_minutes_each_eight_agents():
    # By hand: a = 6 erlangs; Σ_{k<8} 6^k/k! = 300.142857; 6^8/8! · 8/2 = 166.628571;
    # C = 166.628571 / 466.771428 = 0.356981; mean wait = C·180/2 = 32.13 s;
    # P(W ≤ 20 s) = 1 − C·e^(−2·20/180) = 0.71415.
    queue = ErlangC(arrivals_per_s=2 / 60, handle_s=180, agents=8)
    assert queue.load == pytest.approx(6.0)
    assert queue.wait_probability == pytest.approx(0.356981, abs=1e-6)
    assert queue.mean_wait_s == pytest.approx(32.128, abs=0.01)
    assert queue.service_level(20) == pytest.approx(0.71415, abs=1e-5)


@pytest.mark.parametrize(("a", "s"), [(0.5, 1), (2.0, 3), (9.5, 12), (40.0, 45)])
def test_erlang_c_recursion_matches_the_closed_form(a, s):
    queue = ErlangC(arrivals_per_s=a / 100, handle_s=100, agents=s)
    assert queue.wait_probability == pytest.approx(erlang_c_by_the_sum(a, s), rel=1e-9)


def test_one_agent_is_the_m_m_1_queue():
    # M/M/1: P(wait) = ρ, mean wait = ρ/(μ − λ).
    queue = ErlangC(arrivals_per_s=0.5 / 60, handle_s=60, agents=1)
    assert queue.wait_probability == pytest.approx(0.5)
    assert queue.mean_wait_s == pytest.approx(0.5 / (1 / 60 - 0.5 / 60))


def test_over_capacity_everyone_waits_forever():
    queue = ErlangC(arrivals_per_s=2 / 60, handle_s=210, agents=3)
    assert queue.wait_probability == 1.0
    assert queue.mean_wait_s == math.inf
    assert queue.service_level(20) == 0.0
    assert queue.wait_quantile_s(0.9) == math.inf


def test_wait_quantile_inverts_the_service_level():
    queue = ErlangC(arrivals_per_s=2 / 60, handle_s=180, agents=8)
    p90 = queue.wait_quantile_s(0.9)
    assert queue.service_level(p90) == pytest.approx(0.9)
    assert queue.wait_quantile_s(0.5) == 0.0  # most callers do not wait at all


# -- frontdesk's estimator -----------------------------------------------------------------


def learned(handles=(180.0,) * 10, waits=(), abandons=()) -> WaitEstimator:
    estimator = WaitEstimator(answer_s=5.0)
    for at, handle in enumerate(handles):
        estimator.on_call_ended(handle, at)
    for at, wait in enumerate(waits):
        estimator.on_answered(wait, at)
    for at, wait in enumerate(abandons):
        estimator.on_abandoned(wait, at)
    return estimator


def test_a_caller_with_a_free_phone_waits_only_for_it_to_answer():
    estimate = learned().estimate(
        1, staff_available=1, staff_logged_in=3, busy_elapsed=[10, 20], now=10
    )
    assert estimate == 5.0


def test_with_everyone_just_starting_a_call_each_caller_ahead_adds_a_handle_time_over_staff():
    estimator = learned()
    waits = [
        estimator.estimate(n, staff_available=0, staff_logged_in=3, busy_elapsed=[0, 0, 0], now=10)
        for n in (1, 3, 4, 6, 7)
    ]
    assert waits == pytest.approx([60, 180, 240, 360, 420], rel=0.01)


def test_the_first_of_several_busy_staff_frees_up_sooner_than_one_call():
    estimator = learned()
    busy = {"staff_available": 0, "now": 10}
    one = estimator.estimate(1, staff_logged_in=1, busy_elapsed=[60], **busy)
    five = estimator.estimate(1, staff_logged_in=5, busy_elapsed=[60] * 5, **busy)
    assert five == pytest.approx(one / 5)


def test_available_staff_take_the_callers_ahead_first():
    estimator = learned()
    wait = estimator.estimate(3, staff_available=2, staff_logged_in=3, busy_elapsed=[0], now=10)
    assert wait == pytest.approx(180 / 3)


def test_a_staff_member_about_to_finish_shortens_the_wait():
    estimator = learned(handles=[120, 150, 180, 210, 240] * 2)
    fresh = estimator.estimate(1, staff_available=0, staff_logged_in=1, busy_elapsed=[0], now=10)
    nearly_done = estimator.estimate(
        1, staff_available=0, staff_logged_in=1, busy_elapsed=[200], now=10
    )
    assert nearly_done < fresh
    assert nearly_done > 0


def test_a_call_longer_than_any_recent_one_is_still_expected_to_last():
    estimator = learned()
    assert estimator.remaining_s(600, now=10) > 0


def test_nobody_logged_in_gives_no_estimate():
    wait = learned().estimate(1, staff_available=0, staff_logged_in=0, busy_elapsed=[], now=10)
    assert wait == math.inf


@pytest.mark.parametrize("staff", [1, 2, 3, 4])
def test_more_staff_never_lengthens_the_wait(staff):
    estimator = learned(waits=[60, 120], abandons=[90])
    fewer = estimator.estimate(
        8, staff_available=0, staff_logged_in=staff, busy_elapsed=[30] * staff, now=10
    )
    more = estimator.estimate(
        8, staff_available=0, staff_logged_in=staff + 1, busy_elapsed=[30] * (staff + 1), now=10
    )
    assert more <= fewer


def test_further_back_never_waits_less():
    estimator = learned(waits=[60, 120, 200], abandons=[90, 30])
    waits = [
        estimator.estimate(n, staff_available=0, staff_logged_in=2, busy_elapsed=[40, 100], now=10)
        for n in range(1, 30)
    ]
    assert waits == sorted(waits)
    assert waits[-1] > waits[0]


def test_callers_ahead_who_give_up_shorten_the_wait():
    patient = learned(waits=[100] * 10)
    impatient = learned(waits=[100] * 5, abandons=[100] * 5)
    args = {"staff_available": 0, "staff_logged_in": 1, "busy_elapsed": [0], "now": 10}
    assert impatient.estimate(10, **args) < patient.estimate(10, **args)
    assert impatient.abandon_rate(now=10) == pytest.approx(5 / (1000 + 600))


def test_a_phone_about_to_finish_its_wrap_up_never_makes_the_estimate_negative():
    estimator = WaitEstimator(wrapup_s=15)
    waits = [
        estimator.estimate(n, staff_available=0, staff_logged_in=2, busy_elapsed=[30],
                           wrapup_elapsed=[14.5], now=10)
        for n in range(1, 8)
    ]
    assert all(w > 0 for w in waits)
    assert waits == sorted(waits)


def test_callbacks_ahead_never_give_up():
    impatient = learned(waits=[100] * 5, abandons=[100] * 5)
    args = {"staff_available": 0, "staff_logged_in": 1, "busy_elapsed": [0], "now": 10}
    on_the_line = impatient.estimate(10, **args)
    some_callbacks = impatient.estimate(10, callbacks_ahead=4, **args)
    all_callbacks = impatient.estimate(10, callbacks_ahead=9, **args)
    assert on_the_line < some_callbacks < all_callbacks
    patient = learned(waits=[100] * 10)
    assert all_callbacks == pytest.approx(patient.estimate(10, **args), rel=0.02)


def test_handle_time_follows_recent_calls():
    estimator = learned(handles=[180] * 10)
    for at in range(10):
        estimator.on_call_ended(300, 100 + at)
    assert 280 < estimator.mean_handle_s < 300


def test_history_older_than_the_window_is_forgotten():
    estimator = WaitEstimator(window_s=3600)
    estimator.on_abandoned(30, at=0)
    assert estimator.abandon_rate(now=100) > 0
    assert estimator.abandon_rate(now=4000) == 0


def test_wrap_up_holds_a_phone_back():
    estimator = WaitEstimator(wrapup_s=30)
    wrapping = estimator.estimate(
        1, staff_available=0, staff_logged_in=1, busy_elapsed=[], wrapup_elapsed=[10], now=0
    )
    assert wrapping == 20


# -- the two reference estimators ------------------------------------------------------------


def test_asterisk_estimate_is_a_moving_average_of_answered_waits_only():
    estimator = AsteriskEstimator()
    estimator.on_answered(100, at=0)
    estimator.on_abandoned(1000, at=1)
    estimator.on_answered(20, at=2)
    assert estimator.holdtime_s == pytest.approx((3 * 25 + 20) / 4)
    args = {"staff_available": 0, "staff_logged_in": 1, "busy_elapsed": [0], "now": 3}
    assert estimator.estimate(1, **args) == estimator.estimate(9, **args)


def test_queue_length_estimate_is_position_over_service_rate():
    estimator = QueueLengthEstimator()
    for at, handle in enumerate([100, 200, 300]):
        estimator.on_call_ended(handle, at)
    wait = estimator.estimate(4, staff_available=0, staff_logged_in=2, busy_elapsed=[0], now=5)
    assert wait == pytest.approx(4 * 200 / 2)


def test_estimates_feeds_every_estimator_the_same_history():
    estimates = Estimates()
    estimates.on_call_ended(120, at=0)
    estimates.on_answered(40, at=1)
    figures = estimates.estimate(2, staff_available=0, staff_logged_in=1, busy_elapsed=[0], now=2)
    assert set(figures) == {"frontdesk", "asterisk", "queue_length"}
    assert figures["asterisk"] == 10
    assert figures["queue_length"] == 240
