"""CallSession and OutboundServer against a fake FreeSWITCH end driven by the test."""

from __future__ import annotations

import gevent
import gevent.event
import gevent.queue
import gevent.socket
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_fakes import Peer, api_response, blocks, command_headers, find_frame, replace_value, reply
from frontdesk.esl import CallGone, CallSession, CommandTimeout, OutboundServer
from frontdesk.esl.frame import FrameReader

CONNECT_REPLY = [b for b in blocks("outbound-call-flow") if b["dir"] == "s2c"][0]["data"].encode()
COMPLETE = find_frame("outbound-call-flow", "CHANNEL_EXECUTE_COMPLETE", "Application: playback")
HANGUP = find_frame("outbound-call-flow", "Event-Name: CHANNEL_HANGUP\n")


@pytest.fixture
def pair():
    ours, theirs = gevent.socket.socketpair()
    peer = Peer(theirs)
    yield ours, peer
    peer.close()
    ours.close()


def connected(ours, peer, **kwargs) -> CallSession:
    session = CallSession(ours, **kwargs)
    waiter = gevent.spawn(session.connect)
    assert peer.command() == "connect"
    peer.send(CONNECT_REPLY)
    waiter.get(timeout=2)
    return session


def completion(app_uuid: str, app_data: str) -> bytes:
    frame = replace_value(COMPLETE, "Application-UUID", app_uuid)
    return replace_value(frame, "Application-Data", app_data)


def test_connect_gives_channel_data_and_caller_details(pair):
    session = connected(*pair)
    assert session.uuid == "8c1dad2c-bb2e-4036-89ff-784831279b93"
    assert session.caller_number == "201"
    assert session.caller_name == "Guest Room 201"
    assert session.destination == "5000"
    assert session.connect().get("Control") == "full"  # idempotent, no second command


def test_execute_returns_the_completion_of_its_own_run_among_same_name_apps(pair):
    ours, peer = pair
    session = connected(ours, peer)
    first = gevent.spawn(session.execute, "playback", "a.wav")
    a = command_headers(peer.command())
    peer.send(reply("+OK"))
    second = gevent.spawn(session.execute, "playback", "b.wav")
    b = command_headers(peer.command())
    peer.send(reply("+OK"))
    assert a["execute-app-name"] == b["execute-app-name"] == "playback"
    assert a["Event-UUID"] != b["Event-UUID"]
    # A playback FreeSWITCH started by itself (uuid_broadcast), then b's, then a's.
    peer.send(completion("0b2c3d4e-0000-4000-8000-000000000000", "broadcast.wav"))
    peer.send(completion(b["Event-UUID"], "b.wav"))
    assert second.get(timeout=2).get("Application-Data") == "b.wav"
    assert not first.ready()
    peer.send(completion(a["Event-UUID"], "a.wav"))
    done = first.get(timeout=2)
    assert done.get("Application-UUID") == a["Event-UUID"]
    assert done.get("Application-Data") == "a.wav"


def test_execute_raises_call_gone_when_the_socket_closes(pair):
    ours, peer = pair
    session = connected(ours, peer)
    running = gevent.spawn(session.execute, "playback", "a.wav")
    peer.command()
    peer.send(reply("+OK"))
    peer.close()
    with pytest.raises(CallGone):
        running.get(timeout=2)
    assert session.hungup.is_set()
    with pytest.raises(CallGone):
        session.execute("answer")


def test_command_without_reply_times_out(pair):
    ours, peer = pair
    session = connected(ours, peer, reply_timeout=0.2)
    running = gevent.spawn(session.execute, "answer")
    peer.command()  # read, never answered
    with pytest.raises(CommandTimeout):
        running.get(timeout=2)


def test_execute_without_completion_times_out_after_its_timeout(pair):
    ours, peer = pair
    session = connected(ours, peer)
    running = gevent.spawn(session.execute, "playback", "a.wav", timeout=0.2)
    peer.command()
    peer.send(reply("+OK"))
    with pytest.raises(CommandTimeout):
        running.get(timeout=2)


def test_completion_after_hangup_is_still_delivered_within_the_grace(pair):
    ours, peer = pair
    session = connected(ours, peer, hangup_grace=2.0)
    running = gevent.spawn(session.execute, "record", "/tmp/m.wav 20")
    sent = command_headers(peer.command())
    peer.send(reply("+OK"))
    peer.send(HANGUP)
    assert session.hungup.wait(2)
    assert session.hangup_cause == "NORMAL_CLEARING"
    peer.send(completion(sent["Event-UUID"], "/tmp/m.wav 20"))
    assert running.get(timeout=2).get("Application-UUID") == sent["Event-UUID"]


