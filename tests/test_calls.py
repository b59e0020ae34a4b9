"""What callers notice, end to end: the real daemon (its real servers on real sockets) against
the simulator, with the example practice's config."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import structlog

from frontdesk.config import load_config
from frontdesk.esl import FrameReader
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript
from frontdesk.store import Store

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
TUESDAY_LUNCH = datetime(2026, 12, 1, 13, 0, tzinfo=PARIS)
TUESDAY_EVENING = datetime(2026, 12, 1, 20, 15, tzinfo=PARIS)
SUNDAY = datetime(2026, 11, 29, 11, 0, tzinfo=PARIS)
CHRISTMAS = datetime(2026, 12, 25, 10, 30, tzinfo=PARIS)
AUGUST_CLOSURE = datetime(2026, 8, 12, 10, 0, tzinfo=PARIS)


def prompt_names(rig: Rig, heard: list[str]) -> list[str]:
    by_uri = {prompt.uri: name for name, prompt in rig.config.prompts.items()}
    return [by_uri.get(uri, uri) for uri in heard]


def spoken(rig: Rig, heard: list[str]) -> list[str]:
    """The prompts heard, without the silences."""
    return [name for name in prompt_names(rig, heard) if not name.startswith("silence_stream:")]


@pytest.mark.parametrize(
    ("keys", "end_node", "outcome", "reason"),
    [
        # booking by phone, then nothing pressed: the desk, for the same reason
        (("2", "1"), "desk", "answered", "appointment_new"),
        (("2", "2"), "desk", "answered", "appointment_change"),
        (("3", "1"), "prescription_message", "message", "prescription"),
        (("3", "2"), "results", "answered", "results"),
        (("4",), "practical_info", "information", "information"),
        (("0",), "desk", "answered", "speak_to_someone"),
    ],
)
def test_each_request_type_ends_where_the_config_says(rig, keys, end_node, outcome, reason):
    call, result = rig.call(CallerScript(keys=keys), at=TUESDAY_MORNING)

    assert (result.end_node, result.outcome, result.reason) == (end_node, outcome, reason)
    row = rig.daemon.store.get_call(call.uuid)
    assert row["outcome"] == outcome
    assert row["reason"] == reason
    assert [step["key"] for step in row["path"] if step["event"] == "key"] == list(keys)


def test_a_message_is_recorded_with_the_callers_number(rig):
    call, result = rig.call(CallerScript(keys=("3", "1")), at=TUESDAY_MORNING,
                            caller_number="0639981234")

    assert call.recorded, "FreeSWITCH was never asked to record"
    row = rig.daemon.store.get_call(call.uuid)
    assert row["caller_number"] == "0639981234"
    assert row["message_file"] == call.recorded[0]
    assert row["outcome"] == "message"


def test_an_emergency_during_the_greeting_rings_the_staff_before_any_menu(rig):
    call, result = rig.call(CallerScript(barge="1"), at=TUESDAY_MORNING)

    heard = prompt_names(rig, call.prompts_heard)
    assert [name for name in heard if name != rig.config.queue.moh] == ["greeting"]  # music
    assert result.outcome == "emergency_answered"  # while the phones ring, no menu
    assert call.bridged_to.startswith("sofia/")  # a staff phone, bridged by the queue
    assert result.answered_by in rig.config.emergency.extensions
    assert rig.daemon.store.get_call(call.uuid)["reason"] == "emergency"


def test_an_emergency_while_closed_gives_the_numbers_then_reaches_the_on_call_doctor(rig):
    call, result = rig.call(CallerScript(barge="1"), at=TUESDAY_EVENING)

    assert "emergency" in prompt_names(rig, call.prompts_heard)
    assert result.outcome == "emergency_transferred"
    assert call.bridged_to.endswith("/0639980001")


def test_a_transfer_outside_shows_the_practices_number_not_the_patients(rig):
    doctor = rig.sim.outside[rig.config.numbers[rig.config.emergency.on_call]]

    _, result = rig.call(CallerScript(barge="1"), at=TUESDAY_EVENING, caller_number="0639981234")

    assert result.outcome == "emergency_transferred"
    assert doctor.shown == [("0199000001", "Cabinet médical des Tilleuls")]


def test_a_caller_who_presses_nothing_reaches_a_human(rig):
    call, result = rig.call(CallerScript(keys=("",) * 10), at=TUESDAY_MORNING)

    assert result.outcome == "answered"
    assert result.answered_by in rig.config.frontdesk.extensions
    assert [s["event"] for s in rig.daemon.store.get_call(call.uuid)["path"]].count(
        "timeout"
    ) == 3


def test_a_menu_timeout_says_no_choice_was_received_never_invalid_choice(rig):
    call, result = rig.call(CallerScript(keys=("", "4")), at=TUESDAY_MORNING)

    heard = spoken(rig, call.prompts_heard)
    assert heard[heard.index("main_menu"):heard.index("practical_info")] == [
        "main_menu", "no_choice", "main_menu"
    ]
    assert "invalid" not in heard
    assert result.end_node == "practical_info"


def test_without_a_no_choice_prompt_a_menu_timeout_repeats_the_menu_in_silence(
    practice_dir, tmp_path
):
    path = practice_dir / "frontdesk.toml"
    path.write_text(path.read_text().replace('no_choice = "no_choice"\n', "", 1))
    with Rig(load_config(path), tmp_path) as rig:
        call, result = rig.call(CallerScript(keys=("", "4")), at=TUESDAY_MORNING)

    heard = spoken(rig, call.prompts_heard)
    assert heard[heard.index("main_menu"):heard.index("practical_info")] == [
        "main_menu", "main_menu"
    ]


def test_a_caller_who_keeps_pressing_wrong_keys_reaches_a_human(rig):
    call, result = rig.call(CallerScript(keys=("9", "9", "9")), at=TUESDAY_MORNING)

    assert result.outcome == "answered"
    assert "invalid" in prompt_names(rig, call.prompts_heard)


def test_the_repeat_key_replays_the_menu_without_counting_as_a_failure(rig):
    call, result = rig.call(CallerScript(keys=("*", "*", "*", "4")), at=TUESDAY_MORNING)

    assert prompt_names(rig, call.prompts_heard).count("main_menu") == 4
    assert result.end_node == "practical_info"


@pytest.mark.parametrize(
    ("moment", "announcement", "state"),
    [
        (TUESDAY_LUNCH, "lunch", "lunch"),
        (TUESDAY_EVENING, "closed", "closed"),
        (SUNDAY, "closed", "closed"),
        (CHRISTMAS, "holiday", "holiday"),
        (AUGUST_CLOSURE, "closure", "closure"),
    ],
)
def test_callers_out_of_hours_hear_their_branch(rig, moment, announcement, state):
    call, result = rig.call(CallerScript(keys=("2",)), at=moment)

    heard = prompt_names(rig, call.prompts_heard)
    assert heard[:2] == ["greeting", announcement]
    assert rig.daemon.store.get_call(call.uuid)["schedule_state"] == state
    assert result.outcome == "message"


def test_a_manual_override_changes_the_branch_of_the_next_caller(rig):
    rig.daemon.store.set_override("closed", until=None, set_by="test")

    call, _ = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)

    assert prompt_names(rig, call.prompts_heard)[:2] == ["greeting", "closed"]
    rig.daemon.store.set_override(None, until=None, set_by="test")
    call, _ = rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)
    assert prompt_names(rig, call.prompts_heard)[:2] == ["greeting", "main_menu"]


def test_a_caller_who_hangs_up_in_the_menu_is_recorded_as_abandoned(rig):
    call, result = rig.call(CallerScript(keys=("",) * 5, hangup_after=8.0), at=TUESDAY_MORNING)

    row = rig.daemon.store.get_call(call.uuid)
    assert row["outcome"] == "abandoned"
    assert row["ended_at"] is not None
    assert row["hangup_cause"] == "NORMAL_CLEARING"


def test_nobody_at_the_desk_sends_the_caller_to_voicemail(practice, tmp_path):
    with Rig(practice, tmp_path, answer_after=None) as rig:
        call, result = rig.call(CallerScript(keys=("0",)), at=TUESDAY_MORNING)

    assert result.outcome == "voicemail"
    assert result.reason == "speak_to_someone"
    assert call.recorded


@pytest.mark.parametrize(
    ("caller_number", "shown"),
    [("06,user/9999}x", "069999"), ("+33 6 99+99 99", "+336999999")],
)
def test_the_callers_number_reaches_the_dial_string_as_digits_only(rig, caller_number, shown):
    created: list[bytes] = []
    rig.sim.frame_hook = lambda kind, frame: created.append(frame) if (
        kind == "inbound" and b"CHANNEL_CREATE" in frame and b"Call-Direction: outbound" in frame
    ) else None

    _, result = rig.call(CallerScript(keys=("0",)), at=TUESDAY_MORNING,
                         caller_number=caller_number)

    assert result.outcome == "answered"
    assert created, "no staff phone was originated"
    for frame in created:  # the originate's origination_caller_id_number: digits, leading +
        reader = FrameReader()
        reader.feed(frame)
        event = reader.next_event()
        assert event is not None and event.get("Caller-Caller-ID-Number") == shown
        assert b"9999@" not in frame


def test_every_finished_call_has_a_complete_row(rig):
    scripts = [
        CallerScript(keys=("4",)),
        CallerScript(keys=("3", "1")),
        CallerScript(keys=("0",)),
        CallerScript(barge="1"),
        CallerScript(keys=("",) * 5, hangup_after=3.0),
    ]
    calls = [rig.place(script, at=TUESDAY_MORNING) for script in scripts]
    for call in calls:
        assert rig.result(call) is not None

    rows = {row["uuid"]: row for row in rig.daemon.store.calls()}
    for call in calls:
        row = rows[call.uuid]
        for column in ("caller_number", "started_at", "ended_at", "schedule_state",
                       "config_version", "outcome", "hangup_cause"):
            assert row[column] not in (None, ""), (column, row)
        assert row["path"], row


def test_the_control_connection_comes_back_after_freeswitch_restarts_without_cutting_calls(
    practice, tmp_path
):
    with Rig(practice, tmp_path) as rig:
        control = rig.daemon.control
        assert control.wait_connected(5)
        call = rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING)
        assert rig.wait_for(lambda: call.prompts_heard)  # the call is in progress

        rig.sim.restart_esl()

        result = rig.result(call)
        assert control.wait_connected(10)
        assert "is ready" in control.api("status")
    assert result.outcome == "answered"
    assert not call.daemon_closed_midcall


def test_garbage_on_the_call_port_does_not_disturb_other_calls(rig):
    call = rig.place(CallerScript(keys=("4",)), at=TUESDAY_MORNING)
    for garbage in (b"\x00\xff junk\n\n", b"Content-Length: -5\n\n", b"connect\n\n" * 3):
        with socket.create_connection(("127.0.0.1", rig.daemon.port)) as raw:
            raw.sendall(garbage)

    assert rig.result(call).end_node == "practical_info"


def test_a_call_recording_itself_after_the_store_closed_at_shutdown_logs_one_warning(rig):
    rig.daemon.store.close()  # a call cut after the grace period writes its record late

    with structlog.testing.capture_logs() as logs:
        assert rig.daemon.records(Store.get_override, now=TUESDAY_MORNING) is None

    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("store.closed_write_dropped", "warning")
    ]
    assert "exc_info" not in logs[0]  # no traceback in the journal for an orderly stop


def test_a_failing_database_does_not_stop_the_daemon_serving_callers(rig):
    rig.daemon.store.close()  # as good as a full SD card: every write now fails

    call, result = rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)

    assert result.end_node == "practical_info"
    assert prompt_names(rig, call.prompts_heard)[-2:] == ["practical_info", "goodbye"]


@pytest.mark.parametrize("app", ["playback", "play_and_get_digits"])
def test_an_application_that_never_completes_hands_the_caller_to_the_fallback(
    practice, tmp_path, app
):
    """FreeSWITCH stuck in an application must not hold the caller for ever: past
    [freeswitch] application_timeout the call is failed and the dialplan fallback takes it."""
    nodes = dict(practice.flow.nodes)  # the menu waits 1 s for a key: a shorter limit
    nodes["main_menu"] = replace(nodes["main_menu"], timeout=1)
    config = replace(practice, freeswitch=replace(practice.freeswitch, application_timeout=5),
                     flow=replace(practice.flow, nodes=nodes))
    with Rig(config, tmp_path) as rig:
        call, result = rig.call(CallerScript(keys=("4",), stuck_app=app))

    assert result is not None and result.outcome == "failed"
    assert call.fallback_ran
    assert call.hangup_cause is not None
