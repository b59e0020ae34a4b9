"""A daemon stop or restart, in process: the real daemon against the simulator, which behaves
as FreeSWITCH did when the daemon's socket closed (docs/internals.md, "What a real FreeSWITCH did").

A conversation with the desk goes on without the daemon and either side may end it, nobody
left in silence; the next daemon adopts it and records its real end. Callers in a menu or on
hold go to FreeSWITCH's static fallback, and their records say the daemon lost them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest
import structlog.testing

from frontdesk.config.model import Config
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall
from helpers import wait_for

TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
TO_THE_DESK = ("0",)


@pytest.fixture
def rig(practice: Config, tmp_path: Path) -> Iterator[Rig]:
    with Rig(practice, tmp_path) as running:
        for phone in running.sim.phones.values():
            phone.talk_seconds = 6000  # the tests end the conversations themselves
        assert running.daemon.control.wait_connected(5)
        yield running


def hang_up(rig: Rig, uuid: str) -> None:
    """A phone's BYE: that side of the call hangs up (`uuid_kill` on FreeSWITCH)."""
    reply, after = rig.sim.api(f"uuid_kill {uuid}")
    assert reply == "+OK\n"
    assert after is not None
    after()


def staff_leg(rig: Rig, call: SimCall) -> str:
    (leg,) = [ch.uuid for ch in rig.sim.channels.values() if ch.other is not None
              and ch.other.uuid == call.uuid]
    return leg


def talking(rig: Rig, call: SimCall) -> bool:
    """The daemon knows the caller is talking with the staff."""
    live = rig.daemon.live_calls.get(call.uuid)
    return live is not None and live.flow.talking


def restart(rig: Rig) -> None:
    """Stop the daemon (as SIGTERM does) and start another on the same database.
    (`daemon.stopped` and its counts are checked on the real process, test_daemon_process.)"""
    assert rig.restart_daemon(grace=0.1).control.wait_connected(5)


@pytest.mark.parametrize("first", ["staff", "caller"])
def test_a_conversation_survives_a_stop_and_the_next_daemon_records_its_end(
    rig: Rig, first: str
) -> None:
    call = rig.place(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: talking(rig, call))
    leg = staff_leg(rig, call)

    restart(rig)

    assert rig.wait_for(lambda: call.uuid in rig.daemon._adopted)
    assert not call.done.is_set(), "the conversation goes on"
    assert rig.daemon.store.get_call(call.uuid)["ended_at"] is None
    hang_up(rig, leg if first == "staff" else call.uuid)

    assert call.wait_done(5)
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert not call.fallback_ran, "hung up after the conversation: no silence, no fallback"
    assert rig.wait_for(lambda: rig.daemon.store.get_call(call.uuid)["ended_at"] is not None)
    row = rig.daemon.store.get_call(call.uuid)
    assert (row["outcome"], row["answered_by"], row["interrupted"]) == ("answered", "1001", False)
    assert row["hangup_cause"] == "NORMAL_CLEARING"
    assert row["answered_at"] is not None
    assert [(s["node"], s["event"]) for s in row["path"]][-1] == ("desk", "answered")
    assert rig.wait_for(lambda: rig.daemon.queue.board.phones["1001"].state in ("idle", "wrapup"))


def test_an_adopted_conversation_is_reported_finished_only_once_its_record_is_written(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a call of this run (`RECORD_WAIT`): whoever reads the record after `call.finished`
    (a technician, a script watching the journal) finds the call's end in it, even when the
    database could not take the write at once (a technician's sqlite3 shell in a write)."""
    monkeypatch.setattr("frontdesk.store.BUSY_TIMEOUT_MS", 60_000)  # the write waits for it
    call = rig.place(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: talking(rig, call))
    leg = staff_leg(rig, call)
    restart(rig)
    assert rig.wait_for(lambda: call.uuid in rig.daemon._adopted)
    shell = sqlite3.connect(rig.daemon.store.path, isolation_level=None)
    shell.execute("BEGIN IMMEDIATE")

    with structlog.testing.capture_logs() as logs:
        hang_up(rig, leg)
        # real time: simulated time stands still while the daemon waits for its database
        assert wait_for(lambda: call.uuid not in rig.daemon._adopted)
        gevent.sleep(0)  # the greenlet that records the end runs until it waits
        finished = [e for e in logs if e["event"] == "call.finished"]
        assert finished == [], "reported finished while its record cannot be written"
        shell.execute("ROLLBACK")
        # the database's own thread, in real time
        assert wait_for(lambda: any(e["event"] == "call.finished" for e in logs), timeout=15)
        row = shell.execute("SELECT outcome FROM calls WHERE uuid = ?", (call.uuid,)).fetchone()
    shell.close()

    assert row == ("answered",)


def test_callers_in_a_menu_or_on_hold_at_a_stop_go_to_the_fallback_and_only_they_are_cut(
    rig: Rig,
) -> None:
    for phone in rig.sim.phones.values():
        phone.answer_after = None  # the desk rings, nobody answers
    in_menu = rig.place(CallerScript(keys=("",) * 10), at=TUESDAY_MORNING)
    on_hold = rig.place(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: on_hold.uuid in rig.daemon.queue.waiting)
    assert rig.wait_for(lambda: in_menu.prompts_heard)

    restart(rig)

    for call in (in_menu, on_hold):
        assert call.wait_done(5)
        assert call.fallback_ran
        row = rig.daemon.store.get_call(call.uuid)
        assert (row["outcome"], row["interrupted"]) == ("interrupted", True)
        assert row["path"][0]["node"] == "greeting"
    assert rig.daemon.store.get_call(on_hold.uuid)["reason"] == "speak_to_someone"


def test_a_caller_left_without_a_controller_is_sent_on_by_the_next_daemon(rig: Rig) -> None:
    """A caller left in silence (socket_resume=false, the socket gone; frontdesk_talked set
    for a transfer that was still ringing) is found at start and gets the static fallback."""
    call = rig.place(CallerScript(keys=("",) * 10), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: call.prompts_heard)
    reply, _ = rig.sim.api(
        f"uuid_setvar_multi {call.uuid} socket_resume=false;frontdesk_talked=true"
    )
    assert reply == "+OK"

    restart(rig)

    assert call.wait_done(5)
    assert call.fallback_ran, "not hung up: the caller never talked with anyone"
    row = rig.daemon.store.get_call(call.uuid)
    assert (row["outcome"], row["interrupted"]) == ("interrupted", True)
