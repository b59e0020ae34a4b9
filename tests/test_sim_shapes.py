"""Every kind of frame the simulator sends has the shape of the real FreeSWITCH frame.

The simulator's frames (recorded with its frame hook while it runs a call flow, a bridge, a
recording, originates and control commands) are compared with the captures in
tests/data/esl-captures: same header names in the same order, same Content-Type, same value
encoding; values such as uuids, times and sequence numbers are ignored. Channel variables
differ with the call's history, so for them the test checks that each name is one a real
FreeSWITCH sends (or one the test set itself).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from _sim_raw import FakeDaemon, RawESL
from frontdesk.sim import CallerScript, Simulator
from helpers import captured_reply

CAPTURES = Path(__file__).resolve().parent / "data" / "esl-captures"


# variables set by the scenario itself (set app, play_and_get_digits var) or by the shipped
# dialplan before `socket` (socket_resume, frontdesk_token)
OWN_VARIABLES = {
    "hangup_after_bridge", "playback_terminators", "choice", "choice_invalid",
    "socket_resume", "frontdesk_token",
}


# Caller-profile fields FreeSWITCH leaves out when empty (an originated leg has no caller
# name, a bridged one has the caller's): their presence depends on values, not on shape.
_VALUE_DEPENDENT = re.compile(
    r"^(Caller|Other-Leg|Channel)-(Username|Dialplan|Caller-ID-Name|Orig-Caller-ID-Name|Network-Addr)$"
)


def split_frames(stream: bytes) -> Iterator[bytes]:
    while stream:
        head, _, rest = stream.partition(b"\n\n")
        length = (
            int(re.search(rb"Content-Length: (\d+)", head).group(1))
            if b"Content-Length" in head
            else 0
        )
        yield head + b"\n\n" + rest[:length]
        stream = rest[length:]


def captured_frames() -> list[bytes]:
    frames = []
    for path in sorted(CAPTURES.glob("*.chunks.jsonl")):
        for line in path.read_text().splitlines():
            chunk = json.loads(line)
            if chunk["dir"] == "s2c":
                frames += split_frames(chunk["data"].encode())
    return frames


def headers(block: str) -> list[tuple[str, str]]:
    return [tuple(line.partition(": ")[::2]) for line in block.split("\n") if line]


def describe(frame: bytes) -> tuple[tuple, list[str], set[str], list[tuple[str, str]]]:
    """(kind key, header-name skeleton, variable names, raw (name, value) pairs)."""
    head, _, body = frame.decode().partition("\n\n")
    outer = headers(head)
    outer_d = dict(outer)
    ctype = outer_d.get("Content-Type", "")
    if ctype == "text/event-plain":
        pairs = headers(body.partition("\n\n")[0])
        fmt = "plain"
    elif ctype == "text/event-json":
        pairs = list(json.loads(body).items())
        fmt = "json"
    else:
        if "Event-Name" in outer_d:
            kind = ("connect",)
        elif ctype == "command/reply":
            kind = (ctype, "Job-UUID" in outer_d)
        elif ctype == "text/disconnect-notice":
            kind = (ctype, outer_d.get("Content-Disposition", ""))
        else:
            kind = (ctype,)
        names = [
            n for n, _ in outer if not n.startswith("variable_") and not _VALUE_DEPENDENT.match(n)
        ]
        return kind, names, {n for n, _ in outer if n.startswith("variable_")}, outer
    d = dict(pairs)
    chan = [n for n, _ in pairs]
    after_answer = chan[chan.index("Answer-State") + 1 :] if "Answer-State" in chan else []
    kind = (
        fmt,
        d.get("Event-Name"),
        urllib.parse.unquote(d.get("Event-Subclass", "")),
        d.get("Application", ""),
        d.get("Call-Direction", ""),
        "Hangup-Cause" in after_answer[:1],
        "Other-Type" in d,
        "Channel-Read-Codec-Name" in d,
        "Caller-Transfer-Source" in d,  # the leg was bridged by uuid_bridge
    )
    names = [n for n, _ in pairs if not n.startswith("variable_") and not _VALUE_DEPENDENT.match(n)]
    return kind, names, {n for n, _ in pairs if n.startswith("variable_")}, pairs


@pytest.fixture(scope="module")
def sim_frames() -> list[bytes]:
    """Run a scenario covering every kind of frame; return what the simulator sent."""
    daemon = FakeDaemon()
    sim = Simulator(
        password="pw", daemon_address=daemon.address, time_scale=0.002, heartbeat_interval=0.05
    )
    sent: list[bytes] = []
    sim.frame_hook = lambda _kind, frame: sent.append(frame)
    sim.start()
    try:
        for fmt, ext in (("plain", "1001"), ("json", "1011")):
            control = RawESL.connect(sim.esl_port)
            control.read()
            control.command("auth pw")
            control.command(
                f"event {fmt} CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_BRIDGE"
                " CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB DTMF HEARTBEAT"
                " CUSTOM sofia::register sofia::unregister"
            )
            sim.add_phone(ext, answer_after=1.0, talk_seconds=2.0)
            sim.set_registered(ext, False)
            sim.set_registered(ext, True)
            control.command("api status")
            control.command("bgapi status")
            control.until(lambda f: f.ev("Event-Name") == "BACKGROUND_JOB")
            job = control.command(f"bgapi originate user/{ext} &park()").get("Job-UUID")
            agent = control.until(lambda f, job=job: f.ev("Job-UUID") == job)[-1]
            control.command(f"api uuid_kill {agent.inner_body.split()[1]}")
            control.until(lambda f: f.ev("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
            control.until(lambda f: f.ev("Event-Name") == "HEARTBEAT")

            call = sim.place_call(CallerScript(keys=("2",), barge="#", message_seconds=3.0))
            esl, _ = daemon.accept(events=fmt if fmt == "json" else "")
            esl.execute("answer")
            esl.execute("set", "playback_terminators=#")
            esl.execute("playback", "/p/welcome.wav")
            esl.execute("play_and_get_digits", "1 1 1 3000 # /p/m.wav /p/i.wav choice [1-4] 2000")
            esl.execute("record", "/nonexistent/msg.wav 30 200 3")
            esl.rest()
            call.wait_done(2)

            call = sim.place_call(CallerScript())
            esl, _ = daemon.accept(events=fmt if fmt == "json" else "")
            esl.execute("answer")
            esl.execute("set", "hangup_after_bridge=true")
            esl.execute("bridge", f"user/{ext}@127.0.0.1")
            esl.rest()
            if fmt == "plain":
                uuid_bridge_call(sim, daemon, control, ext)
            control.command("exit")
            control.rest()
        bad = RawESL.connect(sim.esl_port)
        bad.read()
        bad.command("auth wrong")
        bad.rest()
    finally:
        sim.stop()
        daemon.stop()
    return sent


def uuid_bridge_call(sim: Simulator, daemon: FakeDaemon, control: RawESL, ext: str) -> None:
    """The queue: hold music, the agent's leg originated, then bridged with uuid_bridge."""
    call = sim.place_call(CallerScript())
    esl, _ = daemon.accept()
    esl.execute("answer")
    esl.send(
        "sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: local_stream://moh\nEvent-UUID: moh\n\n"
    )
    esl.until(lambda f: f.ev("Event-Name") == "CHANNEL_EXECUTE")
    job = control.command(f"bgapi originate user/{ext} &park()").get("Job-UUID")
    result = control.until(lambda f: f.ev("Job-UUID") == job)[-1].inner_body
    assert result.startswith("+OK"), (result, sim.phones)
    agent = result.split()[1]
    control.command(f"api uuid_bridge {call.uuid} {agent}")
    esl.rest()
    call.wait_done(2)


