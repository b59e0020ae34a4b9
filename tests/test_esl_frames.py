"""The ESL parser against every frame FreeSWITCH sent in the captures, split any way, and
against garbage."""

from __future__ import annotations

import random

import gevent
import gevent.socket
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_fakes import CAPTURE_NAMES, find_frame, plain_event, replace_value, server_frames
from frontdesk.esl import Event, FrameError, FrameReader
from frontdesk.esl.frame import MAX_CONTENT_LENGTH

CALL_UUID = "8c1dad2c-bb2e-4036-89ff-784831279b93"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def parse_one(frame: bytes) -> Event:
    reader = FrameReader()
    reader.feed(frame)
    event = reader.next_event()
    assert event is not None
    assert reader.next_event() is None
    return event


def parse_stream(chunks: list[bytes]) -> list[Event]:
    reader = FrameReader()
    events = []
    for chunk in chunks:
        reader.feed(chunk)
        while (event := reader.next_event()) is not None:
            events.append(event)
    return events


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        chunks.append(data[pos : pos + size])
        pos += size
        i += 1
    return chunks


def touch(event: Event) -> None:
    """Use every accessor (none may raise)."""
    assert isinstance(event.content_type, str)
    assert isinstance(event.name, str)
    assert isinstance(event.uuid, str)
    assert isinstance(event.headers, dict)
    assert isinstance(event.body, str)
    event.get("Application-UUID")
    event.variable("current_application")


@pytest.mark.parametrize("capture", CAPTURE_NAMES)
def test_every_captured_server_frame_parses_into_exactly_one_event(capture):
    for frame in server_frames(capture):
        event = parse_one(frame)
        touch(event)
        assert event.content_type, frame[:80]
        if event.content_type.startswith("text/event-"):
            assert event.name == event.headers["Event-Name"]
            assert event.uuid == event.headers.get("Unique-ID", "")
            assert event.get("Application-UUID") == event.headers.get("Application-UUID")


@pytest.mark.parametrize("capture", CAPTURE_NAMES)
@pytest.mark.parametrize("sizes", [[1], [7], [64], [1000], "random"])
def test_a_whole_capture_split_into_any_chunks_gives_the_same_events(capture, sizes):
    frames = server_frames(capture)
    stream = b"".join(frames)
    if sizes == "random":
        rng = random.Random(capture)
        sizes = [rng.randint(1, 3000) for _ in range(50)]
    events = parse_stream(split(stream, sizes))
    assert len(events) == len(frames)
    for event, frame in zip(events, frames, strict=True):
        whole = parse_one(frame)
        assert (event.content_type, event.name, event.uuid, event.body) == (
            whole.content_type,
            whole.name,
            whole.uuid,
            whole.body,
        )
        assert event.headers == whole.headers


@pytest.mark.parametrize(
    "capture", ["outbound-call-flow", "inbound-events-json", "inbound-api-bgapi"]
)
@pytest.mark.parametrize("size", [1, 7, 1500])
def test_frames_arrive_intact_through_a_real_socketpair(capture, size):
    frames = server_frames(capture)
    ours, theirs = gevent.socket.socketpair()

    def write():
        for chunk in split(b"".join(frames), [size]):
            theirs.sendall(chunk)
            gevent.sleep(0)  # let the reader see this chunk on its own
        theirs.close()

    writer = gevent.spawn(write)
    reader = FrameReader()
    events = []
    with gevent.Timeout(10):
        while data := ours.recv(65536):
            reader.feed(data)
            while (event := reader.next_event()) is not None:
                events.append(event)
    writer.join()
    ours.close()
    assert [e.headers for e in events] == [parse_one(f).headers for f in frames]
    assert [e.body for e in events] == [parse_one(f).body for f in frames]


def test_outbound_connect_reply_carries_the_channel_data():
    event = parse_one(server_frames("outbound-call-flow")[0])
    assert event.content_type == "command/reply"
    assert event.get("Reply-Text") == "+OK\n"
    assert event.name == "CHANNEL_DATA"
    assert event.uuid == CALL_UUID
    assert event.get("Caller-Caller-ID-Name") == "Guest Room 201"
    assert event.get("Control") == "full"
    assert event.body == ""


def test_plain_event_values_are_url_decoded_and_digits_keep_their_hash():
    digits = [
        parse_one(f).get("DTMF-Digit")
        for f in server_frames("outbound-call-flow")
        if b"Event-Name: DTMF\n" in f
    ]
    assert digits == ["1", "0", "3", "#"]
    answer = parse_one(find_frame("outbound-call-flow", "Event-Name: CHANNEL_ANSWER"))
    assert answer.get("Channel-Name") == "sofia/fsref/201@127.0.0.1:5061"
    assert answer.get("FreeSWITCH-IPv6") == "fd00::2"


