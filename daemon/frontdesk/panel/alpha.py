"""An LED message sign of the Alpha family (Alpha, BetaBrite and their kin, sold as call-centre
wallboards) as the desk panel, written to in the Alpha Sign Communications Protocol.

The sign has no buttons and never answers here: it shows one line — the override in force,
callers waiting, the longest wait (to the minute, so the text changes seldom) and the staff
free — in green, amber or red, in the practice's language. Each state is one packet that
writes the sign's TEXT file `A` (the file a sign shows out of the box), held still, with a
checksum so that a damaged packet is dropped by the sign rather than shown:

    NUL×5  SOH  type 'Z' (every kind of sign)  address "00" (every sign on the line)
    STX  'A' (write TEXT file)  label 'A'  ESC  position '0' (fill)  mode 'b' (hold)
    0x1C + colour ('1' red, '2' green, '3' amber)  the text
    ETX  checksum (4 upper-case hex digits: the 16-bit sum of the bytes from STX to ETX)  EOT

The text is plain ASCII (accents are dropped: signs of the family have no common code page
for them, and a line set to 7 data bits, their factory setting, carries nothing else)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from frontdesk.panel.frame import Frame

SYNC = b"\x00" * 5
"""NULs before each packet: the sign finds the speed of the line from them."""
SOH, STX, ETX, EOT, ESC = b"\x01", b"\x02", b"\x03", b"\x04", b"\x1b"
EVERY_SIGN_TYPE = b"Z"
BROADCAST = b"00"
WRITE_TEXT = b"A"
TEXT_FILE = b"A"
FILL = b"0"
HOLD = b"b"
SELECT_COLOUR = b"\x1c"
COLOURS = {"G": b"2", "A": b"3", "R": b"1"}
"""Our levels -> the sign's colour codes: green, amber, red."""
REFRESH_SECONDS = 30.0
"""The same text is written again this often, for a sign that was switched off and on."""

@dataclass(frozen=True)
class Words:
    """The sign's words in one language; each phrase has a `{}` for its number."""

    modes: dict[str, str]
    """Override modes (frame.MODES) named on the sign; AUTO is not named."""
    waiting: str
    longest: str
    free: tuple[str, str]
    """For at most one person free, and for several."""


WORDS = {
    "fr": Words(
        modes={"OPEN": "OUVERT", "LUNCH": "PAUSE DÉJEUNER", "CLOSED": "FERMÉ"},
        waiting="{} en attente",
        longest="max {}",
        free=("{} libre", "{} libres"),
    ),
    "en": Words(
        modes={"OPEN": "OPEN", "LUNCH": "LUNCH BREAK", "CLOSED": "CLOSED"},
        waiting="{} waiting",
        longest="max {}",
        free=("{} free", "{} free"),
    ),
}


def sign_text(fields: tuple[str, ...], language: str) -> str:
    """The line shown for the fields of a state frame (frame.state_fields), e.g.
    "PAUSE DÉJEUNER - 3 en attente - max 2 min - 1 libre"."""
    waiting, longest, available, _, mode = fields
    words = WORDS.get(language, WORDS["en"])
    parts = [words.modes[mode]] if mode in words.modes else []
    parts.append(words.waiting.format(waiting))
    if int(waiting):
        minutes = int(longest) // 60
        parts.append(words.longest.format(f"{minutes} min" if minutes else "<1 min"))
    parts.append(words.free[int(available) > 1].format(available))
    return " - ".join(parts)


def ascii_text(text: str) -> bytes:
    """`text` in printable ASCII: accents dropped, anything else left out."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
    return bytes(byte for byte in plain if 0x20 <= byte < 0x7F)


def write_text_packet(text: bytes, colour: bytes) -> bytes:
    """One whole packet that writes `text` in `colour` to the TEXT file, held still."""
    command = STX + WRITE_TEXT + TEXT_FILE + ESC + FILL + HOLD + SELECT_COLOUR + colour + text
    command += ETX
    checksum = b"%04X" % (sum(command) & 0xFFFF)
    return SYNC + SOH + EVERY_SIGN_TYPE + BROADCAST + command + checksum + EOT


class AlphaSign:
    """The `alpha` driver (see frontdesk.panel.drivers): only state frames reach the sign."""

    name = "alpha"
    listens = False
    refresh_seconds = REFRESH_SECONDS

    def __init__(self, language: str) -> None:
        self.language = language

    def view(self, fields: tuple[str, ...]) -> bytes:
        return self.encode(Frame("S", 0, fields))

    def encode(self, frame: Frame) -> bytes:
        if frame.kind != "S":
            return b""  # hello, heartbeat: nothing the sign would understand
        text = ascii_text(sign_text(frame.fields, self.language))
        return write_text_packet(text, COLOURS[frame.fields[3]])
