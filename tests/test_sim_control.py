"""The simulator's inbound ESL server (control connections), driven by a raw client."""

from __future__ import annotations

from _sim_raw import FakeDaemon, Frame, RawESL
from frontdesk.sim import CallerScript, Simulator
from helpers import wait_for


def login(sim: Simulator, events: str = "") -> RawESL:
    esl = RawESL.connect(sim.esl_port)
    assert esl.read().content_type == "auth/request"
    assert esl.command("auth pw").get("Reply-Text") == "+OK accepted"
    if events:
        assert esl.command(f"event {events}").get("Reply-Text", "").startswith("+OK event listener")
    return esl


def test_auth_ok_and_exit(sim: Simulator) -> None:
    esl = login(sim)
    assert esl.command("exit").get("Reply-Text") == "+OK bye"
    frames = esl.rest()
    assert [f.content_type for f in frames] == ["text/disconnect-notice"]
    assert frames[0].get("Content-Length") == "67"


def test_auth_bad_password_disconnects(sim: Simulator) -> None:
    esl = RawESL.connect(sim.esl_port)
    esl.read()
    assert esl.command("auth nope").get("Reply-Text") == "-ERR invalid"
    assert [f.content_type for f in esl.rest()] == ["text/disconnect-notice"]


def test_api_commands(sim: Simulator) -> None:
    sim.add_phone("1001")
    esl = login(sim)
    status = esl.command("api status")
    assert status.content_type == "api/response"
    assert "is ready" in status.body
    assert esl.command("api show channels count").body == "\n0 total.\n"
    assert esl.command("api show channels as json").body == '{"row_count": 0}\n'
    assert esl.command("api nosuchcommand foo").body == "-ERR nosuchcommand Command not found!\n"
    reg = esl.command("api sofia xmlstatus profile fsref reg").body
    assert "<user>1001@127.0.0.1</user>" in reg
    assert reg.count("<registration>") == 1
    assert esl.command("api sofia xmlstatus profile nosuch reg").body == "Invalid Profile!\n"
    assert esl.command("api sofia_contact */1001@127.0.0.1").body.startswith(
        "sofia/fsref/sip:1001@"
    )
    assert esl.command("api sofia_contact 1003@127.0.0.1").body == "error/user_not_registered"
    assert esl.command("bogus").get("Reply-Text") == "-ERR command not found"


def test_bgapi_job_only_reaches_subscribed_connections(sim: Simulator) -> None:
    quiet = login(sim)
    listening = login(sim, "plain BACKGROUND_JOB")
    reply = quiet.command("bgapi status\nJob-UUID: 11111111-2222-4333-8444-555555555555")
    assert reply.get("Reply-Text") == "+OK Job-UUID: 11111111-2222-4333-8444-555555555555"
    assert reply.get("Job-UUID") == "11111111-2222-4333-8444-555555555555"
    job = listening.read()
    assert job.name == "BACKGROUND_JOB"
    assert job.ev("Job-UUID") == "11111111-2222-4333-8444-555555555555"
    assert "is ready" in job.inner_body
    # the job has run; the next frame on the unsubscribed connection is the api reply
    assert quiet.command("api show channels count").content_type == "api/response"


def test_bgapi_json_job(sim: Simulator) -> None:
    esl = login(sim, "json BACKGROUND_JOB")
    reply = esl.command("bgapi nosuchcommand foo")
    job = esl.read()
    assert job.content_type == "text/event-json"
    assert job.ev("Job-UUID") == reply.get("Job-UUID")
    assert job.inner_body == "-ERR nosuchcommand Command not found!\n"


def originate_events(esl: RawESL, job: str) -> list[Frame]:
    return esl.until(lambda f: f.name == "BACKGROUND_JOB" and f.ev("Job-UUID") == job)


