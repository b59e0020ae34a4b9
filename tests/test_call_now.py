"""A receptionist calls a patient back now (the console's "call back now"): the real daemon
against the simulator. 1001 is the queue's phone, kept busy by a caller so that the daemon does
not place the callback itself; 1002 is the receptionist's own phone and 1003 another one, both
logged out of the queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from callback_rig import (
    ASKS_CALLBACK,
    PATIENT,
    QUEUE,
    TUESDAY_MORNING,
    busy_desk,
    control_log,
    desk_phones,
    events,
    hang_up,
    missed_while_busy,
    requested,
)
from frontdesk.queue.callbacks import CallNowRefused, missed_patients, pending_callbacks
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall
from frontdesk.store import CallbackRequest

RECEPTIONIST = "1002"
STAFF_LEG = "sofia/fsref/1002@127.0.0.1:5090"
PATIENT_LEG = f"sofia/gateway/trunk/{PATIENT}"
FRENCH_RINGBACK = "tone_stream://%(1500,3500,440);loops=-1"


@pytest.fixture
def rig(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    with desk_phones(practice_dir, tmp_path, QUEUE, ("1001", "1002", "1003")) as running:
        for ext in (RECEPTIONIST, "1003"):
            running.daemon.set_staff_login(ext, False, by="test")
        board = running.daemon.queue.board
        assert running.wait_for(lambda: [p.state for p in board.phones.values() if p.registered]
                                == ["idle", "logged_out", "logged_out"])
        yield running


def asked_for_a_callback(rig: Rig) -> tuple[SimCall, SimCall, CallbackRequest]:
    """1001 busy with a caller; the patient asked to be called back: (the busy caller, the
    patient's call, their pending callback)."""
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))
    [request] = pending_callbacks(rig.daemon.store)
    return busy, asker, request


def extensions(rig: Rig, call: SimCall, event: str) -> list[str]:
    """The extensions of `call`'s queue events named `event`."""
    return [e["extension"] for e in rig.daemon.store.queue_events(call.uuid)
            if e["event"] == event]


def refused(rig: Rig, ref: str, extension: str = RECEPTIONIST) -> str:
    with pytest.raises(CallNowRefused) as refusal:
        rig.daemon.callbacks.call_now(ref, extension, by="console:bob")
    assert isinstance(refusal.value, ValueError)
    return refusal.value.reason


def test_call_back_now_rings_the_receptionists_phone_then_the_patient_then_bridges_them(
    rig: Rig,
) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    rig.sim.phones[RECEPTIONIST].answer_after = 4.0
    busy, asker, request = asked_for_a_callback(rig)
    seen = control_log(rig)

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: rig.sim.phone_state(RECEPTIONIST) == "ringing")
    assert patient.shown == []  # the patient's phone rings once the receptionist picked up
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert rig.sim.phone_state(RECEPTIONIST) == "talking"
    assert [(leg.event, leg.channel) for leg in seen] == [
        ("CHANNEL_CREATE", STAFF_LEG),
        ("CHANNEL_ANSWER", STAFF_LEG),
        ("CHANNEL_CREATE", PATIENT_LEG),
        ("CHANNEL_ANSWER", PATIENT_LEG),
    ]
    staff, patient_leg = seen[0], seen[2]
    assert (staff.name, staff.number) == ("Rappel", PATIENT)  # shown before it is picked up
    assert rig.sim.broadcasts == [(staff.uuid, FRENCH_RINGBACK)]  # while the patient's rings
    bridged = rig.sim.channels[patient_leg.uuid].other
    assert bridged is not None and bridged.uuid == staff.uuid
    assert events(rig, asker) == [
        "entered", "callback_requested", "offered", "callback_placed", "callback_completed",
    ]
    assert extensions(rig, asker, "callback_placed") == [RECEPTIONIST]
    [done] = rig.daemon.store.callbacks(("completed",))
    assert (done.id, done.attempts, done.last_result, done.done_by) == (
        request.id, 1, RECEPTIONIST, "console:alice")
    assert pending_callbacks(rig.daemon.store) == []
    assert refused(rig, str(request.id)) == "unknown"  # nothing left to call back
    hang_up(rig, busy)


