"""The `alpha` panel driver: an LED message sign of the Alpha family at the end of the line.

The sign's side is read with a parser written here from the Alpha Sign Communications Protocol
(the packet layout: NULs, SOH, type code, address, STX, command, ..., ETX, checksum, EOT),
not with the driver's own encoder, and the daemon is the real one against the simulator, the
sign behind a real pseudo-terminal pair (see test_panel.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gevent
import pytest
import serial
import structlog

from frontdesk.config import ConfigError, load_config
from frontdesk.panel.alpha import AlphaSign, sign_text
from frontdesk.panel.frame import Frame
from frontdesk.queue.feed import QueueState
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript
from helpers import wait_for
from panel_helpers import TUESDAY_MORNING, PtyPanel, started_rig
from test_panel import panel_config

ALPHA = 'driver = "alpha"\n'
COLOUR_NAMES = {"1": "red", "2": "green", "3": "amber"}
"""The sign's colour codes (after the select-colour control, 0x1C) used by the driver."""


class SignPacketError(ValueError):
    pass


@dataclass(frozen=True)
class Shown:
    """A write-TEXT-file packet as the sign reads it."""

    type_code: str
    address: str
    label: str
    position: str
    mode: str
    colour: str
    text: str


def parse_packet(packet: bytes) -> Shown:
    """One packet, from its sync NULs to its EOT (included), read as a sign would."""
    sync = len(packet) - len(packet.lstrip(b"\x00"))
    if sync < 5:
        raise SignPacketError(f"{sync} sync NULs, the sign wants at least 5")
    body = packet[sync:]
    if body[:1] != b"\x01" or body[-1:] != b"\x04":
        raise SignPacketError("no SOH ... EOT")
    type_code, address, rest = chr(body[1]), body[2:4].decode("ascii"), body[4:-1]
    if not re.fullmatch(r"[0-9A-F]{2}", address):
        raise SignPacketError(f"address {address!r}")
    if rest[:1] != b"\x02":
        raise SignPacketError("no STX")
    end = rest.find(b"\x03")
    if end >= 0:  # ETX: a checksum follows, over STX .. ETX
        sent = rest[end + 1 :]
        if not re.fullmatch(rb"[0-9A-F]{4}", sent):
            raise SignPacketError(f"checksum {sent!r}")
        total = 0
        for byte in rest[: end + 1]:
            total += byte
        if total % 0x10000 != int(sent, 16):
            raise SignPacketError("bad checksum")
        command = rest[1:end]
    else:
        command = rest[1:]
    if command[:1] != b"A":
        raise SignPacketError(f"command {command[:1]!r} is not 'write TEXT file'")
    label, data = chr(command[1]), command[2:]
    if data[:1] != b"\x1b":
        raise SignPacketError("no ESC before the position and the mode")
    position, mode, text = chr(data[1]), chr(data[2]), data[3:]
    colour = ""
    while text[:1] == b"\x1c":  # select a colour: the next byte is its code
        colour, text = COLOUR_NAMES.get(chr(text[1]), chr(text[1])), text[2:]
    if b"\x1c" in text or any(byte < 0x20 or byte > 0x7E for byte in text):
        raise SignPacketError(f"unexpected bytes in the text {text!r}")
    return Shown(type_code, address, label, position, mode, colour, text.decode("ascii"))


class PtySign(PtyPanel):
    """The sign's side of the line: every packet written to it, parsed."""

    def plug(self) -> None:
        super().plug()
        self.buffer = b""
        self.shown: list[Shown] = []

    def packets(self) -> list[Shown]:
        while data := self.read():
            self.buffer += data
        *complete, self.buffer = self.buffer.split(b"\x04")
        self.shown += [parse_packet(packet + b"\x04") for packet in complete]
        return self.shown

    def shows(self, text: str, colour: str | None = None) -> bool:
        shown = self.packets()
        return bool(shown) and text in shown[-1].text and colour in (None, shown[-1].colour)


@pytest.fixture
def sign(tmp_path: Path) -> Iterator[PtySign]:
    plugged = PtySign(tmp_path / "serial-by-id-sign")
    yield plugged
    plugged.close()


@pytest.fixture
def rig(practice_dir: Path, tmp_path: Path, sign: PtySign) -> Iterator[Rig]:
    extra = ALPHA + "amber_wait = 7200\nred_wait = 7200\n"  # levels by the count only
    with started_rig(panel_config(practice_dir, str(sign.link), extra), tmp_path) as running:
        assert wait_for(lambda: running.daemon.panel.connected)
        yield running


