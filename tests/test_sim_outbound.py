"""The simulator's outbound-socket sessions, driven by a raw ESL listener playing the daemon."""

from __future__ import annotations

import re
import time
import wave
from pathlib import Path
from xml.etree import ElementTree

import pytest

from _sim_raw import SCALE, FakeDaemon, Frame
from frontdesk.esl.commands import AFTER_SOCKET
from frontdesk.messages import read_wav_info
from frontdesk.sim import CallerScript, Simulator
from frontdesk.sim.session import FALLBACK_RING_SECONDS


def names(frames: list[Frame]) -> list[str]:
    return [f.name or f.content_type for f in frames]


def wav(path: Path, seconds: float) -> str:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return str(path)


def test_connect_reply_carries_the_channel_data(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript(), caller_number="0611223344", caller_name="Ann Lee")
    esl, data = daemon.accept()
    assert data.content_type == "command/reply"
    assert data.get("Reply-Text") == "%2BOK%0A"
    assert [n for n, _ in data.headers[-4:]] == [
        "Content-Type",
        "Reply-Text",
        "Socket-Mode",
        "Control",
    ]
    assert data.get("Unique-ID") == call.uuid
    assert data.get("Caller-Caller-ID-Name") == "Ann%20Lee"
    assert data.get("Caller-Caller-ID-Number") == "0611223344"
    assert data.get("Caller-Destination-Number") == "5000"
    assert b"Content-Length" not in data.raw


def test_answer_and_playback(sim: Simulator, daemon: FakeDaemon, tmp_path: Path) -> None:
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    frames = esl.execute("answer")
    assert names(frames) == [
        "command/reply",
        "CHANNEL_PARK",
        "CHANNEL_EXECUTE",
        "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE_COMPLETE",
    ]
    assert frames[-1].ev("Application-Response") == "_none_"
    assert frames[-1].ev("Answer-State") == "answered"
    prompt = wav(tmp_path / "welcome.wav", 2.0)
    frames = esl.execute("playback", prompt)
    done = frames[-1]
    assert done.ev("Application-Response") == "FILE PLAYED"
    assert done.ev("Application-Data") == prompt
    assert done.ev("variable_playback_ms") == "2000"
    assert call.prompts_heard == [prompt]
    assert call.apps == [("answer", ""), ("playback", prompt)]


def test_set_variable_shows_in_later_events(sim: Simulator, daemon: FakeDaemon) -> None:
    sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("set", "frontdesk_node=menu")
    frames = esl.execute("playback", "silence_stream://500")
    assert frames[-1].ev("variable_frontdesk_node") == "menu"


PAGD = "1 1 {tries} 3000 # /p/menu.wav /p/invalid.wav choice [1-4] 2000"


def test_play_and_get_digits_with_a_valid_key(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript(keys=("2",)))
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("play_and_get_digits", PAGD.format(tries=1))
    dtmf = [f for f in frames if f.name == "DTMF"]
    assert [f.ev("DTMF-Digit") for f in dtmf] == ["2"]
    done = frames[-1]
    assert done.ev("variable_choice") == "2"
    assert done.ev("variable_read_result") == "success"
    assert done.ev("Application-Response") == "_none_"
    assert call.prompts_heard == ["/p/menu.wav"]
    assert call.dtmf_sent == ["2"]