def test_play_and_get_digits_completion_has_the_typed_number():
    done = parse_one(
        find_frame("outbound-call-flow", "CHANNEL_EXECUTE_COMPLETE", "Application: play_and_get")
    )
    assert done.name == "CHANNEL_EXECUTE_COMPLETE"
    assert done.variable("room_number") == "103"
    assert done.variable("read_result") == "success"
    assert done.get("Application-UUID")


def test_json_events_give_the_same_values_as_plain_ones():
    plain = parse_one(find_frame("outbound-call-flow", "Event-Name: CHANNEL_ANSWER"))
    js = parse_one(find_frame("outbound-call-flow-json", '"Event-Name":"CHANNEL_ANSWER"'))
    assert js.content_type == "text/event-json"
    assert js.name == plain.name
    assert js.uuid == js.headers["Unique-ID"] != ""
    assert js.get("Answer-State") == plain.get("Answer-State") == "answered"
    assert js.get("Caller-Caller-ID-Name") == "Guest Room 201"
    digit = parse_one(find_frame("outbound-call-flow-json", '"DTMF-Digit":"#"'))
    assert digit.get("DTMF-Digit") == "#"


def test_repeated_header_keeps_its_first_value_in_plain_and_json():
    for capture, needle in [
        ("inbound-events-plain", "Event-Name: CHANNEL_HANGUP_COMPLETE"),
        ("inbound-events-json", '"Event-Name":"CHANNEL_HANGUP_COMPLETE"'),
    ]:
        frame = find_frame(capture, needle)
        assert frame.count(b"Hangup-Cause") == 2
        event = parse_one(frame)
        assert event.get("Hangup-Cause") == event.headers["Hangup-Cause"] == "NORMAL_CLEARING"
    # With differing values the first one wins, the same way in both formats.
    inner = b"Event-Name: X\nHangup-Cause: FIRST\nHangup-Cause: SECOND\n\n"
    outer = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner)
    event = parse_one(outer + inner)
    assert event.get("Hangup-Cause") == event.headers["Hangup-Cause"] == "FIRST"
    js = b'{"Event-Name":"X","Hangup-Cause":"FIRST","Hangup-Cause":"SECOND"}'
    event = parse_one(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(js) + js)
    assert event.get("Hangup-Cause") == event.headers["Hangup-Cause"] == "FIRST"


def test_background_job_body_is_the_raw_job_output():
    frames = [f for f in server_frames("inbound-api-bgapi") if b"BACKGROUND_JOB" in f]
    bodies = [parse_one(f).body for f in frames]
    assert "+OK fdf1362e-1a8b-422b-8372-27c65a281141\n" in bodies
    assert "-ERR nosuchcommand Command not found!\n" in bodies
    ok = parse_one(frames[bodies.index("+OK fdf1362e-1a8b-422b-8372-27c65a281141\n")])
    assert ok.name == "BACKGROUND_JOB"
    assert ok.get("Content-Length") == "41"
    assert ok.get("Job-Command-Arg") == "loopback/9999 &park()"
    assert "+OK" not in "".join(ok.headers.values())


def test_json_background_job_output_is_in_body():
    frames = [parse_one(f) for f in server_frames("inbound-bgapi-json") if b"BACKGROUND_JOB" in f]
    assert frames[0].body.startswith("UP 0 years")
    assert frames[0].get("Content-Length") == str(len(frames[0].body.encode()))
    assert frames[1].body.startswith("-ERR nosuchcommand")


def test_disconnect_notices_with_and_without_body():
    linger, final = (parse_one(f) for f in server_frames("outbound-call-flow")[-2:])
    assert linger.content_type == final.content_type == "text/disconnect-notice"
    assert linger.get("Content-Disposition") == "linger"
    assert linger.body == ""
    assert final.get("Content-Disposition") == "disconnect"
    assert final.body == GOODBYE
    assert len(final.body.encode()) == 67


def test_rude_rejection_and_auth_frames():
    rude, notice = (parse_one(f) for f in server_frames("inbound-acl-rejected"))
    assert rude.content_type == "text/rude-rejection"
    assert rude.body == "Access Denied, go away.\n"
    assert notice.body == GOODBYE
    auth, bad = (parse_one(f) for f in server_frames("inbound-auth-bad")[:2])
    assert auth.content_type == "auth/request"
    assert bad.get("Reply-Text") == "-ERR invalid"