@pytest.fixture(scope="module")
def reference() -> dict[tuple, list[list[str]]]:
    shapes: dict[tuple, list[list[str]]] = defaultdict(list)
    for frame in captured_frames():
        kind, names, _, _ = describe(frame)
        if names not in shapes[kind]:
            shapes[kind].append(names)
    return shapes


@pytest.fixture(scope="module")
def real_variables() -> set[str]:
    names: set[str] = set()
    for frame in captured_frames():
        names |= describe(frame)[2]
    return names


MUST_COVER = [
    ("auth/request",),
    ("connect",),
    ("command/reply", False),
    ("command/reply", True),
    ("api/response",),
    ("text/disconnect-notice", ""),
    ("text/disconnect-notice", "linger"),
    ("text/disconnect-notice", "disconnect"),
]
MUST_COVER_EVENTS = [
    ("CHANNEL_PARK", ""),
    ("CHANNEL_EXECUTE", "answer"),
    ("CHANNEL_EXECUTE", "playback"),
    ("CHANNEL_EXECUTE", "play_and_get_digits"),
    ("CHANNEL_EXECUTE", "bridge"),
    ("CHANNEL_EXECUTE", "record"),
    ("CHANNEL_EXECUTE_COMPLETE", "answer"),
    ("CHANNEL_EXECUTE_COMPLETE", "playback"),
    ("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"),
    ("CHANNEL_EXECUTE_COMPLETE", "bridge"),
    ("CHANNEL_EXECUTE_COMPLETE", "record"),
    ("CHANNEL_EXECUTE_COMPLETE", "socket"),
    ("CHANNEL_ANSWER", ""),
    ("CHANNEL_BRIDGE", ""),
    ("CHANNEL_UNBRIDGE", ""),
    ("CHANNEL_HANGUP", ""),
    ("CHANNEL_UNPARK", ""),
    ("CHANNEL_STATE", ""),
    ("CHANNEL_HANGUP_COMPLETE", ""),
    ("CHANNEL_CREATE", ""),
    ("CHANNEL_PROGRESS", ""),
    ("DTMF", ""),
    ("BACKGROUND_JOB", ""),
    ("HEARTBEAT", ""),
    ("CUSTOM", "sofia::register"),
    ("CUSTOM", "sofia::unregister"),
]