def test_call_back_now_works_outside_opening_hours(rig: Rig) -> None:
    rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    busy, asker, request = asked_for_a_callback(rig)
    rig.daemon.store.set_override("closed", until=None, set_by="test", now=TUESDAY_MORNING)
    hang_up(rig, busy)
    # the queue's phone is free: the daemon itself waits for opening hours
    assert not rig.wait_for(lambda: "offered" in events(rig, asker), timeout=100)

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert extensions(rig, asker, "offered") == [RECEPTIONIST]


def test_the_receptionist_not_answering_leaves_the_callback_as_it_was(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    rig.sim.phones[RECEPTIONIST].answer_after = None
    busy, asker, request = asked_for_a_callback(rig)

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: rig.sim.phone_state(RECEPTIONIST) == "ringing")
    assert rig.wait_for(lambda: "not_answered" in events(rig, asker))
    assert rig.sim.phone_state(RECEPTIONIST) == "idle"
    [still] = pending_callbacks(rig.daemon.store)
    assert (still.id, still.state, still.attempts, still.last_result) == (
        request.id, "pending", 0, None)
    assert patient.shown == []
    # its turn comes as before, and the daemon places it
    hang_up(rig, busy)
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)
    [done] = rig.daemon.store.callbacks(("completed",))
    assert (done.last_result, done.done_by) == ("1001", None)


def test_the_patient_not_answering_counts_an_attempt(rig: Rig) -> None:
    rig.sim.add_outside(PATIENT, answer_after=None)
    busy, asker, request = asked_for_a_callback(rig)

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: "callback_failed" in events(rig, asker), timeout=1000)
    [tried] = pending_callbacks(rig.daemon.store)
    assert (tried.state, tried.attempts, tried.last_result) == ("pending", 1, "NO_ANSWER")
    assert tried.next_attempt_at is not None  # retried like any callback
    assert rig.sim.phone_state(RECEPTIONIST) == "idle"  # the receptionist's leg was hung up
    hang_up(rig, busy)


def test_a_callback_given_up_after_its_retries_can_be_called_back_now(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=None)
    busy, asker, request = asked_for_a_callback(rig)
    hang_up(rig, busy)
    store = rig.daemon.store
    assert rig.wait_for(lambda: [r.state for r in pending_callbacks(store)] == ["failed"],
                        timeout=1500)

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: events(rig, asker).count("callback_failed") == 3, timeout=1000)
    [again] = pending_callbacks(store)
    assert (again.state, again.attempts) == ("failed", 3)  # one attempt more, still the staff's

    patient.answer_after = 2.0
    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)
    [done] = store.callbacks(("completed",))
    assert (done.attempts, done.done_by) == (4, "console:alice")


def test_two_receptionists_calling_the_same_patient_back_place_one_call(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=5.0, talk_seconds=600)
    rig.sim.phones[RECEPTIONIST].answer_after = 5.0
    busy, asker, request = asked_for_a_callback(rig)
    seen = control_log(rig)

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")
    assert refused(rig, str(request.id), "1003") == "already_calling"  # alice's phone rings
    assert rig.wait_for(lambda: patient.shown != [])
    assert refused(rig, str(request.id), "1003") == "already_calling"  # the patient's rings

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert [leg.channel for leg in seen if leg.event == "CHANNEL_CREATE"] == [
        STAFF_LEG, PATIENT_LEG]
    assert len(patient.shown) == 1
    assert rig.sim.phone_state("1003") == "idle"
    hang_up(rig, busy)