def test_play_and_get_digits_without_key_fails_and_plays_invalid(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    call = sim.place_call(CallerScript(keys=("",)))
    esl, _ = daemon.accept()
    esl.execute("answer")
    done = esl.execute("play_and_get_digits", PAGD.format(tries=1))[-1]
    assert done.ev("variable_read_result") == "failure"
    assert done.ev("variable_choice") is None
    assert call.prompts_heard == ["/p/menu.wav", "/p/invalid.wav"]


def test_play_and_get_digits_wrong_key_is_success_without_the_variable(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    call = sim.place_call(CallerScript(keys=("9", "3")))
    esl, _ = daemon.accept()
    esl.execute("answer")
    done = esl.execute("play_and_get_digits", PAGD.format(tries=1))[-1]
    assert done.ev("variable_read_result") == "success"
    assert done.ev("variable_choice") is None
    assert done.ev("variable_choice_invalid") == "9"
    # with two tries the next key is used for the second try; choice_invalid stays set
    done = esl.execute("play_and_get_digits", PAGD.format(tries=2))[-1]
    assert done.ev("variable_choice") == "3"
    assert done.ev("variable_choice_invalid") == "9"
    assert call.prompts_heard == ["/p/menu.wav", "/p/invalid.wav", "/p/menu.wav"]


def test_accepted_keys_are_timestamped_as_the_daemon_is_told_them(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    call = sim.place_call(CallerScript(keys=("9", "3", "")))
    esl, _ = daemon.accept()
    esl.execute("answer")
    before = time.perf_counter()
    esl.execute("play_and_get_digits", PAGD.format(tries=2))  # 9 is refused, 3 accepted
    told = time.perf_counter()
    esl.execute("play_and_get_digits", PAGD.format(tries=1))  # nothing pressed

    [(digits, delivered)] = call.keys_delivered
    assert digits == "3"
    assert before <= delivered <= told
    assert call.dtmf_sent == ["9", "3"]


def test_barge_interrupts_a_playback_with_terminators(sim: Simulator, daemon: FakeDaemon) -> None:
    sim.place_call(CallerScript(barge="#"))
    esl, _ = daemon.accept()
    esl.execute("answer")
    done = esl.execute("playback", "/p/a.wav")[-1]  # '#' is not the default terminator '*'
    assert done.ev("variable_playback_terminator_used") is None
    esl.execute("set", "playback_terminators=#")
    frames = esl.execute("playback", "/p/b.wav")
    assert [f.ev("DTMF-Digit") for f in frames if f.name == "DTMF"] == ["#"]
    assert frames[-1].ev("Application-Response") == "FILE PLAYED"
    assert frames[-1].ev("variable_playback_terminator_used") == "#"


def test_record_then_caller_hangs_up(sim: Simulator, daemon: FakeDaemon, tmp_path: Path) -> None:
    call = sim.place_call(CallerScript(message_seconds=4.0))
    esl, _ = daemon.accept()
    esl.execute("answer")
    target = str(tmp_path / "msg-1.wav")
    frames = esl.execute("record", f"{target} 60 200 3")
    assert names(frames)[-2:] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
    done = frames[-1]
    assert done.ev("variable_record_ms") == "4000"
    assert done.ev("variable_record_seconds") == "4"
    assert done.ev("Hangup-Cause") == "NORMAL_CLEARING"
    rest = esl.rest()
    assert names(rest) == [
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
        "text/disconnect-notice",
        "text/disconnect-notice",
    ]
    assert rest[1].ev("Application") == "socket"
    assert rest[-2].get("Content-Disposition") == "linger"
    assert rest[-1].get("Content-Disposition") == "disconnect"
    assert rest[-1].body.startswith("Disconnected, goodbye.")
    assert call.wait_done(2)
    assert call.recorded == [target]
    assert call.hangup_cause == "NORMAL_CLEARING"
    with wave.open(target) as recorded:
        assert recorded.getnframes() == 4 * 8000


def test_bridge_to_a_phone_that_answers(sim: Simulator, daemon: FakeDaemon) -> None:
    phone = sim.add_phone("1001", answer_after=1.0, talk_seconds=3.0)
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("answer")
    esl.execute("set", "hangup_after_bridge=true")
    frames = esl.execute("bridge", "{originate_timeout=20}user/1001@127.0.0.1")
    assert names(frames) == [
        "command/reply",
        "CHANNEL_EXECUTE",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_HANGUP",
        "CHANNEL_EXECUTE_COMPLETE",
    ]
    bridge = frames[2]
    assert bridge.ev("Other-Leg-Unique-ID") == bridge.ev("Bridge-B-Unique-ID")
    assert bridge.ev("Other-Leg-Destination-Number") == "1001"
    assert bridge.ev("variable_originate_disposition") == "SUCCESS"
    assert frames[3].ev("variable_bridge_hangup_cause") == "NORMAL_CLEARING"
    assert call.wait_done(2)
    assert call.bridged_to == "user/1001@127.0.0.1"
    assert phone.state == "idle"
    assert phone.calls_answered == 1


def test_bridge_nobody_answers_and_the_call_goes_on(sim: Simulator, daemon: FakeDaemon) -> None:
    sim.add_phone("1001", answer_after=None)
    sim.add_phone("1002", answer_after=50.0)
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("answer")
    esl.execute("set", "call_timeout=10")
    done = esl.execute("bridge", "user/1001@127.0.0.1,user/1002@127.0.0.1")[-1]
    assert done.ev("variable_originate_disposition") == "NO_ANSWER"
    assert done.ev("variable_DIALSTATUS") == "NOANSWER"
    done = esl.execute("bridge", "user/1003@127.0.0.1")[-1]
    assert done.ev("variable_originate_disposition") == "USER_NOT_REGISTERED"
    assert esl.execute("playback", "/p/sorry.wav")[-1].ev("Application-Response") == "FILE PLAYED"
    assert call.bridged_to is None
    assert all(p.state == "idle" for p in sim.phones.values())


def test_bridge_to_an_outside_number(sim: Simulator, daemon: FakeDaemon) -> None:
    sim.add_outside("0140000000", answer_after=1.0, talk_seconds=2.0)
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("bridge", "sofia/gateway/trunk/0140000000")
    assert "CHANNEL_BRIDGE" in names(frames)
    assert call.bridged_to == "sofia/gateway/trunk/0140000000"
    done = esl.execute("bridge", "sofia/gateway/trunk/0999999999")[-1]
    assert done.ev("variable_originate_disposition") == "UNALLOCATED_NUMBER"


def test_caller_hangs_up_during_playback(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript(hangup_after=50.0))
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("playback", "silence_stream://1000000")
    assert names(frames)[-2:] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
    assert frames[-2].ev("variable_sip_hangup_disposition") == "recv_bye"
    assert "CHANNEL_HANGUP_COMPLETE" in names(esl.rest())
    assert call.wait_done(2)
    assert call.hangup_cause == "NORMAL_CLEARING"


def test_an_impatient_caller_hangs_up_while_waiting(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript(patience=200.0))
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("playback", "local_stream://moh")
    assert names(frames)[-2:] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
    assert frames[-2].ev("variable_sip_hangup_disposition") == "recv_bye"
    assert call.wait_done(2)


def test_patience_stops_once_bridged_and_the_caller_ends_the_talk(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    phone = sim.add_phone("1001", answer_after=1.0, talk_seconds=10_000.0)
    call = sim.place_call(CallerScript(patience=100.0, talk_seconds=300.0))
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("bridge", "user/1001@127.0.0.1")
    assert names(frames)[-4:] == [
        "CHANNEL_BRIDGE",
        "CHANNEL_HANGUP",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_EXECUTE_COMPLETE",
    ]
    bridge, hangup = frames[-4], frames[-3]
    talked = int(hangup.ev("Caller-Channel-Hangup-Time")) - int(
        bridge.ev("Caller-Channel-Bridged-Time")
    )
    assert talked >= 300.0 * SCALE * 1_000_000
    assert hangup.ev("variable_sip_hangup_disposition") == "recv_bye"
    assert call.wait_done(2)
    assert phone.state == "idle"


def test_without_linger_only_the_disconnect_notice(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript(hangup_after=0.5))
    esl, _ = daemon.accept(linger=None)
    esl.execute("answer")
    frames = esl.rest()
    assert names(frames) == ["CHANNEL_HANGUP", "text/disconnect-notice"]
    assert frames[-1].get("Content-Disposition") == "disconnect"
    assert call.wait_done(2)


def test_daemon_hangs_up_with_the_hangup_app(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("hangup", "USER_BUSY")
    assert names(frames)[-3:] == ["CHANNEL_EXECUTE", "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
    complete = [f for f in esl.rest() if f.name == "CHANNEL_HANGUP_COMPLETE"][0]
    assert complete.ev("Hangup-Cause") == "USER_BUSY"
    assert complete.ev("variable_hangup_cause_q850") == "17"
    assert call.wait_done(2)
    assert call.hangup_cause == "USER_BUSY"


def test_daemon_closing_the_socket_ends_the_call_in_the_fallback(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("answer")
    esl.close()
    assert call.wait_done(2)
    assert call.daemon_closed_midcall
    assert call.fallback_ran
    assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"


def test_unknown_application_hangs_the_channel_up(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.send("sendmsg\ncall-command: execute\nexecute-app-name: nosuchapp\n\n")
    frames = esl.rest()
    assert "CHANNEL_EXECUTE" not in names(frames)
    assert call.wait_done(2)
    assert call.hangup_cause == "DESTINATION_OUT_OF_ORDER"


def test_myevents_json(sim: Simulator, daemon: FakeDaemon) -> None:
    call = sim.place_call(CallerScript())
    esl, data = daemon.accept(events="json")
    assert data.content_type == "command/reply"
    frames = esl.execute("answer")
    assert {f.content_type for f in frames[1:]} == {"text/event-json"}
    assert frames[-1].ev("Unique-ID") == call.uuid


def test_daemon_down_runs_the_dialplan_fallback() -> None:
    closed = FakeDaemon()
    address = closed.address
    closed.stop()
    sim = Simulator(password="pw", daemon_address=address, time_scale=SCALE, heartbeat_interval=0)
    sim.start()
    try:
        call = sim.place_call(CallerScript())
        assert call.wait_done(2)
        assert call.daemon_unreachable
        assert call.fallback_ran
        assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    finally:
        sim.stop()


DIALPLAN = Path(__file__).resolve().parent.parent / "freeswitch-conf/dialplan/default.xml"


def shipped_fallback() -> list[tuple[str, str]]:
    """The actions of the shipped dialplan's static fallback (after the socket application,
    the practice line transfers there)."""
    root = ElementTree.parse(DIALPLAN).getroot()
    fallback = root.find(f".//extension[@name='{AFTER_SOCKET}']/condition")
    assert fallback is not None
    return [(a.get("application", ""), a.get("data", "")) for a in fallback]


@pytest.fixture
def no_daemon() -> tuple[str, int]:
    closed = FakeDaemon()
    closed.stop()
    return closed.address


def fallback_sim(address: tuple[str, int], messages: Path) -> Simulator:
    sim = Simulator(
        password="pw",
        daemon_address=address,
        time_scale=SCALE,
        heartbeat_interval=0,
        fallback_extensions=["1001", "1002"],
        fallback_messages=str(messages),
    )
    sim.start()
    return sim


def test_the_fallback_rings_the_desk_phones_then_records_like_the_shipped_dialplan(
    no_daemon: tuple[str, int], tmp_path: Path
) -> None:
    sim = fallback_sim(no_daemon, tmp_path)
    for ext in ("1001", "1002"):
        sim.add_phone(ext, answer_after=None)
    try:
        call = sim.place_call(CallerScript(message_seconds=4.0))
        assert call.wait_done(2)
    finally:
        sim.stop()
    shipped = shipped_fallback()
    steps = ("answer", "bridge", "playback", "record", "hangup")
    # the caller hangs up after their message, before the dialplan's own hangup
    assert [app for app, _ in call.apps if app in steps] + ["hangup"] == [
        app for app, _ in shipped if app in steps
    ]
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert ("set", f"call_timeout={FALLBACK_RING_SECONDS:g}") in shipped
    assert dict(call.apps)["bridge"] == "user/1001,user/1002"
    assert dict(call.apps)["record"].split()[1:] == dict(shipped)["record"].split()[1:]
    assert call.daemon_unreachable and call.bridged_to is None
    (message,) = tmp_path.iterdir()
    assert call.recorded == [str(message)]
    assert re.fullmatch(rf"fallback-\d{{8}}-\d{{6}}-{call.uuid}\.wav", message.name)
    with wave.open(str(message)) as recorded:
        assert recorded.getnframes() == 4 * 8000


def test_the_fallback_message_carries_the_callers_number_as_mod_sndfile_writes_it(
    no_daemon: tuple[str, int], tmp_path: Path
) -> None:
    """RECORD_ARTIST / RECORD_COMMENT set before `record` become the WAV's INFO tags."""
    sim = fallback_sim(no_daemon, tmp_path)
    sim.add_phone("1001", answer_after=None)
    try:
        call = sim.place_call(CallerScript(message_seconds=4.0), caller_number="0639981234")
        assert call.wait_done(2)
    finally:
        sim.stop()
    (message,) = tmp_path.iterdir()
    info = read_wav_info(message)
    assert info.artist == "0639981234"
    assert info.comment == "frontdesk static fallback message"
    assert info.seconds == 4.0


def test_a_desk_phone_answering_the_fallback_talks_with_the_caller(
    no_daemon: tuple[str, int], tmp_path: Path
) -> None:
    sim = fallback_sim(no_daemon, tmp_path)
    sim.add_phone("1001", answer_after=None)
    sim.add_phone("1002", answer_after=3.0, talk_seconds=1e6)
    try:
        call = sim.place_call(CallerScript(patience=20.0, talk_seconds=60.0))
        assert call.wait_done(2)
    finally:
        sim.stop()
    assert call.bridged_to == "user/1002"
    assert call.recorded == [] and not list(tmp_path.iterdir())
    assert call.hangup_cause == "NORMAL_CLEARING"


def test_a_caller_out_of_patience_hangs_up_while_the_desk_phones_ring(
    no_daemon: tuple[str, int], tmp_path: Path
) -> None:
    sim = fallback_sim(no_daemon, tmp_path)
    sim.add_phone("1001", answer_after=None)
    try:
        call = sim.place_call(CallerScript(patience=10.0))
        assert call.wait_done(2)
    finally:
        sim.stop()
    assert [app for app, _ in call.apps][-1] == "bridge"
    assert call.bridged_to is None and call.recorded == []


def test_hold_music_without_files_ends_at_once_as_in_mod_local_stream(
    sim: Simulator, daemon: FakeDaemon, tmp_path: Path
) -> None:
    sim.local_streams = {"moh": tmp_path / "moh"}  # declared, directory never created
    call = sim.place_call(CallerScript(patience=200.0))
    esl, _ = daemon.accept()
    esl.execute("answer")
    frames = esl.execute("playback", "local_stream://moh")
    assert names(frames)[-2:] == ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]
    assert frames[-1].ev("Application-Response") == "FILE NOT FOUND"
    (tmp_path / "moh").mkdir()
    assert names(esl.execute("playback", "local_stream://moh"))[-1] == "CHANNEL_EXECUTE_COMPLETE"
    wav(tmp_path / "moh" / "tune.wav", 1.0)  # a file: it plays until the caller hangs up
    frames = esl.execute("playback", "local_stream://moh")
    assert names(frames)[-2:] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"]
    assert call.wait_done(2)