def test_originate_to_a_phone(sim: Simulator) -> None:
    phone = sim.add_phone("1001", answer_after=1.0, talk_seconds=1.0)
    esl = login(
        sim,
        "plain CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE"
        " BACKGROUND_JOB",
    )
    reply = esl.command(
        "bgapi originate {origination_uuid=aaaaaaaa-0000-4000-8000-000000000001}user/1001 &park()"
    )
    frames = originate_events(esl, reply.get("Job-UUID"))
    assert [f.name for f in frames] == [
        "CHANNEL_CREATE",
        "CHANNEL_PROGRESS",
        "CHANNEL_ANSWER",
        "BACKGROUND_JOB",
    ]
    assert frames[0].ev("Unique-ID") == "aaaaaaaa-0000-4000-8000-000000000001"
    assert frames[0].ev("Call-Direction") == "outbound"
    assert frames[-1].inner_body == "+OK aaaaaaaa-0000-4000-8000-000000000001\n"
    assert phone.state == "busy"  # parked until bridged or killed
    assert esl.command("api uuid_kill aaaaaaaa-0000-4000-8000-000000000001").body == "+OK\n"
    hangup = esl.read()
    assert hangup.name == "CHANNEL_HANGUP_COMPLETE"
    assert hangup.ev("Hangup-Cause") == "NORMAL_CLEARING"
    assert phone.state == "idle"


