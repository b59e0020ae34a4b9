"""The satisfaction question after the receptionist hangs up ([feedback]), seen from
FreeSWITCH: the real daemon against the simulator on simulated time. A caller to be asked is
bridged with park_after_bridge=true, so that when the staff's leg hangs up FreeSWITCH parks
them under the daemon's socket (tests/data/esl-captures, outbound-queue-agent-hangs-up-park-
after-bridge) instead of the dialplan hanging them up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config import load_config
from frontdesk.config.model import ReportSettings
from frontdesk.rehearse import Rig
from frontdesk.report.figures import Period, compute
from frontdesk.sim import CallerScript, SimCall
from helpers import set_in_section

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
QUESTION = "silence_stream://4000"
THANKS = "silence_stream://1500"
TO_THE_DESK = "0"
"""The operator key: the caller asks for the desk."""
EMERGENCY = "1"
STAFF_TALKS = 20.0
"""Seconds after which the receptionist hangs up."""
CALLER_STAYS = 6000.0
"""A caller who lets the receptionist end the conversation."""


def make_rig(practice_dir: Path, tmp_path: Path, **feedback: object) -> Rig:
    path = practice_dir / "frontdesk.toml"
    text = path.read_text()
    text = text.replace(
        "\n[flow]\n",
        f'\n[prompts.feedback]\nfile = "{QUESTION}"\n'
        'text = "Êtes-vous satisfait de cet appel ? Tapez de 1 à 5."\n'
        f'\n[prompts.feedback_thanks]\nfile = "{THANKS}"\ntext = "Merci, au revoir."\n'
        "\n[flow]\n",
        1,
    )
    settings = {"enabled": True, "prompt": "feedback", "thanks_prompt": "feedback_thanks"}
    text = set_in_section(text, "feedback", {**settings, **feedback})
    text = set_in_section(text, "queue", {"wrapup_seconds": 0})
    path.write_text(text)
    return Rig(load_config(path), tmp_path)


@pytest.fixture
def rigs(practice_dir: Path, tmp_path: Path) -> Iterator:
    """`rigs(**feedback)` -> a started Rig whose desk phone 1001 alone is registered and
    ends each conversation after STAFF_TALKS seconds."""
    started: list[Rig] = []

    def start(**feedback: object) -> Rig:
        rig = make_rig(practice_dir, tmp_path, **feedback)
        started.append(rig)
        assert rig.daemon.control.wait_connected(5)
        for ext, phone in rig.sim.phones.items():
            phone.talk_seconds = STAFF_TALKS
            if ext != "1001":
                rig.sim.set_registered(ext, False)
        board = rig.daemon.queue.board
        assert rig.wait_for(lambda: board.phones["1001"].registered
                            and not board.phones["1002"].registered)
        return rig

    yield start
    for rig in started:
        rig.close()


def stored(rig: Rig, call: SimCall) -> dict:
    rig.daemon.store.flush(timeout=5)
    row = rig.daemon.store.get_call(call.uuid)
    assert row is not None
    return row


def feedback_steps(row: dict) -> list[tuple[str, str | None]]:
    return [(step["event"], step.get("key")) for step in row["path"] if step["node"] == "feedback"]


def test_a_caller_is_asked_after_the_receptionist_hangs_up_and_their_key_is_stored(rigs):
    rig = rigs()
    call, result = rig.call(CallerScript(keys=(TO_THE_DESK, "4"), talk_seconds=CALLER_STAYS),
                            at=TUESDAY_MORNING)

    assert result is not None and result.outcome == "answered"
    assert result.feedback == 4
    assert call.prompts_heard[-2:] == [QUESTION, THANKS]
    assert call.hangup_cause == "NORMAL_CLEARING"
    row = stored(rig, call)
    assert (row["outcome"], row["answered_by"], row["feedback"]) == ("answered", "1001", 4)
    assert row["ended_at"] is not None and row["interrupted"] is False
    assert feedback_steps(row) == [("enter", None), ("key", "4")]
    answers = rig.daemon.store.feedback_answers(TUESDAY_MORNING, TUESDAY_MORNING
                                                + timedelta(days=1))
    assert [(a.call_uuid, a.answered_by, a.answer) for a in answers] == [(call.uuid, "1001", 4)]
    assert rig.daemon.store.feedback_answers(TUESDAY_MORNING + timedelta(days=1),
                                             TUESDAY_MORNING + timedelta(days=2)) == []
    figures = compute(rig.daemon.store, Period.month(2026, 12, PARIS), ReportSettings(), PARIS,
                      now=TUESDAY_MORNING + timedelta(days=1))
    assert (figures.total.satisfaction_answers, figures.total.satisfaction_average) == (1, 4)


@pytest.mark.parametrize("key", ["", "9"], ids=["no key", "a key out of 1-5"])
def test_no_answer_to_the_question_stores_nothing_and_ends_the_call(rigs, key):
    rig = rigs()
    call, result = rig.call(CallerScript(keys=(TO_THE_DESK, key), talk_seconds=CALLER_STAYS),
                            at=TUESDAY_MORNING)

    assert result is not None and result.outcome == "answered"
    assert QUESTION in call.prompts_heard and THANKS not in call.prompts_heard
    assert call.hangup_cause == "NORMAL_CLEARING"
    row = stored(rig, call)
    assert (row["outcome"], row["answered_by"], row["feedback"]) == ("answered", "1001", None)
    assert feedback_steps(row) == [("enter", None), ("timeout" if not key else "invalid", None)]


def test_a_caller_who_hangs_up_first_is_asked_nothing(rigs):
    rig = rigs()
    call, result = rig.call(CallerScript(keys=(TO_THE_DESK, "5"), talk_seconds=5),
                            at=TUESDAY_MORNING)

    assert result is not None and result.outcome == "answered"
    assert QUESTION not in call.prompts_heard
    row = stored(rig, call)
    assert (row["feedback"], feedback_steps(row)) == (None, [])


def test_no_question_after_an_emergency_call(rigs):
    rig = rigs()
    call, result = rig.call(CallerScript(barge=EMERGENCY, keys=("5",), talk_seconds=CALLER_STAYS),
                            at=TUESDAY_MORNING)

    assert result is not None and result.outcome == "emergency_answered"
    assert QUESTION not in call.prompts_heard
    assert call.done.is_set() and call.hangup_cause == "NORMAL_CLEARING"
    row = stored(rig, call)
    assert (row["feedback"], feedback_steps(row)) == (None, [])


@pytest.mark.parametrize("feedback", [{"enabled": False}, {"share": 0}], ids=["off", "share 0"])
def test_nobody_is_asked_when_the_practice_does_not_ask(rigs, feedback):
    rig = rigs(**feedback)
    call, result = rig.call(CallerScript(keys=(TO_THE_DESK, "5"), talk_seconds=CALLER_STAYS),
                            at=TUESDAY_MORNING)

    assert result is not None and result.outcome == "answered"
    assert QUESTION not in call.prompts_heard
    assert call.hangup_cause == "NORMAL_CLEARING"  # the dialplan ended it with the staff's
    row = stored(rig, call)
    assert (row["feedback"], feedback_steps(row)) == (None, [])


def test_a_conversation_the_stopped_daemon_left_ends_with_the_staff_not_in_silence(rigs):
    rig = rigs()
    call = rig.place(CallerScript(keys=(TO_THE_DESK, "5"), talk_seconds=CALLER_STAYS),
                     at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: call.bridged_to is not None)

    rig.daemon.stop(grace=0.1)  # the conversation goes on without the daemon

    # nobody is there to ask the question: parked, the caller would hear silence until they
    # gave up; the dialplan hangs them up with the staff instead
    assert rig.wait_for(call.done.is_set, timeout=STAFF_TALKS + 10)
    assert QUESTION not in call.prompts_heard
    assert call.hangup_cause == "NORMAL_CLEARING"
    rig.restart_daemon()


def test_a_conversation_adopted_after_a_restart_is_not_asked_and_ends_with_the_staff(rigs):
    rig = rigs()
    call = rig.place(CallerScript(keys=(TO_THE_DESK, "5"), talk_seconds=CALLER_STAYS),
                     at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: call.bridged_to is not None)

    rig.daemon.stop(grace=0.1)
    # as a daemon killed (SIGKILL) leaves it: the caller still to be parked for the question
    reply, _ = rig.sim.api(f"uuid_setvar_multi {call.uuid} park_after_bridge=true")
    assert reply.startswith("+OK")
    daemon = rig.restart_daemon()
    assert daemon.control.wait_connected(5)
    assert rig.wait_for(lambda: call.uuid in daemon._adopted)
    daemon.stop(grace=0.1)  # and this one goes too, before the staff hangs up

    assert rig.wait_for(call.done.is_set, timeout=STAFF_TALKS + 10)
    assert QUESTION not in call.prompts_heard
    assert call.hangup_cause == "NORMAL_CLEARING"
    rig.restart_daemon()


def test_the_question_and_its_answer_are_not_in_the_recorded_conversation(
    practice_dir: Path, tmp_path: Path
) -> None:
    text = (practice_dir / "frontdesk.toml").read_text()
    (practice_dir / "frontdesk.toml").write_text(text.replace(
        "# enabled = false\n# Required when enabled: why calls are recorded",
        'enabled = true\npurpose = "Formation."\nconsent_prompt = "greeting"\n'
        "retention_days = 30\n# Required when enabled: why calls are recorded", 1,
    ).replace('text = "Cabinet médical des Tilleuls, bonjour.',
              'text = "Cet appel peut être enregistré. Cabinet médical des Tilleuls, bonjour.', 1))
    rig = make_rig(practice_dir, tmp_path)
    try:
        rig.config.recording.directory.mkdir(parents=True)
        for phone in rig.sim.phones.values():
            phone.talk_seconds = STAFF_TALKS
        call, result = rig.call(CallerScript(keys=(TO_THE_DESK, "2"), talk_seconds=CALLER_STAYS),
                                at=TUESDAY_MORNING)
    finally:
        rig.close()

    assert result is not None and result.feedback == 2
    apps = [app for app, _ in call.apps]
    question = max(i for i, app in enumerate(apps) if app == "play_and_get_digits")
    assert "stop_record_session" in apps[apps.index("record_session"):question]
    assert call.sessions_recorded == [str(rig.config.recording.directory / f"{call.uuid}.wav")]