# -- the packets ----------------------------------------------------------------------------


def test_a_state_is_one_checksummed_packet_that_writes_the_text_file_held_still():
    packet = AlphaSign("fr").encode(Frame("S", 7, ("3", "95", "1", "A", "AUTO")))

    shown = parse_packet(packet)

    assert shown == Shown(
        type_code="Z",  # every kind of sign
        address="00",  # every sign on the line
        label="A",
        position="0",  # fill
        mode="b",  # hold
        colour="amber",
        text="3 en attente - max 1 min - 1 libre",
    )


def test_a_damaged_packet_fails_its_checksum():
    packet = bytearray(AlphaSign("en").encode(Frame("S", 1, ("1", "5", "2", "G", "AUTO"))))
    packet[packet.index(b"waiting")] ^= 0x01

    with pytest.raises(SignPacketError, match="bad checksum"):
        parse_packet(bytes(packet))


def test_only_state_frames_reach_the_sign():
    driver = AlphaSign("fr")

    assert driver.encode(Frame("V", 0, ("1", "frontdesk"))) == b""
    assert driver.encode(Frame("H", 1)) == b""


@pytest.mark.parametrize(
    ("language", "fields", "text"),
    [
        ("fr", ("0", "0", "3", "G", "AUTO"), "0 en attente - 3 libres"),
        (
            "fr",
            ("2", "45", "0", "A", "LUNCH"),
            "PAUSE DÉJEUNER - 2 en attente - max <1 min - 0 libre",
        ),
        ("fr", ("5", "240", "1", "R", "CLOSED"), "FERMÉ - 5 en attente - max 4 min - 1 libre"),
        ("en", ("1", "61", "2", "A", "OPEN"), "OPEN - 1 waiting - max 1 min - 2 free"),
        ("en", ("0", "0", "1", "G", "LUNCH"), "LUNCH BREAK - 0 waiting - 1 free"),
    ],
)
def test_the_text_is_in_the_practice_language(language, fields, text):
    assert sign_text(fields, language) == text


def test_accents_are_dropped_on_the_sign():
    shown = parse_packet(AlphaSign("fr").encode(Frame("S", 1, ("0", "0", "1", "R", "CLOSED"))))

    assert (shown.text, shown.colour) == ("FERME - 0 en attente - 1 libre", "red")


# -- the daemon and the sign ------------------------------------------------------------------


def test_a_caller_entering_the_queue_shows_on_the_sign_within_a_second_in_amber(rig, sign):
    for phone in rig.sim.phones.values():
        phone.answer_after = None
    feed = rig.daemon.queue.feed
    assert wait_for(lambda: sign.shows("0 en attente", "green"), timeout=1)

    call = rig.place(CallerScript(keys=("0",), patience=150), at=TUESDAY_MORNING)
    assert wait_for(lambda: feed.last is not None and feed.last.waiting == 1, timeout=5)

    assert wait_for(lambda: sign.shows("1 en attente", "amber"), timeout=1)
    call.wait_done(10)
    assert wait_for(lambda: sign.shows("0 en attente", "green"), timeout=1)


def test_a_reload_that_changes_the_practice_language_changes_the_words_on_the_sign(
    practice_dir, tmp_path, sign
):
    # 8N1: the kernel refuses to set a pseudo-terminal to 7E1 a second time
    extra = ALPHA + 'bytesize = 8\nparity = "N"\n'
    path = panel_config(practice_dir, str(sign.link), extra)
    with started_rig(path, tmp_path) as rig:
        assert wait_for(lambda: sign.shows("0 en attente"), timeout=2)
        text = path.read_text()
        assert '\nlanguage = "fr"\n' in text
        path.write_text(text.replace('\nlanguage = "fr"\n', '\nlanguage = "en"\n', 1))
        rig.daemon.config_path = path

        assert rig.daemon.reload()

        assert wait_for(lambda: sign.shows("0 waiting"), timeout=5)