def test_missing_completion_after_hangup_raises_call_gone_after_the_grace(pair):
    ours, peer = pair
    session = connected(ours, peer, hangup_grace=0.1)
    running = gevent.spawn(session.execute, "record", "/tmp/m.wav 20")
    peer.command()
    peer.send(reply("+OK"))
    peer.send(HANGUP)
    with pytest.raises(CallGone):
        running.get(timeout=2)


def test_set_and_hangup_send_sendmsg_and_wait_for_the_reply_only(pair):
    ours, peer = pair
    session = connected(ours, peer)
    setting = gevent.spawn(session.set, "playback_terminators", "#")
    sent = command_headers(peer.command())
    assert sent["execute-app-name"] == "set"
    assert sent["execute-app-arg"] == "playback_terminators=#"
    peer.send(reply("+OK"))
    setting.get(timeout=2)
    hanging = gevent.spawn(session.hangup, "USER_BUSY")
    assert command_headers(peer.command())["execute-app-arg"] == "USER_BUSY"
    peer.send(reply("+OK"))
    hanging.get(timeout=2)


def test_line_breaks_in_arguments_are_refused_before_sending(pair):
    session = connected(*pair)
    with pytest.raises(ValueError):
        session.execute("playback", "a.wav\nexecute-app-name: hangup")


def test_bad_content_length_closes_the_call_with_a_logged_error(pair):
    ours, peer = pair
    with structlog.testing.capture_logs() as logs:
        session = CallSession(ours)
        waiter = gevent.spawn(session.connect)
        peer.command()
        peer.send(b"Content-Type: command/reply\nContent-Length: -3\n\n")
        with pytest.raises(CallGone):
            waiter.get(timeout=2)
        assert peer.at_eof()
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert errors and errors[0]["event"] == "esl.frame_error"
    assert "negative" in errors[0]["error"]


def test_whole_captured_call_replays_through_a_session():
    """outbound-call-flow(.json): our commands in, FreeSWITCH's captured frames out, our
    Event-UUIDs substituted for the captured ones (same length, so Content-Length holds)."""
    for capture in ("outbound-call-flow", "outbound-call-flow-json"):
        ours, theirs = gevent.socket.socketpair()
        peer = Peer(theirs)
        script = blocks(capture)
        commands = [b["data"] for b in script if b["dir"] == "c2s"]

        def replay(script=script, peer=peer):
            substitute: dict[bytes, bytes] = {}
            for block in script:
                if block["dir"] == "c2s":
                    captured = command_headers(block["data"].rstrip("\n"))
                    mine = command_headers(peer.command())
                    if "Event-UUID" in captured:
                        substitute[captured["Event-UUID"].encode()] = mine["Event-UUID"].encode()
                elif block["dir"] == "s2c":
                    frame = block["data"].encode()
                    for theirs_uuid, mine_uuid in substitute.items():
                        frame = frame.replace(theirs_uuid, mine_uuid)
                    peer.send(frame)
            peer.close()

        player = gevent.spawn(replay)
        session = CallSession(ours)
        seen = []
        session.on_event(seen.append)
        results = []
        with gevent.Timeout(5):
            for command in commands:
                verb = command.split()[0]
                if verb == "connect":
                    session.connect()
                elif verb == "myevents":
                    session.myevents()
                elif verb == "linger":
                    session.linger(5)
                else:
                    sent = command_headers(command.rstrip("\n"))
                    args = sent.get("execute-app-arg", "")
                    results.append(session.execute(sent["execute-app-name"], args))
            assert session.hungup.wait()
        player.join()
        assert [r.get("Application") for r in results] == [
            "answer", "playback", "play_and_get_digits", "playback"
        ]
        assert results[2].variable("room_number") == "103"
        assert [e.get("DTMF-Digit") for e in seen if e.name == "DTMF"] == ["1", "0", "3", "#"]
        assert session.hangup_cause == "NORMAL_CLEARING"
        ours.close()


def _call_client(port: int) -> Peer:
    return Peer(gevent.socket.create_connection(("127.0.0.1", port)))