def test_the_daemon_placing_a_callback_refuses_a_call_back_now(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    busy, asker, request = asked_for_a_callback(rig)
    rig.sim.phones["1001"].answer_after = 10.0
    hang_up(rig, busy)
    assert rig.wait_for(lambda: rig.sim.phone_state("1001") == "ringing", timeout=100)

    assert refused(rig, str(request.id)) == "already_calling"

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert extensions(rig, asker, "offered") == ["1001"]
    assert len(patient.shown) == 1
    assert rig.sim.phone_state(RECEPTIONIST) == "idle"


def test_the_daemon_does_not_place_a_callback_a_receptionist_is_calling_back(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    rig.sim.phones[RECEPTIONIST].answer_after = 10.0
    busy, asker, request = asked_for_a_callback(rig)
    hang_up(rig, busy)
    rig.daemon.set_staff_login("1001", False, by="test")  # the daemon cannot place it yet

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: rig.sim.phone_state(RECEPTIONIST) == "ringing")
    rig.daemon.set_staff_login("1001", True, by="test")  # a free phone while alice's rings

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert extensions(rig, asker, "offered") == [RECEPTIONIST]
    assert len(patient.shown) == 1


def test_call_back_now_is_refused_with_its_reason(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    busy, asker, request = asked_for_a_callback(rig)
    hidden = rig.place(CallerScript(keys=("0",), patience=70), at=TUESDAY_MORNING,
                       caller_number="anonymous")
    assert hidden.wait_done(10)
    store = rig.daemon.store
    assert rig.wait_for(lambda: missed_patients(store, TUESDAY_MORNING, missed_after=30) != [])

    assert refused(rig, "999") == "unknown"
    assert refused(rig, "ffffffff") == "unknown"  # no missed call of that ref
    assert refused(rig, hidden.uuid[:8]) == "no_number"
    assert refused(rig, str(request.id), "1001") == "phone_unavailable"  # on a call
    rig.sim.set_registered("1003", False)
    assert rig.wait_for(lambda: rig.daemon.queue.board.phones["1003"].state == "unregistered")
    assert refused(rig, str(request.id), "1003") == "phone_unavailable"
    assert refused(rig, str(request.id), "1999") == "phone_unavailable"  # no such desk phone

    [still] = pending_callbacks(store)
    assert (still.id, still.attempts) == (request.id, 0)
    assert patient.shown == []
    assert "offered" not in events(rig, asker)
    hang_up(rig, busy)


def test_call_back_now_is_refused_while_freeswitch_has_no_gateway(rig: Rig) -> None:
    busy, asker, request = asked_for_a_callback(rig)
    with structlog.testing.capture_logs() as logs:
        rig.sim.gateways.clear()  # FreeSWITCH restarted without it
        rig.sim.restart_esl()
        assert rig.wait_for(lambda: "queue.reconciled" in [e["event"] for e in logs],
                            timeout=1000)

    assert refused(rig, str(request.id)) == "no_gateway"
    assert rig.sim.phone_state(RECEPTIONIST) == "idle"
    hang_up(rig, busy)


def test_call_back_now_is_refused_while_freeswitch_is_not_connected(rig: Rig) -> None:
    busy, asker, request = asked_for_a_callback(rig)
    rig.sim.stop()  # FreeSWITCH stopped: no desk phone can be rung
    assert rig.wait_for(lambda: not rig.daemon.freeswitch_connected)

    assert refused(rig, str(request.id)) == "phone_unavailable"
    [still] = pending_callbacks(rig.daemon.store)
    assert (still.id, still.attempts) == (request.id, 0)
    assert "offered" not in events(rig, asker)


def test_a_missed_patient_called_back_now_is_tracked_once_the_receptionist_picks_up(
    rig: Rig,
) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    busy, missed, listed = missed_while_busy(rig)
    store = rig.daemon.store
    ref = listed.call_uuid[:8]  # as `frontdesk callbacks` shows it
    rig.sim.phones[RECEPTIONIST].answer_after = None

    rig.daemon.callbacks.call_now(ref, RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: "not_answered" in events(rig, missed))
    assert missed_patients(store, TUESDAY_MORNING, missed_after=30) == [listed]  # unchanged
    assert store.callbacks(("pending", "failed", "completed", "done")) == []

    rig.sim.phones[RECEPTIONIST].answer_after = 2.0
    rig.daemon.callbacks.call_now(ref, RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: "callback_completed" in events(rig, missed))
    [done] = store.callbacks(("completed",))
    assert (done.call_uuid, done.reason, done.number, done.done_by) == (
        missed.uuid, "missed", PATIENT, "console:alice")
    assert missed_patients(store, TUESDAY_MORNING, missed_after=30) == []
    assert events(rig, missed)[-4:] == [
        "offered", "callback_requested", "callback_placed", "callback_completed"]
    assert len(patient.shown) == 1
    hang_up(rig, busy)


def test_a_missed_patient_not_answering_a_call_back_now_is_retried_like_any_callback(
    rig: Rig,
) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=None)
    busy, missed, listed = missed_while_busy(rig)
    store = rig.daemon.store

    rig.daemon.callbacks.call_now(listed.call_uuid[:8], RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: "callback_failed" in events(rig, missed), timeout=1000)
    [tried] = pending_callbacks(store)
    assert (tried.reason, tried.state, tried.attempts) == ("missed", "pending", 1)
    assert rig.daemon.queue.feed.last.callbacks == 1  # among the callbacks waiting their turn
    patient.answer_after = 2.0
    hang_up(rig, busy)
    assert rig.wait_for(lambda: "callback_completed" in events(rig, missed), timeout=1000)
    assert extensions(rig, missed, "callback_placed") == [RECEPTIONIST, "1001"]
    assert rig.daemon.queue.feed.last.callbacks == 0


def test_a_callback_waiting_for_its_retry_called_back_now_is_not_retried_after(
    rig: Rig,
) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=None)
    busy, asker, request = asked_for_a_callback(rig)
    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: "callback_failed" in events(rig, asker), timeout=1000)
    hang_up(rig, busy)  # 1001 is free when the retry falls due
    [tried] = pending_callbacks(rig.daemon.store)
    assert tried.next_attempt_at is not None

    patient.answer_after = 2.0
    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert rig.wait_for(lambda: rig.clock.wall() > tried.next_attempt_at + timedelta(minutes=5))
    assert extensions(rig, asker, "offered") == [RECEPTIONIST, RECEPTIONIST]
    assert len(patient.shown) == 2
    [done] = rig.daemon.store.callbacks(("completed",))
    assert (done.attempts, done.done_by) == (2, "console:alice")


