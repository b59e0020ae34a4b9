"""The reference firmware's protocol code (firmware/frontdesk_panel/panel_protocol.*), compiled
on this machine with g++ into a small host program (tests/firmware_host.cpp), against the
daemon's own encoder and decoder (frontdesk.panel.frame): what the daemon sends, the firmware
reads; what the firmware sends, the daemon accepts; damaged lines are refused by both alike.

The sketch around it (LED strip, LCD, buttons) is only compiled, not run: for the ATmega328P
against the Arduino AVR core where avr-g++ and the core are installed (Debian: gcc-avr,
avr-libc, arduino-core-avr), with stand-in headers for its two libraries (firmware_stubs/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from frontdesk.panel.frame import Frame, FrameError, LineSplitter, decode, encode, state_fields

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware" / "frontdesk_panel"
HOST = Path(__file__).with_name("firmware_host.cpp")
GXX = shutil.which("g++")
AVR_GXX = shutil.which("avr-g++")
ARDUINO_AVR = Path("/usr/share/arduino/hardware/arduino/avr")
"""Where Debian's arduino-core-avr puts the Arduino core for AVR boards."""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if GXX is None:
        pytest.skip(
            "g++ is not installed, so the firmware's protocol code cannot be compiled here "
            "(apt install g++)"
        )
    binary = tmp_path_factory.mktemp("firmware") / "panel_host"
    build = subprocess.run(
        [GXX, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-I", str(FIRMWARE),
         str(FIRMWARE / "panel_protocol.cpp"), str(HOST), "-o", str(binary)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return binary


def run(host: Path, *commands: str) -> list[str]:
    """Each command's one-line answer (see firmware_host.cpp)."""
    done = subprocess.run(
        [str(host)], input="\n".join(commands) + "\n", capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    answers = done.stdout.splitlines()
    assert len(answers) == len(commands), done.stdout
    return answers


def daemon_reads(line: bytes) -> Frame | None:
    try:
        return decode(line)
    except FrameError:
        return None


def as_parsed(frame: Frame) -> str:
    return f"ok {frame.kind} {frame.seq} {'|'.join(frame.fields)}"


DAEMON_FRAMES = [
    Frame("V", 0, ("1", "frontdesk")),
    Frame("S", 1, state_fields(0, 0.0, 3, "G", "AUTO")),
    Frame("S", 2, state_fields(3, 95.4, 0, "A", "OPEN")),
    Frame("S", 3, state_fields(5, 240.0, 1, "R", "LUNCH")),
    Frame("S", 65535, state_fields(5000, 10**6, 5000, "R", "CLOSED")),  # clamped to the maxima
    Frame("H", 4),
    Frame("A", 5, ("13", "OK")),
    Frame("A", 6, ("65535", "NO")),
]


# -- frames ---------------------------------------------------------------------------------


def test_the_firmware_reads_every_kind_of_frame_the_daemon_sends(host):
    lines = [encode(frame) for frame in DAEMON_FRAMES]

    answers = run(host, *(f"parse {line.hex()}" for line in lines))

    assert answers == [as_parsed(frame) for frame in DAEMON_FRAMES]


def test_the_firmware_reads_the_values_of_a_state_and_refuses_them_out_of_range(host):
    good = [frame for frame in DAEMON_FRAMES if frame.kind == "S"]
    bad = [
        Frame("S", 9, ("1000", "0", "0", "G", "AUTO")),
        Frame("S", 9, ("0", "100000", "0", "G", "AUTO")),
        Frame("S", 9, ("0", "0", "-1", "G", "AUTO")),
        Frame("S", 9, ("0", "0", "0", "X", "AUTO")),
        Frame("S", 9, ("0", "0", "0", "G", "NOON")),
        Frame("S", 9, ("", "0", "0", "G", "AUTO")),
    ]

    answers = run(host, *(f"state {encode(frame).hex()}" for frame in good + bad))

    assert answers[: len(good)] == [
        "ok 0 0 3 G AUTO", "ok 3 95 0 A OPEN", "ok 5 240 1 R LUNCH", "ok 999 99999 999 R CLOSED",
    ]  # fmt: skip
    assert answers[len(good) :] == ["err"] * len(bad)
    assert all(daemon_reads(encode(frame)) is not None for frame in bad)  # valid, but not shown


def damaged(line: bytes) -> list[bytes]:
    """Every cut of `line`, every byte of it with one bit flipped, and a few noisy variants."""
    out = [line[:cut] for cut in range(len(line))]
    for at in range(len(line)):
        for bit in (0x01, 0x02, 0x10):
            flipped = bytearray(line)
            flipped[at] ^= bit
            out.append(bytes(flipped))
    out += [b"boot ok " + line, line + b"\r", line[:-2] + line[-2:].lower(), b"$$" + line[1:]]
    return [candidate for candidate in out if all(0x20 <= b < 0x7F or b == 13 for b in candidate)]


def test_the_firmware_and_the_daemon_refuse_the_same_damaged_lines(host):
    lines = [encode(frame).rstrip(b"\n") for frame in DAEMON_FRAMES]
    lines += [encode(Frame("B", 13, ("LUNCH",))).rstrip(b"\n")]
    cases = [case for line in lines for case in damaged(line)]
    cases += [b"$Z,1*1B", b"$S,1,0,0,3,G*19", b"$B,1,LUNCH", b"no dollar", b"$H*48", b"$H,,*05"]

    answers = run(host, *(f"parse {case.hex()}" for case in cases))

    expected = []
    for case in cases:
        frame = daemon_reads(case)
        expected.append(as_parsed(frame) if frame is not None else "err")
    firmware = [answer if answer.startswith("ok") else "err" for answer in answers]
    assert firmware == expected
    assert len(cases) > 700 and firmware.count("err") > 650  # most of them refused


def test_the_frames_the_firmware_writes_are_byte_for_byte_the_daemons_encoding(host):
    frames = [
        Frame("H", 0), Frame("H", 65535), Frame("B", 13, ("LUNCH",)), Frame("B", 14, ("CLOSED",)),
        Frame("B", 15, ("AWAY",)),
    ]  # fmt: skip

    answers = run(host, *(f"write {f.kind} {f.seq} {' '.join(f.fields)}".strip() for f in frames))

    assert answers == [f"frame {encode(frame).decode().rstrip()}" for frame in frames]


# -- the link -------------------------------------------------------------------------------


def test_the_panel_sends_a_heartbeat_at_once_then_every_two_seconds(host):
    answers = run(host, "poll 0", "poll 1999", "poll 2000", "poll 3000", "poll 4000")

    beats = [decode(answer.split()[1].encode()) for answer in answers if answer != "send"]
    assert answers[1] == answers[3] == "send"
    assert [(frame.kind, frame.seq) for frame in beats] == [("H", 0), ("H", 1), ("H", 2)]


def test_every_button_frame_of_the_firmware_is_accepted_by_the_daemon(host):
    answers = run(host, "press LUNCH 0", "recv 1 " + encode(Frame("A", 1, ("0", "OK"))).hex(),
                  "press CLOSED 2", "recv 3 " + encode(Frame("A", 2, ("1", "NO"))).hex(),
                  "press AWAY 4")  # fmt: skip

    sent = [answer.split()[1] for answer in answers if answer.startswith("send")]
    pressed = [decode(line.encode()) for line in sent]
    assert pressed == [
        Frame("B", 0, ("LUNCH",)), Frame("B", 1, ("CLOSED",)), Frame("B", 2, ("AWAY",)),
    ]  # fmt: skip


def test_a_button_is_sent_again_with_the_same_seq_until_answered_then_given_up(host):
    polls = [f"poll {t}" for t in range(100, 12_000, 100)]

    answers = run(host, "poll 0", "press LUNCH 50", "press AWAY 60", *polls, "show 12000")

    assert answers[1] == "send " + encode(Frame("B", 1, ("LUNCH",))).decode().rstrip()
    assert answers[2] == "busy"  # one press at a time
    sent = [decode(line.encode()) for answer in answers[3:-1] for line in answer.split()[1:]]
    again = [frame for frame in sent if frame.kind == "B"]
    assert again == [Frame("B", 1, ("LUNCH",))] * 4  # five tries in all, 2 s apart
    assert "pressing=0 answer=LOST" in answers[-1]


def test_an_answer_ends_the_resending_and_a_stale_answer_does_not(host):
    def ack(seq: int, acked: int, word: str) -> str:
        return encode(Frame("A", seq, (str(acked), word))).hex()

    answers = run(
        host, "poll 0", "press CLOSED 10", f"recv 500 {ack(1, 99, 'OK')}", "show 600",
        "poll 2100", f"recv 2200 {ack(2, 1, 'NO')}", "show 2300", "poll 4400", "show 4500",
    )  # fmt: skip

    assert "pressing=1 answer=NONE" in answers[3]  # the answer to another press
    resent = [line for line in answers[4].split()[1:] if line.startswith("$B")]
    assert resent == [encode(Frame("B", 1, ("CLOSED",))).decode().rstrip()]
    assert "pressing=0 answer=NO" in answers[6]
    assert all(not line.startswith("$B") for line in answers[7].split()[1:])
    assert "answer=NONE" in answers[8]  # an answer is told once


def test_no_link_when_the_daemon_falls_silent_and_the_state_when_it_is_back(host):
    hello = encode(Frame("V", 0, ("1", "frontdesk"))).hex()
    state = encode(Frame("S", 1, state_fields(2, 75.0, 1, "A", "LUNCH"))).hex()
    beat = encode(Frame("H", 2)).hex()
    noise = b"noise\n$H,3*00\n".hex()  # no frame; a bad checksum

    answers = run(
        host, "show 0", f"recv 10 {hello}{state}", "show 5000", f"recv 6000 {beat}",
        "show 11999", "show 12000", f"recv 12500 {noise}", "show 12600",
        f"recv 13000 {beat}", "show 13001",
    )  # fmt: skip

    assert answers[0].startswith("linked=0 state=-")
    assert answers[1] == "valid 2"
    assert answers[2].startswith("linked=1 state=2,75,1,A,LUNCH")
    assert "version=1" in answers[2]
    assert answers[4].startswith("linked=1")
    assert answers[5].startswith("linked=0")  # 6 s without a frame: "no link"
    assert answers[6] == "valid 0"
    assert answers[7].startswith("linked=0") and "dropped=2" in answers[7]
    assert answers[9].startswith("linked=1 state=2,75,1,A,LUNCH")


def test_lines_are_cut_as_the_daemon_cuts_them(host):
    frame = encode(Frame("S", 1, state_fields(1, 5.0, 2, "A", "AUTO")))
    chunks = [b"boot\r\n" + frame[:10], frame[10:] + b"x" * 200, b"tail\n" + frame, b"$H,1*", b"\n"]

    answers = run(host, *(f"recv 0 {chunk.hex()}" for chunk in chunks), "show 1")

    splitter, valid = LineSplitter(), []
    for chunk in chunks:
        valid.append(sum(daemon_reads(line) is not None for line in splitter.feed(chunk)))
    assert answers[:-1] == [f"valid {count}" for count in valid]
    assert valid == [0, 1, 1, 0, 0]
    assert "dropped=3" in answers[-1]  # "boot", the overlong line, "$H,1*"


# -- the sketch -----------------------------------------------------------------------------


@pytest.mark.skipif(
    AVR_GXX is None or not (ARDUINO_AVR / "cores" / "arduino" / "Arduino.h").exists(),
    reason="avr-g++ or the Arduino AVR core is not installed, so the sketch cannot be compiled "
    "for the ATmega328P here (apt install gcc-avr avr-libc arduino-core-avr)",
)
def test_the_sketch_compiles_for_the_atmega328p_of_a_nano(tmp_path):
    """Only compiled (an object file, not linked): the LED strip and LCD libraries are stand-in
    declarations of their API, not the libraries."""
    build = subprocess.run(
        [AVR_GXX, "-x", "c++", "-std=gnu++11", "-Os", "-Wall", "-Wextra", "-Werror",
         "-fno-exceptions", "-fno-threadsafe-statics", "-mmcu=atmega328p",
         "-DF_CPU=16000000L", "-DARDUINO=10807", "-DARDUINO_AVR_NANO", "-DARDUINO_ARCH_AVR",
         "-I", str(ARDUINO_AVR / "cores" / "arduino"),
         "-I", str(ARDUINO_AVR / "variants" / "eightanaloginputs"),
         "-I", str(ARDUINO_AVR / "libraries" / "Wire" / "src"),
         "-I", str(HOST.parent / "firmware_stubs"), "-I", str(FIRMWARE),
         "-c", str(FIRMWARE / "frontdesk_panel.ino"), "-o", str(tmp_path / "sketch.o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    protocol = subprocess.run(
        [AVR_GXX, "-std=gnu++11", "-Os", "-Wall", "-Wextra", "-Werror", "-mmcu=atmega328p",
         "-c", str(FIRMWARE / "panel_protocol.cpp"), "-o", str(tmp_path / "protocol.o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert protocol.returncode == 0, protocol.stderr