def test_api_response_body_is_kept_byte_exact():
    bodies = [parse_one(f).body for f in server_frames("inbound-api-bgapi")]
    assert "\n0 total.\n" in bodies
    assert '{"row_count": 0}\n' in bodies
    assert "-ERR USER_NOT_REGISTERED\n" in bodies


def test_header_order_does_not_matter():
    shuffled = (
        b"Content-Disposition: disconnect\nContent-Length: 5\n"
        b"Controlled-Session-UUID: abc\nContent-Type: text/disconnect-notice\n\nbye.\n"
    )
    event = parse_one(shuffled)
    assert (event.content_type, event.body) == ("text/disconnect-notice", "bye.\n")


def test_encoded_newline_in_a_caller_value_cannot_forge_a_header():
    frame = find_frame("inbound-events-plain", "Event-Name: CHANNEL_CREATE")
    real_uuid = parse_one(frame).uuid
    forged = replace_value(
        frame, "Caller-Caller-ID-Name", "Eve%0AUnique-ID%3A%20forged%0AEvent-Name%3A%20HEARTBEAT"
    )
    event = parse_one(forged)
    assert event.uuid == real_uuid
    assert event.name == "CHANNEL_CREATE"
    assert event.headers["Unique-ID"] == real_uuid
    assert event.get("Caller-Caller-ID-Name") == (
        "Eve\nUnique-ID: forged\nEvent-Name: HEARTBEAT"
    )


def test_multibyte_utf8_split_across_chunks_is_decoded_once_whole():
    frame = plain_event({"Event-Name": "CUSTOM", "Caller-Caller-ID-Name": "Zoë Müller"})
    raw = frame.replace(b"Zo%C3%AB%20M%C3%BCller", "Zoë Müller".encode())
    raw = raw.replace(b"Content-Length: %d" % (len(frame.partition(b"\n\n")[2])),
                      b"Content-Length: %d" % (len(raw.partition(b"\n\n")[2])))
    for chunked in (split(frame, [1]), split(raw, [1])):
        (event,) = parse_stream(chunked)
        assert event.get("Caller-Caller-ID-Name") == "Zoë Müller"


@pytest.mark.parametrize(
    "length",
    [b"-1", b"-0", b"abc", b"12a", b"", b"1e3", b"0x10", str(MAX_CONTENT_LENGTH + 1).encode(),
     b"99999999999999999999"],
)
def test_bad_content_length_raises_frame_error(length):
    reader = FrameReader()
    reader.feed(b"Content-Type: api/response\nContent-Length: " + length + b"\n\nbody")
    with pytest.raises(FrameError):
        reader.next_event()


def test_content_length_of_exactly_16_mib_is_accepted():
    reader = FrameReader()
    reader.feed(b"Content-Type: api/response\nContent-Length: %d\n\n" % MAX_CONTENT_LENGTH)
    assert reader.next_event() is None  # waiting for the body, no error
    reader.feed(b"x" * MAX_CONTENT_LENGTH)
    event = reader.next_event()
    assert event is not None and len(event.body) == MAX_CONTENT_LENGTH


def test_endless_header_block_is_a_frame_error():
    reader = FrameReader()
    with pytest.raises(FrameError):
        for _ in range(20):
            reader.feed(b"X-Header: " + b"a" * 65536 + b"\n")
            reader.next_event()


def _frame_mutations():
    frames = [f for name in CAPTURE_NAMES[:6] for f in server_frames(name)]
    return st.tuples(
        st.sampled_from(frames),
        st.lists(st.tuples(st.integers(0, 6000), st.binary(max_size=8)), max_size=4),
    )


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.lists(
            st.sampled_from(
                [b"\n", b"\n\n", b": ", b"Content-Length: ", b"Content-Type: ", b"7",
                 b"text/event-plain", b"text/event-json", b"{", b'"', b"%", b"%0A", b"\xc3",
                 b"Event-Name: ", b"Unique-ID", b'"Unique-ID":"', b"\\", b"-", b"[" * 50]
            ),
            max_size=60,
        ).map(b"".join),
    ),
    mutation=_frame_mutations(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=10),
)
def test_random_and_malformed_streams_raise_nothing_but_frame_error(data, mutation, sizes):
    frame, edits = mutation
    for offset, junk in edits:
        frame = frame[:offset] + junk + frame[offset + len(junk) :]
    for stream in (data, frame, frame + data):
        reader = FrameReader()
        try:
            for chunk in split(stream, sizes):
                reader.feed(chunk)
                while (event := reader.next_event()) is not None:
                    touch(event)
        except FrameError:
            pass