def test_every_frame_kind_matches_a_captured_frame(
    sim_frames: list[bytes], reference: dict[tuple, list[list[str]]]
) -> None:
    compared: set[tuple] = set()
    mismatches = []
    for frame in sim_frames:
        kind, names, _, _ = describe(frame)
        if kind not in reference:
            continue
        compared.add(kind)
        if names not in reference[kind]:
            mismatches.append((kind, names, reference[kind][0]))
    assert not mismatches, "\n".join(
        f"{kind}:\n  sim:  {names}\n  real: {real}" for kind, names, real in mismatches[:3]
    )

    def covered(kinds: set[tuple], fmt: str, name: str, extra: str) -> bool:
        return any(c[0] == fmt and c[1] == name and extra in (c[2], c[3]) for c in kinds)

    missing = [k for k in MUST_COVER if k not in compared]
    for fmt in ("plain", "json"):
        for name, extra in MUST_COVER_EVENTS:
            # json captures exist only for some flows (call flow, inbound events, bgapi)
            if fmt == "json" and not covered(set(reference), fmt, name, extra):
                continue
            if not covered(compared, fmt, name, extra):
                missing.append((fmt, name, extra))
    assert not missing, f"frame kinds not compared with a capture: {missing}"


def test_channel_variables_are_real_ones(sim_frames: list[bytes], real_variables: set[str]) -> None:
    unknown = set()
    for frame in sim_frames:
        unknown |= describe(frame)[2] - real_variables
    unknown -= {f"variable_{n}" for n in OWN_VARIABLES}
    assert not unknown


def test_values_are_encoded_like_freeswitch(sim_frames: list[bytes]) -> None:
    plain = [f for f in sim_frames if b"Content-Type: text/event-plain" in f]
    for frame in plain:
        for name, value in describe(frame)[3]:
            assert not re.search(r"[ :@#+<>\"]", value), (name, value)
    dtmf = [f for f in plain if b"Event-Name: DTMF" in f]
    assert any(b"DTMF-Digit: %23" in f for f in dtmf)
    for frame in sim_frames:
        length = re.search(rb"Content-Length: (\d+)\n\n", frame.split(b"\n\n", 1)[0] + b"\n\n")
        if length:
            assert len(frame.split(b"\n\n", 1)[1]) == int(length.group(1))


def xml_skeleton(text: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """(declaration line, [(element, [child elements])...]) of an XML reply."""
    root = ElementTree.fromstring(text)
    return text.split("\n", 1)[0], [(e.tag, [c.tag for c in e]) for e in root.iter()]


def test_the_registration_listing_has_the_captured_xml_shape(sim: Simulator) -> None:
    sim.add_phone("1001")
    sim.add_phone("1002")
    esl = RawESL.connect(sim.esl_port)
    esl.read()
    esl.command("auth " + sim.password)
    reply = esl.command("api sofia xmlstatus profile fsref reg")

    assert reply.content_type == "api/response"
    assert xml_skeleton(reply.body) == xml_skeleton(
        captured_reply("inbound-sofia-status", "api sofia xmlstatus profile fsref reg")
    )
    assert reply.body.split("<user>")[0].endswith("\n        ")  # FreeSWITCH's indentation