def test_a_port_that_refuses_its_line_settings_is_reported_once_and_tried_again(
    practice_dir, tmp_path, sign
):
    # the kernel sets a pseudo-terminal to 7E1 only once: the daemon's open then fails in
    # termios, outside pyserial's own exceptions
    serial.serial_for_url(sign.device, bytesize=7, parity="E").close()
    path = panel_config(practice_dir, str(sign.link), ALPHA)
    with structlog.testing.capture_logs() as logs, started_rig(path, tmp_path) as rig:
        assert wait_for(lambda: [e for e in logs if e["event"] == "panel.unavailable"])
        gevent.sleep(1.0)  # a few more tries
        assert rig.daemon.panel.running and not rig.daemon.panel.connected

    [unavailable] = [e for e in logs if e["event"] == "panel.unavailable"]
    assert "Invalid argument" in unavailable["error"]


def test_a_burst_of_queue_changes_is_coalesced_into_a_few_writes(rig, sign):
    feed = rig.daemon.queue.feed
    assert wait_for(lambda: sign.shows("0 en attente"), timeout=1)
    before = len(sign.packets())

    for waiting in range(1, 41):
        feed.publish(QueueState(waiting, 0, 5.0, 0, 3, 3))

    assert wait_for(lambda: sign.shows("40 en attente", "red"), timeout=1)
    assert len(sign.packets()) - before <= 3


def test_an_unchanged_state_is_written_again_for_a_sign_switched_off_and_on(rig, sign):
    rig.daemon.panel.driver.refresh_seconds = 0.5  # 30 s in service
    steady = f"0 en attente - {len(rig.daemon.queue.board.phones)} libres"  # every phone up
    assert wait_for(lambda: sign.shows(steady), timeout=2)
    first = len(sign.packets())

    with structlog.testing.capture_logs() as logs:
        sign.write(b"\x06\x15 what a sign may say back\n")  # ignored: it is never read
        assert wait_for(lambda: len(sign.packets()) >= first + 4, timeout=5)

    assert {shown.text for shown in sign.packets()[first - 1 :]} == {steady}
    assert [e for e in logs if e["log_level"] == "warning"] == []  # no "silent", no "garbage"


def test_an_unplugged_sign_is_warned_about_once_and_shows_the_current_state_when_replugged(
    rig, sign
):
    with structlog.testing.capture_logs() as logs:
        sign.unplug()
        assert wait_for(lambda: not rig.daemon.panel.connected, timeout=2)
        rig.daemon.store.set_override("lunch", until=None, set_by="test")
        rig.daemon.queue.feed.publish(QueueState(2, 0, 30.0, 1, 3, 2))
        sign.plug()
        assert wait_for(lambda: rig.daemon.panel.connected, timeout=10)

    assert wait_for(lambda: sign.shows("PAUSE DEJEUNER - 2 en attente", "amber"), timeout=1)
    warnings = [e for e in logs if e["log_level"] == "warning" and e["event"].startswith("panel")]
    assert [e["event"] for e in warnings] == ["panel.lost"]


# -- the config and `frontdesk panel test` ----------------------------------------------------


def test_an_unknown_driver_is_named_with_the_file_line_and_key(practice_dir):
    path = panel_config(practice_dir, "/dev/ttyUSB0", 'driver = "betabrite"\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    line = path.read_text().split("\n").index('driver = "betabrite"') + 1
    assert f"frontdesk.toml:{line}: panel.driver: must be one of" in caught.value.errors[0]
    assert "'alpha'" in caught.value.errors[0]


def test_an_alpha_sign_line_is_7_bits_even_parity_unless_the_config_says_otherwise(practice_dir):
    path = panel_config(practice_dir, "/dev/ttyUSB0", ALPHA)
    panel = load_config(path).panel
    assert (panel.driver, panel.bytesize, panel.parity) == ("alpha", 7, "E")

    path.write_text(path.read_text().replace(ALPHA, ALPHA + 'bytesize = 8\nparity = "N"\n'))
    panel = load_config(path).panel
    assert (panel.bytesize, panel.parity) == (8, "N")


def test_panel_test_shows_every_level_and_mode_on_the_sign_in_english(practice_dir, sign, capsys):
    from frontdesk.cli import main

    path = panel_config(practice_dir, str(sign.link), ALPHA)
    path.write_text(path.read_text().replace('language = "fr"', 'language = "en"', 1))

    assert main(["panel", "test", "--config", str(path), "--pause", "0"]) == 0

    shown = sign.packets()
    assert [s.colour for s in shown] == ["green", "amber", "amber", "red"] + ["green"] * 3
    assert [s.text.split(" - ")[0] for s in shown[4:]] == ["OPEN", "LUNCH BREAK", "CLOSED"]
    assert shown[3].text == "5 waiting - max 4 min - 0 free"
    assert "level red" in capsys.readouterr().out
