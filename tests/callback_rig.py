"""The rig of the callback tests (test_callbacks, test_call_now): the example practice with
callbacks on, its desk phones registered or not, callers placed on a Tuesday morning."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from frontdesk.config import load_config
from frontdesk.queue.callbacks import missed_patients
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall
from frontdesk.store import MissedCall
from helpers import set_in_section

TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
BUSY = "0639980101"
PATIENT = "0639982222"
BEHIND = "0639983333"
QUEUE = {
    "callback_key": "5",
    "callback_prompt": "callback",
    "callback_thanks_prompt": "goodbye",
    "callback_retries": 1,
    "callback_retry_seconds": 60,
    "missed_after": 30,
    "call_back_missed": False,
}
"""The [queue] settings of the callback tests (missed patients are listed, not called back)."""
ASKS_CALLBACK = CallerScript(keys=("0", "1"), hold_key="5", hold_key_after=20)
"""To the desk, then on hold presses 5 and confirms their caller id with 1."""


@contextmanager
def desk_phones(
    practice_dir: Path, tmp_path: Path, queue: dict, registered: tuple[str, ...] = ("1001",)
) -> Iterator[Rig]:
    """The example practice with `queue` in [queue]; of its desk phones only `registered` are
    registered (1001, the one the queue rings, by default)."""
    path = practice_dir / "frontdesk.toml"
    text = path.read_text()
    text = set_in_section(text, "queue", queue)
    path.write_text(text)
    with Rig(load_config(path), tmp_path) as running:
        assert running.daemon.control.wait_connected(5)
        for ext, phone in running.sim.phones.items():
            phone.talk_seconds = 600
            if ext not in registered:
                running.sim.set_registered(ext, False)
        board = running.daemon.queue.board
        assert running.wait_for(lambda: [p.ext for p in board.phones.values() if p.registered]
                                == list(registered))
        running.moment = TUESDAY_MORNING
        yield running


def callers_waiting(rig: Rig) -> list[str]:
    return [entry.caller_number for entry in rig.daemon.queue.waiting.values()]


def busy_desk(rig: Rig) -> SimCall:
    """A caller on the line with 1001 until `hang_up(call)`."""
    call = rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING,
                     caller_number=BUSY)
    assert rig.wait_for(lambda: call.bridged_to is not None)
    return call


def missed_while_busy(rig: Rig) -> tuple[SimCall, SimCall, MissedCall]:
    """1001 busy with a caller; the patient waited 70 s in the queue and hung up: (the busy
    caller, the patient's call, how the staff's missed list shows it)."""
    busy = busy_desk(rig)
    missed = rig.place(CallerScript(keys=("0",), patience=70), at=TUESDAY_MORNING,
                       caller_number=PATIENT)
    assert missed.wait_done(10)
    store = rig.daemon.store
    assert rig.wait_for(lambda: missed_patients(store, TUESDAY_MORNING, missed_after=30) != [])
    [listed] = missed_patients(store, TUESDAY_MORNING, missed_after=30)
    return busy, missed, listed


def hang_up(rig: Rig, call: SimCall) -> None:
    rig.sim.channels[call.uuid].mark_hangup("NORMAL_CLEARING")
    assert call.wait_done(5)


def events(rig: Rig, call: SimCall) -> list[str]:
    return [e["event"] for e in rig.daemon.store.queue_events(call.uuid)
            if e["event"] != "announced"]


def requested(rig: Rig, call: SimCall) -> Callable[[], bool]:
    return lambda: "callback_requested" in events(rig, call) and call.done.is_set()


class Leg(NamedTuple):
    """A call event FreeSWITCH sent the daemon about a leg."""

    event: str
    channel: str
    uuid: str
    name: str
    """The caller id name the leg shows (on a desk phone: who is calling)."""
    number: str


def control_log(rig: Rig) -> list[Leg]:
    """The CHANNEL_CREATE and CHANNEL_ANSWER events FreeSWITCH sends the daemon from now on."""
    seen: list[Leg] = []

    def hook(kind: str, frame: bytes) -> None:
        if kind != "inbound":
            return
        headers = dict(
            line.split(": ", 1) for line in frame.decode().splitlines() if ": " in line
        )
        name = headers.get("Event-Name", "")
        if name in ("CHANNEL_CREATE", "CHANNEL_ANSWER"):
            seen.append(Leg(name, unquote(headers.get("Channel-Name", "")),
                            headers.get("Unique-ID", ""),
                            unquote(headers.get("Caller-Caller-ID-Name", "")),
                            unquote(headers.get("Caller-Caller-ID-Number", ""))))

    rig.sim.frame_hook = hook
    return seen