@pytest.mark.parametrize(
    ("receptionist_answers_after", "patient_answers_after"),
    [(20.0, 2.0), (2.0, 20.0)],
    ids=["while-the-receptionists-phone-rings", "while-the-patients-phone-rings"],
)
def test_a_retry_falling_due_during_a_call_back_now_rings_no_other_phone(
    rig: Rig, receptionist_answers_after: float, patient_answers_after: float
) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=None, talk_seconds=60)
    busy, asker, request = asked_for_a_callback(rig)
    hang_up(rig, busy)
    assert rig.wait_for(lambda: "callback_failed" in events(rig, asker), timeout=1000)
    [tried] = pending_callbacks(rig.daemon.store)  # the daemon tries again in 60 s
    assert tried.next_attempt_at is not None
    due = tried.next_attempt_at
    assert rig.wait_for(lambda: rig.clock.wall() >= due - timedelta(seconds=10))
    patient.answer_after = patient_answers_after
    rig.sim.phones[RECEPTIONIST].answer_after = receptionist_answers_after

    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker))
    assert rig.wait_for(lambda: rig.clock.wall() > due + timedelta(minutes=5))
    assert extensions(rig, asker, "offered") == ["1001", RECEPTIONIST]
    assert len(patient.shown) == 2
    assert events(rig, asker)[-2:] == ["callback_completed", "completed"]  # talked, hung up
    [done] = rig.daemon.store.callbacks(("completed",))
    assert (done.attempts, done.last_result, done.done_by) == (2, RECEPTIONIST, "console:alice")


def test_a_callback_completed_late_leaves_the_waits_announced_to_callers_as_they_were(
    rig: Rig,
) -> None:
    """The patient of a callback was not on the line while it waited (they could not hang up):
    its age, a day when called back the next morning, says nothing of how long callers wait."""
    patient = rig.sim.add_outside(PATIENT, answer_after=None)
    busy, asker, request = asked_for_a_callback(rig)
    impatient = rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING,
                          caller_number="0611223344")
    assert rig.wait_for(lambda: "entered" in events(rig, impatient))
    rig.clock.sleep(60)
    hang_up(rig, impatient)  # callers do hang up: the estimate counts on it
    hang_up(rig, busy)
    store = rig.daemon.store
    assert rig.wait_for(lambda: [r.state for r in pending_callbacks(store)] == ["failed"],
                        timeout=1500)
    queue = rig.daemon.queue

    def announced_to_the_fourth_caller() -> dict[str, float]:
        """Every estimator's figure (frontdesk's is said; all are stored for bench_queue)."""
        return queue.estimates.estimate(4, staff_available=0, staff_logged_in=1,
                                        busy_elapsed=[30.0], now=queue.now())

    before = announced_to_the_fourth_caller()
    patient.answer_after = 2.0
    rig.daemon.callbacks.call_now(str(request.id), RECEPTIONIST, by="console:alice")
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)

    assert announced_to_the_fourth_caller() == pytest.approx(before, abs=0.5)
