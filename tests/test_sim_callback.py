"""The simulator's parts a callback needs: a key pressed on hold, and uuid_bridge of two legs
originated from the control connection (the staff's phone, then the patient's number)."""

from __future__ import annotations

import gevent
import pytest

from _sim_raw import FakeDaemon, RawESL
from frontdesk.sim import CallerScript, Simulator


def login(sim: Simulator, events: str) -> RawESL:
    esl = RawESL.connect(sim.esl_port)
    esl.read()
    assert esl.command("auth pw").get("Reply-Text") == "+OK accepted"
    assert esl.command(f"event {events}").get("Reply-Text", "").startswith("+OK event listener")
    return esl


def moh(session: RawESL, event_uuid: str) -> None:
    session.send(
        "sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        f"execute-app-arg: local_stream://moh\nEvent-UUID: {event_uuid}\n\n"
    )


def test_a_terminator_key_pressed_on_hold_ends_the_music(sim: Simulator, daemon: FakeDaemon):
    call = sim.place_call(CallerScript(hold_key="5", hold_key_after=2.0))
    session, _ = daemon.accept()
    session.execute("answer")
    session.execute("set", "playback_terminators=5")
    moh(session, "moh-1")
    frames = session.until(lambda f: f.name == "CHANNEL_EXECUTE_COMPLETE")
    assert [f.ev("DTMF-Digit") for f in frames if f.name == "DTMF"] == ["5"]
    done = frames[-1]
    assert done.ev("Application-Response") == "FILE PLAYED"
    assert done.ev("variable_playback_terminator_used") == "5"
    assert call.dtmf_sent == ["5"]


def test_a_key_that_is_no_terminator_only_sends_dtmf(sim: Simulator, daemon: FakeDaemon):
    call = sim.place_call(CallerScript(hold_key="5"))
    session, _ = daemon.accept(events="plain DTMF CHANNEL_EXECUTE_COMPLETE")
    session.execute("answer")
    session.execute("set", "playback_terminators=none")
    moh(session, "moh-1")
    assert session.until(lambda f: f.name == "DTMF")[-1].ev("DTMF-Digit") == "5"
    with pytest.raises(gevent.Timeout):  # the music goes on
        session.until(lambda f: f.name == "CHANNEL_EXECUTE_COMPLETE", timeout=0.3)
    esl = login(sim, "plain BACKGROUND_JOB")
    assert esl.command(f"api uuid_break {call.uuid} all").body == "+OK\n"
    done = session.until(lambda f: f.name == "CHANNEL_EXECUTE_COMPLETE")[-1]
    assert done.ev("variable_playback_terminator_used") is None


def test_uuid_bridge_of_two_originated_legs(sim: Simulator) -> None:
    phone = sim.add_phone("1001", answer_after=1.0, talk_seconds=60.0)
    patient = sim.add_outside("0639981234", answer_after=2.0, talk_seconds=3.0)
    esl = login(
        sim, "plain CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE"
        " BACKGROUND_JOB",
    )
    job = esl.command("bgapi originate {origination_uuid=staff-leg}user/1001 &park()")
    frames = esl.until(lambda f: f.name == "BACKGROUND_JOB")
    assert frames[-1].inner_body == "+OK staff-leg\n"
    job = esl.command(
        "bgapi originate {origination_uuid=patient-leg}sofia/gateway/trunk/0639981234 &park()"
    ).get("Job-UUID")
    frames = esl.until(lambda f: f.name == "BACKGROUND_JOB" and f.ev("Job-UUID") == job)
    assert frames[-1].inner_body == "+OK patient-leg\n"
    assert esl.command("api uuid_bridge patient-leg staff-leg").body == "+OK staff-leg\n"
    bridge = esl.until(lambda f: f.name == "CHANNEL_BRIDGE")[-1]
    assert bridge.ev("Unique-ID") == "patient-leg"
    assert bridge.ev("Other-Leg-Unique-ID") == "staff-leg"
    # the patient hangs up after their talk time: the staff's leg goes too
    frames = esl.until(
        lambda f: f.name == "CHANNEL_HANGUP_COMPLETE" and f.ev("Unique-ID") == "patient-leg"
    )
    ends = [(f.name, f.ev("Unique-ID")) for f in frames]
    assert ends == [
        ("CHANNEL_HANGUP_COMPLETE", "staff-leg"),
        ("CHANNEL_UNBRIDGE", "patient-leg"),
        ("CHANNEL_HANGUP_COMPLETE", "patient-leg"),
    ]
    assert (phone.state, patient.state) == ("idle", "idle")
    assert esl.command("api uuid_bridge patient-leg staff-leg").body == "-ERR Invalid uuid\n"