def test_a_desk_phone_is_seen_ringing_then_talking_then_idle(sim: Simulator) -> None:
    sim.add_phone("1001", answer_after=1.0)
    esl = login(sim, "plain CHANNEL_PROGRESS CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
    assert sim.phone_state("1001") == "idle"

    job = esl.command("bgapi originate {origination_uuid=desk-leg}user/1001 &park()")

    esl.until(lambda f: f.name == "CHANNEL_PROGRESS")  # the INVITE is ringing the phone
    assert sim.phone_state("1001") == "ringing"
    esl.until(lambda f: f.name == "BACKGROUND_JOB" and f.ev("Job-UUID") == job.get("Job-UUID"))
    assert sim.phone_state("1001") == "talking"  # picked up, parked
    assert esl.command("api uuid_kill desk-leg").body == "+OK\n"
    esl.until(lambda f: f.name == "CHANNEL_HANGUP_COMPLETE")
    assert sim.phone_state("1001") == "idle"


def test_originate_failures(sim: Simulator) -> None:
    sim.add_phone("1001", answer_after=None)
    sim.add_phone("1002", registered=False)
    esl = login(sim, "plain CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
    job = esl.command("bgapi originate user/1002 &park()").get("Job-UUID")
    assert [f.name for f in originate_events(esl, job)] == ["BACKGROUND_JOB"]
    job = esl.command("bgapi originate {originate_timeout=5}user/1001 &park()").get("Job-UUID")
    frames = originate_events(esl, job)
    assert frames[-1].inner_body == "-ERR NO_ANSWER\n"
    assert esl.read().ev("Hangup-Cause") == "NO_ANSWER"
    assert esl.command("api originate user/1003 &park()").body == "-ERR USER_NOT_REGISTERED\n"


def test_uuid_kill_of_a_ringing_originate(sim: Simulator) -> None:
    sim.add_phone("1001", answer_after=None)
    esl = login(sim, "plain CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
    leg = "bbbbbbbb-0000-4000-8000-000000000002"
    job = esl.command(f"bgapi originate {{origination_uuid={leg}}}user/1001 &park()").get(
        "Job-UUID"
    )
    assert esl.read().name == "CHANNEL_CREATE"
    assert esl.command(f"api uuid_kill {leg}").body == "+OK\n"
    frames = originate_events(esl, job)
    assert [f.name for f in frames] == ["CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"]
    assert frames[-1].inner_body == "-ERR NORMAL_CLEARING\n"


def test_call_events_and_dtmf_on_the_control_connection(sim: Simulator, daemon: FakeDaemon) -> None:
    esl = login(sim, "plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE DTMF")
    call = sim.place_call(CallerScript(keys=("1",)))
    session, _ = daemon.accept()
    session.execute("answer")
    session.execute("play_and_get_digits", "1 1 1 3000 # /p/m.wav /p/i.wav c \\d 2000")
    session.execute("hangup")
    frames = esl.until(lambda f: f.name == "CHANNEL_HANGUP_COMPLETE")
    assert [f.name for f in frames] == [
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        "DTMF",
        "CHANNEL_HANGUP_COMPLETE",
    ]
    assert {f.ev("Unique-ID") for f in frames} == {call.uuid}


def test_queue_hold_break_broadcast_and_uuid_bridge(sim: Simulator, daemon: FakeDaemon) -> None:
    sim.add_phone("1001", answer_after=1.0, talk_seconds=2.0)
    esl = login(sim, "plain CHANNEL_ANSWER BACKGROUND_JOB")
    call = sim.place_call(CallerScript())
    session, _ = daemon.accept()
    session.execute("answer")
    esl.read()  # caller CHANNEL_ANSWER
    session.execute("set", "park_after_bridge=true")
    session.send(
        "sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: local_stream://moh\nEvent-UUID: moh-1\n\n"
    )
    session.until(lambda f: f.name == "CHANNEL_EXECUTE")
    assert esl.command(f"api uuid_break {call.uuid} all").body == "+OK\n"
    assert (
        session.until(lambda f: f.name == "CHANNEL_EXECUTE_COMPLETE")[-1].ev("Application-Response")
        == "FILE PLAYED"
    )
    assert (
        esl.command(f"api uuid_broadcast {call.uuid} /p/pos.wav aleg").body == "+OK Message sent\n"
    )
    done = session.until(lambda f: f.name == "CHANNEL_EXECUTE_COMPLETE")[-1]
    assert done.ev("Application-Data") == "/p/pos.wav"
    session.send(
        "sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: local_stream://moh\nEvent-UUID: moh-2\n\n"
    )
    session.until(lambda f: f.name == "CHANNEL_EXECUTE")
    job = esl.command("bgapi originate user/1001 &park()").get("Job-UUID")
    agent = originate_events(esl, job)[-1].inner_body.split()[1]
    assert esl.command(f"api uuid_bridge {call.uuid} {agent}").body == f"+OK {agent}\n"
    frames = session.until(lambda f: f.name == "CHANNEL_PARK")
    seen = [f.name for f in frames]
    assert seen[:3] == ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE"]
    assert frames[0].ev("Application-Response") == "PLAYBACK ERROR"
    assert "CHANNEL_BRIDGE" in seen and "CHANNEL_UNBRIDGE" in seen
    # parked again after the agent hung up: the session still takes commands
    assert session.execute("hangup")[-1].name == "CHANNEL_EXECUTE_COMPLETE"
    assert call.wait_done(2)


def test_registration_events(sim: Simulator) -> None:
    esl = login(sim, "plain CUSTOM sofia::register sofia::unregister")
    sim.add_phone("1005")
    reg = esl.read()
    assert reg.ev("Event-Subclass") == "sofia::register"
    assert reg.ev("from-user") == "1005"
    sim.set_registered("1005", False)
    assert esl.read().ev("Event-Subclass") == "sofia::unregister"


def test_heartbeats(daemon: FakeDaemon) -> None:
    sim = Simulator(password="pw", daemon_address=daemon.address, heartbeat_interval=0.05)
    sim.start()
    try:
        esl = login(sim, "plain HEARTBEAT")
        beats = [esl.read(timeout=2), esl.read(timeout=2)]
        assert [b.name for b in beats] == ["HEARTBEAT", "HEARTBEAT"]
        assert beats[0].ev("Event-Info") == "System Ready"
    finally:
        sim.stop()


def test_restart_esl_drops_control_connections_but_not_calls(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    esl = login(sim, "plain HEARTBEAT")
    call = sim.place_call(CallerScript())
    session, _ = daemon.accept()
    session.execute("answer")
    port = sim.esl_port
    sim.restart_esl()
    assert esl.rest() == []
    again = login(sim)
    assert sim.esl_port == port
    assert again.command("api show channels count").body == "\n1 total.\n"
    session.execute("hangup")
    assert call.wait_done(2)
    assert call.hangup_cause == "NORMAL_CLEARING"


# -- the daemon's socket closing under a call (docs/internals.md: what a real FreeSWITCH did) --


def bridged_caller(sim: Simulator, daemon: FakeDaemon, esl: RawESL, script: CallerScript):
    """A caller answered by the daemon and uuid_bridged to 1001 from the control connection."""
    call = sim.place_call(script)
    session, _ = daemon.accept()
    session.execute("answer")
    job = esl.command("bgapi originate user/1001 &park()").get("Job-UUID")
    agent = originate_events(esl, job)[-1].inner_body.split()[1]
    return call, session, agent


def test_with_socket_resume_the_socket_closing_cuts_the_bridge_into_the_fallback(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    sim.add_phone("1001", answer_after=1.0, talk_seconds=600)
    esl = login(sim, "plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE")
    call, session, agent = bridged_caller(sim, daemon, esl, CallerScript(talk_seconds=600))
    esl.command(f"api uuid_bridge {call.uuid} {agent}")
    assert wait_for(lambda: call.bridged_to is not None)

    session.close()

    gone = esl.until(lambda f: f.name == "CHANNEL_HANGUP_COMPLETE" and f.ev("Unique-ID") == agent)
    assert gone[-1].ev("Hangup-Cause") == "NORMAL_CLEARING"
    assert call.wait_done(5)
    assert call.fallback_ran


def test_without_socket_resume_a_bridge_outlives_the_socket_and_a_talked_caller_is_hung_up(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    phone = sim.add_phone("1001", answer_after=1.0, talk_seconds=600)
    esl = login(sim, "plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE")
    call, session, agent = bridged_caller(sim, daemon, esl, CallerScript(talk_seconds=600))
    for command in (f"uuid_setvar_multi {call.uuid} socket_resume=false;frontdesk_talked=true",
                    f"uuid_bridge {call.uuid} {agent}"):
        assert esl.command(f"api {command}").body.startswith("+OK")
    assert esl.command(f"api uuid_getvar {call.uuid} frontdesk_talked").body == "true"
    assert esl.command(f"api uuid_getvar {call.uuid} bridge_to").body == agent

    session.close()
    assert wait_for(lambda: call.daemon_closed_midcall)
    assert not call.done.wait(0.2), "the conversation goes on"
    assert phone.state == "busy"
    assert esl.command(f"api uuid_kill {agent}").body == "+OK\n"  # the staff hangs up

    assert call.wait_done(5)
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert not call.fallback_ran, "the rest of the extension hangs a talked caller up"


def test_hold_music_stops_when_the_socket_closes_only_with_socket_resume(
    sim: Simulator, daemon: FakeDaemon
) -> None:
    esl = login(sim)
    resumed = sim.place_call(CallerScript())
    on_hold, _ = daemon.accept()
    stuck = sim.place_call(CallerScript())
    held, _ = daemon.accept()
    assert esl.command(f"api uuid_setvar {stuck.uuid} socket_resume false").body == "+OK"
    for session in (on_hold, held):
        session.execute("answer")
        session.send(
            "sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
            "execute-app-arg: local_stream://moh\n\n"
        )
        session.until(lambda f: f.name == "CHANNEL_EXECUTE")
        session.close()

    assert resumed.wait_done(5) and resumed.fallback_ran
    assert not stuck.done.wait(0.2), "the endless hold music goes on, nobody in control"
    assert esl.command(f"api uuid_transfer {stuck.uuid} frontdesk_after_socket XML default"
                       ).body == "+OK\n"
    assert stuck.wait_done(5) and stuck.fallback_ran
    assert esl.command(f"api uuid_getvar {stuck.uuid} x").body == "-ERR No such channel!\n"


def test_sofia_status_gateway_answers_as_mod_sofia(sim: Simulator) -> None:
    esl = login(sim)
    known = esl.command("api sofia status gateway trunk").body
    assert known.startswith("=" * 97 + "\nName    \ttrunk\n")
    assert "State   \tREGED\n" in known
    assert esl.command("api sofia status gateway nosuch").body == "Invalid Gateway!\n"
    assert esl.command("api sofia status gateway").body == "Invalid Syntax!\n"
