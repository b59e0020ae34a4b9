"""greenswitch's defects (docs/internals.md), each shown next to the frontdesk.esl piece
replacing it."""

from __future__ import annotations

import gevent
import gevent.socket
import pytest
import structlog
from greenswitch.esl import ESLEvent, ESLProtocol, OutboundSession

from esl_fakes import Peer, command_headers, find_frame, replace_value, reply
from frontdesk.esl import CallSession, CommandTimeout, ConnectionLost
from frontdesk.esl._link import Link
from frontdesk.esl.frame import FrameReader

CREATE = find_frame("inbound-events-plain", "Event-Name: CHANNEL_CREATE")
FORGED = replace_value(CREATE, "Caller-Caller-ID-Name", "Eve%0AUnique-ID%3A%20forged")
JOB = find_frame("inbound-api-bgapi", "BACKGROUND_JOB", "+OK fdf1362e")
COMPLETE = find_frame("outbound-call-flow", "CHANNEL_EXECUTE_COMPLETE", "Application: playback")


def greenswitch_parse(frame: bytes) -> ESLEvent:
    """What greenswitch's reader does with one frame: outer headers, then the body."""
    head, _, body = frame.partition(b"\n\n")
    event = ESLEvent(head.decode())
    event.parse_data(body.decode())
    return event


def ours(frame: bytes):
    reader = FrameReader()
    reader.feed(frame)
    return reader.next_event()


def stop_greenswitch(protocol: ESLProtocol) -> None:
    gevent.killall([protocol._receive_events_greenlet, protocol._process_events_greenlet])


# -- ESLEvent decodes the whole frame before splitting lines -----------------------------


def test_greenswitch_lets_an_encoded_newline_forge_a_header():
    real = greenswitch_parse(CREATE).headers["Unique-ID"]
    assert greenswitch_parse(FORGED).headers["Unique-ID"] == "forged" != real


def test_ours_keeps_the_encoded_newline_inside_its_value():
    event = ours(FORGED)
    assert event.uuid == ours(CREATE).uuid != "forged"
    assert event.get("Caller-Caller-ID-Name") == "Eve\nUnique-ID: forged"


def test_greenswitch_glues_a_background_job_body_to_its_content_length():
    glued = greenswitch_parse(JOB).headers["Content-Length"]
    assert glued.startswith("41") and "+OK fdf1362e" in glued


def test_ours_separates_background_job_header_and_body():
    event = ours(JOB)
    assert event.get("Content-Length") == "41"
    assert event.body == "+OK fdf1362e-1a8b-422b-8372-27c65a281141\n"


# -- send() waits for ever; pending commands are not failed on a drop ---------------------


def greenswitch_on(sock: gevent.socket.socket) -> ESLProtocol:
    protocol = ESLProtocol()
    protocol.sock = sock
    protocol.sock_file = sock.makefile("rb")
    protocol.connected = True
    protocol.start_event_handlers()
    return protocol


def test_greenswitch_send_has_no_timeout_of_its_own():
    mine, theirs = gevent.socket.socketpair()
    protocol = greenswitch_on(mine)
    try:
        with pytest.raises(gevent.Timeout), gevent.Timeout(0.3):
            protocol.send("api status")  # the server never answers: only our Timeout ends it
    finally:
        stop_greenswitch(protocol)
        mine.close()
        theirs.close()


def test_greenswitch_pending_send_survives_the_connection_dropping():
    mine, theirs = gevent.socket.socketpair()
    protocol = greenswitch_on(mine)
    try:
        waiting = gevent.spawn(protocol.send, "api status")
        Peer(theirs).command()
        theirs.close()
        with pytest.raises(gevent.Timeout):
            waiting.get(timeout=0.3)  # still waiting although the socket is gone
        waiting.kill()
    finally:
        stop_greenswitch(protocol)
        mine.close()


def test_ours_times_out_and_fails_pending_commands_on_a_drop():
    mine, theirs = gevent.socket.socketpair()
    link = Link(mine, on_frame=lambda _: None, on_close=lambda: None, lost=ConnectionLost,
                log=structlog.get_logger())
    peer = Peer(theirs)
    with pytest.raises(CommandTimeout):
        link.command("api status", timeout=0.2)
    waiting = gevent.spawn(link.command, "api status", 5)
    peer.command()
    peer.command()
    peer.close()
    with pytest.raises(ConnectionLost):
        waiting.get(timeout=1)


# -- blocking execute matches completions by application name -----------------------------


def completion(app_uuid: str, app_data: str) -> bytes:
    frame = replace_value(COMPLETE, "Application-UUID", app_uuid)
    return replace_value(frame, "Application-Data", app_data)


BROADCAST = completion("0b2c3d4e-0000-4000-8000-000000000000", "queue_position.wav")


def test_greenswitch_blocking_execute_takes_another_playbacks_completion():
    mine, theirs = gevent.socket.socketpair()
    session = OutboundSession(("127.0.0.1", 0), mine)
    peer = Peer(theirs)
    try:
        running = gevent.spawn(session.call_command, "playback", "b.wav", block=True)
        peer.command()
        peer.send(reply("+OK"))
        peer.send(BROADCAST)  # a uuid_broadcast playback ends first
        assert running.get(timeout=2).headers["Application-Data"] == "queue_position.wav"
    finally:
        stop_greenswitch(session)
        mine.close()
        theirs.close()


def test_ours_waits_for_the_completion_with_its_own_application_uuid():
    mine, theirs = gevent.socket.socketpair()
    session = CallSession(mine)
    peer = Peer(theirs)
    try:
        running = gevent.spawn(session.execute, "playback", "b.wav")
        sent = command_headers(peer.command())
        peer.send(reply("+OK"))
        peer.send(BROADCAST)
        peer.send(completion(sent["Event-UUID"], "b.wav"))
        assert running.get(timeout=2).get("Application-Data") == "b.wav"
    finally:
        session.close()
        theirs.close()