def test_server_survives_a_failing_handler_and_serves_the_next_call():
    done = gevent.queue.Queue()

    def handler(session: CallSession) -> None:
        try:
            session.connect()
            if session.caller_number == "201":
                raise RuntimeError("flow bug")
            done.put(session.caller_number)
        finally:
            done.put("end")

    server = OutboundServer("127.0.0.1", 0, handler)
    with structlog.testing.capture_logs() as logs:
        server.start()
        try:
            first = _call_client(server.port)
            assert first.command() == "connect"
            first.send(CONNECT_REPLY)
            assert done.get(timeout=2) == "end"
            assert first.at_eof()  # the server closed the failed call's socket
            second = _call_client(server.port)
            assert second.command() == "connect"
            second.send(CONNECT_REPLY.replace(b"Caller-Caller-ID-Number: 201",
                                              b"Caller-Caller-ID-Number: 202"))
            assert done.get(timeout=2) == "202"
        finally:
            server.stop()
    assert any(e["event"] == "esl.call_handler_failed" for e in logs)


def test_server_refuses_calls_over_max_calls_by_closing_at_once():
    release = gevent.event.Event()

    def handler(session: CallSession) -> None:
        session.connect()
        release.wait(5)

    server = OutboundServer("127.0.0.1", 0, handler, max_calls=1)
    server.start()
    try:
        first = _call_client(server.port)
        assert first.command() == "connect"
        first.send(CONNECT_REPLY)
        second = _call_client(server.port)
        assert second.at_eof()
        with pytest.raises(EOFError):
            second.command()
    finally:
        release.set()
        server.stop()


def test_server_keeps_serving_after_random_byte_streams():
    finished = gevent.queue.Queue()

    def handler(session: CallSession) -> None:
        try:
            session.connect()
            session.execute("answer", timeout=1)
        finally:
            finished.put(session)

    server = OutboundServer("127.0.0.1", 0, handler, reply_timeout=1, connect_timeout=0.25)
    server.start()

    @settings(max_examples=40, deadline=None)
    @given(
        garbage=st.one_of(
            st.binary(max_size=500),
            st.sampled_from([CONNECT_REPLY[:300], CONNECT_REPLY + b"\x00\xff\n\n", b"\n" * 9,
                             b"Content-Length: 99999999\n\n", b"Content-Length: x\n\n"]),
        ),
        cut=st.integers(1, 64),
    )
    def feed(garbage: bytes, cut: int) -> None:
        client = _call_client(server.port)
        try:
            for start in range(0, len(garbage), cut):
                client.send(garbage[start : start + cut])
        except OSError:
            pass  # refused before the end of the garbage
        assert client.at_eof(timeout=3)  # the server closed it (whatever the garbage did)
        client.close()

    try:
        feed()
        while not finished.empty():  # garbage that was a whole connect reply
            finished.get()
        good = _call_client(server.port)
        assert good.command() == "connect"
        good.send(CONNECT_REPLY)
        assert command_headers(good.command())["execute-app-name"] == "answer"
        good.send(reply("+OK"))
        good.close()
        assert finished.get(timeout=3).uuid == "8c1dad2c-bb2e-4036-89ff-784831279b93"
    finally:
        server.stop()


def test_reader_cuts_api_response_bodies_by_bytes_not_characters():
    body = "Zoë\n"
    reader = FrameReader()
    reader.feed(api_response(body) + reply("+OK"))
    assert reader.next_event().body == body
    assert reader.next_event().get("Reply-Text") == "+OK"


def test_server_closes_a_connection_whose_connect_reply_trickles_past_the_time_limit():
    handled = []
    server = OutboundServer("127.0.0.1", 0, handled.append, connect_timeout=0.5)
    server.start()
    try:
        slow = _call_client(server.port)
        assert slow.command() == "connect"

        def trickle() -> None:
            for byte in CONNECT_REPLY[:-2]:
                slow.send(bytes([byte]))
                gevent.sleep(0.05)

        sender = gevent.spawn(trickle)
        assert slow.at_eof(timeout=5)
        sender.kill()
        assert handled == []
    finally:
        server.stop()


def test_server_closes_a_connection_that_sends_anything_but_its_connect_reply_first():
    handled = []
    server = OutboundServer("127.0.0.1", 0, handled.append)
    server.start()
    try:
        client = _call_client(server.port)
        assert client.command() == "connect"
        client.send(HANGUP)  # an event before the reply: FreeSWITCH never does that
        assert client.at_eof()
        assert handled == []
    finally:
        server.stop()
