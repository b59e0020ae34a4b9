"""Callbacks instead of waiting, and missed patients: the real daemon against the simulator.

One desk phone (1001) serves; a first caller keeps it busy while the others wait. Time runs a
hundred times faster (time_scale 0.01); the tests wait on conditions, never on sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from callback_rig import (
    ASKS_CALLBACK,
    BEHIND,
    PATIENT,
    QUEUE,
    TUESDAY_MORNING,
    busy_desk,
    callers_waiting,
    control_log,
    desk_phones,
    events,
    hang_up,
    missed_while_busy,
    requested,
)
from frontdesk.config import load_config
from frontdesk.queue.callbacks import mark_done, missed_patients, pending_callbacks
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, Outside, SimCall


@pytest.fixture
def rig(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    with desk_phones(practice_dir, tmp_path, QUEUE) as running:
        yield running


@pytest.fixture
def calling_back(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    with desk_phones(practice_dir, tmp_path, QUEUE | {"call_back_missed": True}) as running:
        yield running


def test_the_callback_keeps_the_place_and_rings_the_staff_then_the_patient(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=20.0)
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))
    behind = rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING,
                       caller_number=BEHIND)
    assert rig.wait_for(lambda: BEHIND in callers_waiting(rig))
    assert rig.daemon.queue.feed.last.callbacks == 1
    assert rig.daemon.queue.feed.last.waiting == 1  # on the line; the callback, in front
    seen = control_log(rig)

    hang_up(rig, busy)

    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)
    legs = [(leg.event, leg.channel) for leg in seen]
    staff_leg = "sofia/fsref/1001@127.0.0.1:5090"
    patient_leg = f"sofia/gateway/trunk/{PATIENT}"
    assert legs[:5] == [
        ("CHANNEL_CREATE", staff_leg),
        ("CHANNEL_ANSWER", staff_leg),
        ("CHANNEL_CREATE", patient_leg),
        ("CHANNEL_ANSWER", patient_leg),
    ]
    [patient_uuid] = [leg.uuid for leg in seen if (leg.event, leg.channel) == legs[3]]
    [(staff_uuid, shown)] = [(leg.uuid, leg.name) for leg in seen
                             if (leg.event, leg.channel) == legs[1]]
    assert shown == "Rappel"  # the staff phone says it is a callback before it is picked up
    # the staff member hears the French ringing tone while the patient's phone rings
    assert rig.sim.broadcasts == [(staff_uuid, "tone_stream://%(1500,3500,440);loops=-1")]
    bridged = rig.sim.channels[patient_uuid].other  # uuid_bridge <patient> <staff>
    assert bridged is not None and bridged.name == staff_leg
    assert patient.calls_answered == 1
    assert behind.bridged_to is None  # still waiting: the callback went first
    assert events(rig, asker) == [
        "entered", "callback_requested", "offered", "callback_placed", "callback_completed",
    ]
    result = rig.result(asker)
    assert result.outcome == "callback"
    assert rig.daemon.store.get_call(asker.uuid)["outcome"] == "callback"
    assert asker.prompts_heard[-1].endswith("goodbye.wav")  # the thanks, then hung up
    assert [r.state for r in rig.daemon.store.callbacks(("completed",))] == ["completed"]
    assert pending_callbacks(rig.daemon.store) == []
    # the behind caller is served once the callback's conversation is over
    assert rig.wait_for(lambda: behind.bridged_to is not None, timeout=1000)
    hang_up(rig, behind)


def test_the_patient_sees_the_practices_number_and_name(rig: Rig) -> None:
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=20.0)
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))

    hang_up(rig, busy)

    assert rig.wait_for(lambda: patient.shown, timeout=3000)  # the patient's phone rings
    trunk = rig.config.trunk
    assert trunk is not None and trunk.caller_id == "0199000001"
    assert patient.shown == [("0199000001", "Cabinet médical des Tilleuls")]


def test_without_the_gateway_no_staff_phone_rings_for_a_callback_and_it_stays_listed(
    rig: Rig,
) -> None:
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))
    behind = rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING, caller_number=BEHIND)
    assert rig.wait_for(lambda: BEHIND in callers_waiting(rig))
    with structlog.testing.capture_logs() as logs:

        def reconnected(times: int) -> bool:
            return [e["event"] for e in logs].count("queue.reconciled") == times

        rig.sim.gateways.clear()  # FreeSWITCH restarted without it
        rig.sim.restart_esl()
        assert rig.wait_for(lambda: reconnected(1), timeout=1000)
        rig.sim.restart_esl()  # a second reconnection: no second error
        assert rig.wait_for(lambda: reconnected(2), timeout=1000)

        hang_up(rig, busy)

        assert rig.wait_for(lambda: behind.bridged_to is not None, timeout=1000)  # the next caller
    assert "offered" not in events(rig, asker)
    assert [r.number for r in pending_callbacks(rig.daemon.store)] == [PATIENT]
    missing = [entry for entry in logs if entry["event"] == "queue.gateway_missing"]
    assert [(e["log_level"], e["gateway"]) for e in missing] == [("error", "trunk")]
    hang_up(rig, behind)


def test_a_practice_without_trunk_caller_id_is_warned_at_start(
    practice_dir: Path, tmp_path: Path
) -> None:
    path = practice_dir / "frontdesk.toml"
    text = path.read_text()
    start = text.index("\n[trunk]\n")
    path.write_text(text[:start] + text[text.index("\n[", start + 1):])
    with structlog.testing.capture_logs() as logs:
        with Rig(load_config(path), tmp_path):
            pass

    assert "trunk.caller_id_missing" in [entry["event"] for entry in logs]


def test_a_hidden_number_is_typed_digits_only(rig: Rig) -> None:
    busy = busy_desk(rig)
    typed = CallerScript(keys=("0", "0639984444#"), hold_key="5", hold_key_after=20)
    asker = rig.place(typed, at=TUESDAY_MORNING, caller_number="anonymous")
    assert rig.wait_for(requested(rig, asker))

    [request] = pending_callbacks(rig.daemon.store)
    assert request.number == "0639984444"
    assert request.call_uuid == asker.uuid
    hang_up(rig, busy)


def test_silence_when_asked_to_confirm_the_number_is_not_called_an_invalid_choice(
    rig: Rig,
) -> None:
    busy = busy_desk(rig)
    silent = CallerScript(keys=("0", "", ""), hold_key="5", hold_key_after=20, patience=200)
    asker = rig.place(silent, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert asker.wait_done(10)

    heard = [uri.rsplit("/", 1)[-1] for uri in asker.prompts_heard
             if not uri.startswith("silence_stream:")]
    asked = heard.index("callback.wav")
    assert heard[asked:asked + 2] == ["callback.wav", "callback.wav"]  # asked twice
    assert "invalid.wav" not in heard
    assert "callback_requested" not in events(rig, asker)
    hang_up(rig, busy)


def test_a_failed_callback_is_retried_then_lands_in_the_staff_list(rig: Rig) -> None:
    rig.sim.add_outside(PATIENT, answer_after=None)  # never answers
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))
    hang_up(rig, busy)

    store = rig.daemon.store
    assert rig.wait_for(lambda: [r.state for r in pending_callbacks(store)] == ["failed"],
                    timeout=1500)
    [request] = pending_callbacks(store)
    assert (request.attempts, request.last_result) == (2, "NO_ANSWER")  # 1 + 1 retry
    assert events(rig, asker).count("callback_failed") == 2
    assert rig.daemon.queue.feed.last.callbacks == 0
    assert not rig.daemon.queue.waiting

    assert mark_done(store, str(request.id), by="1001")
    assert pending_callbacks(store) == []
    assert not mark_done(store, str(request.id), by="1001")


def test_no_callback_is_placed_outside_opening_hours(rig: Rig) -> None:
    rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=5.0)
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))
    store = rig.daemon.store
    store.set_override("lunch", until=None, set_by="test", now=TUESDAY_MORNING)
    hang_up(rig, busy)

    board = rig.daemon.queue.board
    assert rig.wait_for(lambda: board.phones["1001"].state == "idle")
    # a free phone, a pending callback: two announcement periods go by, no call is placed
    assert not rig.wait_for(lambda: "offered" in events(rig, asker), timeout=100)
    assert rig.daemon.queue.feed.last.callbacks == 1

    store.set_override(None, until=None, set_by="test", now=TUESDAY_MORNING)
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)


def test_pending_callbacks_survive_a_daemon_restart(rig: Rig) -> None:
    rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=5.0)
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(requested(rig, asker))
    rig.daemon.store.set_override("closed", until=None, set_by="test", now=TUESDAY_MORNING)
    hang_up(rig, busy)

    daemon = rig.restart_daemon()

    assert daemon.control.wait_connected(5)
    assert rig.wait_for(lambda: daemon.queue.feed.last is not None
                    and daemon.queue.feed.last.callbacks == 1)
    [entry] = daemon.queue.waiting.values()
    assert (entry.uuid, entry.callback.number) == (asker.uuid, PATIENT)
    daemon.store.set_override(None, until=None, set_by="test", now=TUESDAY_MORNING)
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)
    assert pending_callbacks(daemon.store) == []


def test_a_missed_patient_is_listed_until_they_call_again_and_are_served(rig: Rig) -> None:
    busy = busy_desk(rig)
    store = rig.daemon.store
    short = rig.place(CallerScript(keys=("0",), patience=20), at=TUESDAY_MORNING,
                      caller_number="0639986666")
    missed = rig.place(CallerScript(keys=("0",), patience=70), at=TUESDAY_MORNING,
                       caller_number=PATIENT)
    assert missed.wait_done(10) and short.wait_done(10)
    assert rig.wait_for(lambda: "abandoned" in events(rig, missed))

    [listed] = missed_patients(store, TUESDAY_MORNING, missed_after=30)
    assert (listed.caller_number, listed.call_uuid, listed.calls) == (PATIENT, missed.uuid, 1)
    assert listed.waited > 30

    hang_up(rig, busy)
    later = TUESDAY_MORNING + timedelta(minutes=10)
    again, result = rig.call(CallerScript(keys=("0",), talk_seconds=5), at=later,
                             caller_number=PATIENT)
    assert result.outcome == "answered"
    assert missed_patients(store, later, missed_after=30) == []


def test_staff_mark_a_missed_patient_done_by_the_start_of_the_call_id(rig: Rig) -> None:
    busy, missed, _ = missed_while_busy(rig)
    store = rig.daemon.store

    assert not mark_done(store, "zz", by="1001")  # too short to be sure of the call
    assert mark_done(store, missed.uuid[:8], by="1001")
    assert missed_patients(store, TUESDAY_MORNING, missed_after=30) == []
    hang_up(rig, busy)


# -- missed patients called back ----------------------------------------------------------


def gave_up_while_the_desk_was_busy(rig: Rig) -> tuple[Outside, SimCall, SimCall]:
    """The patient's phone (answers a callback), the busy desk's caller, and the patient's
    call: they gave up waiting; their missed call is to be called back."""
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=5.0)
    busy = busy_desk(rig)
    missed = rig.place(CallerScript(keys=("0",), patience=70), at=TUESDAY_MORNING,
                       caller_number=PATIENT)
    assert rig.wait_for(
        lambda: "callback_requested" in events(rig, missed) and missed.done.is_set()
    )
    return patient, busy, missed


def test_a_missed_patient_is_called_back_once_the_callers_on_the_line_are_served(
    calling_back: Rig,
) -> None:
    rig = calling_back
    patient, busy, missed = gave_up_while_the_desk_was_busy(rig)
    behind = rig.place(CallerScript(keys=("0",), talk_seconds=600), at=TUESDAY_MORNING,
                       caller_number=BEHIND)
    assert rig.wait_for(lambda: BEHIND in callers_waiting(rig))
    [request] = pending_callbacks(rig.daemon.store)
    assert (request.reason, request.number, request.call_uuid) == ("missed", PATIENT, missed.uuid)
    assert missed_patients(rig.daemon.store, TUESDAY_MORNING, missed_after=30) == []

    hang_up(rig, busy)

    # the caller on the line goes first, although the missed patient called earlier
    assert rig.wait_for(lambda: behind.bridged_to is not None, timeout=1000)
    assert patient.calls_answered == 0
    hang_up(rig, behind)
    assert rig.wait_for(lambda: "callback_completed" in events(rig, missed), timeout=1000)
    assert patient.calls_answered == 1
    assert events(rig, missed) == [
        "entered", "abandoned", "callback_requested", "offered", "callback_placed",
        "callback_completed",
    ]
    assert pending_callbacks(rig.daemon.store) == []


def test_a_missed_patient_who_called_again_and_was_served_is_not_called_back(
    calling_back: Rig,
) -> None:
    rig = calling_back
    patient, busy, missed = gave_up_while_the_desk_was_busy(rig)
    again = rig.place(CallerScript(keys=("0",), talk_seconds=5), at=TUESDAY_MORNING,
                      caller_number=PATIENT)
    assert rig.wait_for(lambda: len(rig.daemon.queue.waiting) == 2)

    hang_up(rig, busy)

    assert rig.wait_for(lambda: again.bridged_to is not None, timeout=1000)
    store = rig.daemon.store
    assert rig.wait_for(lambda: pending_callbacks(store) == [], timeout=1000)
    [request] = store.callbacks(("done",))
    assert (request.call_uuid, request.done_by) == (missed.uuid, "served again")
    assert patient.calls_answered == 0
    assert not rig.daemon.queue.waiting


def test_a_caller_sent_to_voicemail_who_leaves_no_message_is_called_back(
    practice_dir: Path, tmp_path: Path
) -> None:
    queue = QUEUE | {"call_back_missed": True, "max_wait": 30, "on_max_wait": "voicemail"}
    with desk_phones(practice_dir, tmp_path, queue) as rig:
        busy = busy_desk(rig)
        silent = rig.place(CallerScript(keys=("0",), message_seconds=0.5), at=TUESDAY_MORNING,
                           caller_number=PATIENT)
        talker = rig.place(CallerScript(keys=("0",), message_seconds=5), at=TUESDAY_MORNING,
                           caller_number=BEHIND)
        assert silent.wait_done(10) and talker.wait_done(10)

        assert rig.result(talker).outcome == "voicemail"
        assert rig.result(silent).outcome == "abandoned"
        store = rig.daemon.store
        assert rig.wait_for(
            lambda: [r.call_uuid for r in pending_callbacks(store)] == [silent.uuid]
        )
        hang_up(rig, busy)


def test_a_caller_who_declined_a_callback_is_not_called_back_as_missed(
    practice_dir: Path, tmp_path: Path
) -> None:
    queue = QUEUE | {"call_back_missed": True, "on_nobody": "callback"}
    with desk_phones(practice_dir, tmp_path, queue) as rig:
        rig.daemon.set_staff_login("1001", False, by="test")
        call, result = rig.call(CallerScript(keys=("0", ""), message_seconds=0.5),
                                at=TUESDAY_MORNING, caller_number=PATIENT)  # no message

        assert result.outcome == "abandoned"
        assert "callback_requested" not in events(rig, call)
        assert pending_callbacks(rig.daemon.store) == []


def test_a_hidden_number_is_listed_as_missed_not_called_back(calling_back: Rig) -> None:
    rig = calling_back
    busy = busy_desk(rig)
    missed = rig.place(CallerScript(keys=("0",), patience=70), at=TUESDAY_MORNING,
                       caller_number="anonymous")
    assert missed.wait_done(10)
    store = rig.daemon.store
    assert rig.wait_for(lambda: len(missed_patients(store, TUESDAY_MORNING, missed_after=30)) == 1)
    assert pending_callbacks(store) == []
    hang_up(rig, busy)


# -- a callback offered instead of the queue ----------------------------------------------


@pytest.mark.parametrize("rule", ["on_nobody", "on_max_length"])
def test_a_caller_who_cannot_wait_is_offered_a_callback_that_keeps_their_place(
    practice_dir: Path, tmp_path: Path, rule: str
) -> None:
    queue = QUEUE | {rule: "callback", "max_length": 1}
    with desk_phones(practice_dir, tmp_path, queue) as rig:
        rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=5.0)
        if rule == "on_nobody":
            rig.daemon.set_staff_login("1001", False, by="test")
        else:
            busy = busy_desk(rig)
            first = rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING,
                              caller_number=BEHIND)
            assert rig.wait_for(lambda: rig.daemon.queue.on_hold() == 1)
        asker = rig.place(CallerScript(keys=("0", "1")), at=TUESDAY_MORNING,
                          caller_number=PATIENT)
        assert rig.wait_for(requested(rig, asker))
        assert rig.result(asker).outcome == "callback"
        assert events(rig, asker)[:3] == ["overflowed", "entered", "callback_requested"]

        if rule == "on_nobody":
            rig.daemon.set_staff_login("1001", True, by="test")
        else:
            hang_up(rig, busy)
            assert rig.wait_for(lambda: first.bridged_to is not None, timeout=1000)
            hang_up(rig, first)
        assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)


def test_a_caller_who_declines_the_callback_offered_instead_of_the_queue_can_leave_a_message(
    practice_dir: Path, tmp_path: Path
) -> None:
    with desk_phones(practice_dir, tmp_path, QUEUE | {"on_nobody": "callback"}) as rig:
        rig.daemon.set_staff_login("1001", False, by="test")
        call, result = rig.call(CallerScript(keys=("0", ""), message_seconds=5),
                                at=TUESDAY_MORNING, caller_number=PATIENT)
        assert result.outcome == "voicemail"
        assert not rig.daemon.queue.waiting
        assert pending_callbacks(rig.daemon.store) == []
