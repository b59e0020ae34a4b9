"""Calls FreeSWITCH's static fallback took, and messages left on disk: the staff see them all.

The real daemon against the simulator, whose static fallback runs the shipped dialplan's
actions (ring the desk phones, prompt, a message recorded with the caller's number in it).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config.model import Config
from frontdesk.inbox import InboxItem, inbox
from frontdesk.messages import MAX_TEXT_CHARS, SCAN_EVERY, read_wav_info
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall
from frontdesk.sim._wav import wav_bytes
from frontdesk.store import Store
from helpers import settled, wait_for

NOBODY = "1999"
"""A desk phone nobody registered: the fallback's ring-all fails at once, then the message."""
NUMBER = "0639981234"
UUID = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def messages(rig: Rig) -> Path:
    directory = rig.daemon.config.storage.messages
    directory.mkdir(parents=True, exist_ok=True)
    rig.sim.fallback_extensions = [NOBODY]
    rig.sim.fallback_messages = str(directory)
    return directory


def fallback_call(rig: Rig, number: str = NUMBER) -> SimCall:
    call = rig.sim.place_call(CallerScript(message_seconds=5.0), caller_number=number)
    assert call.wait_done(10)
    assert call.fallback_ran
    return call


def stored(rig: Rig, uuid: str) -> dict | None:
    assert rig.daemon.store is not None
    return rig.daemon.store.get_call(uuid)


def staff_inbox(rig: Rig) -> list[InboxItem]:
    """What `frontdesk messages` lists, the daemon running or not."""
    config = rig.daemon.config
    with Store(config.storage.database) as store:
        return inbox(store, config.storage.messages)


def test_a_call_taken_by_the_fallback_while_the_daemon_was_down_is_recorded_at_start(
    rig: Rig, messages: Path
) -> None:
    rig.daemon.stop(grace=0.1)
    call = fallback_call(rig)
    assert call.daemon_unreachable
    (message,) = messages.iterdir()
    settled(message)
    (waiting,) = staff_inbox(rig)  # the daemon down: the staff see it all the same
    assert (waiting.call_uuid, waiting.caller_number, waiting.reason) == (
        call.uuid, NUMBER, "fallback")

    rig.restart_daemon()

    assert wait_for(lambda: stored(rig, call.uuid) is not None)
    row = stored(rig, call.uuid)
    assert row["caller_number"] == NUMBER
    assert row["outcome"] == "fallback" and row["reason"] == "fallback"
    assert row["message_file"] == str(message)
    assert row["started_at"] <= row["ended_at"]
    assert rig.daemon.messages.scan() == 0, "a file already linked is never added twice"
    assert [c["uuid"] for c in rig.daemon.store.calls()] == [call.uuid]
    (item,) = staff_inbox(rig)
    assert (item.ref, item.file, item.caller_number, item.reason, item.seconds) == (
        waiting.ref, message, NUMBER, "fallback", 5.0)


def test_a_fallback_message_left_while_the_daemon_runs_is_picked_up_by_its_next_scan(
    rig: Rig, messages: Path
) -> None:
    """Missed as the call ended (the control connection was down then, say): the scan that
    comes every minute records it."""
    path = messages / f"fallback-20261127-091502-{UUID}.wav"
    path.write_bytes(wav_bytes(5 * 8000, {"RECORD_ARTIST": NUMBER}))
    settled(path)

    assert rig.wait_for(lambda: stored(rig, UUID) is not None, timeout=2 * SCAN_EVERY)
    assert stored(rig, UUID)["message_file"] == str(path)
    (item,) = staff_inbox(rig)
    assert (item.call_uuid, item.caller_number, item.reason) == (UUID, NUMBER, "fallback")


def test_the_fallback_message_of_a_call_the_daemon_had_taken_is_listed_once(
    practice: Config, tmp_path: Path
) -> None:
    """The daemon answered, then failed the call (FreeSWITCH stuck in a playback): the
    fallback took the caller, who left a message. The call keeps its one row and its one
    item in the inbox."""
    config = replace(practice, freeswitch=replace(practice.freeswitch, application_timeout=5))
    with Rig(config, tmp_path) as rig:
        directory = rig.daemon.config.storage.messages
        directory.mkdir(parents=True, exist_ok=True)
        rig.sim.fallback_extensions = [NOBODY]
        rig.sim.fallback_messages = str(directory)
        call, result = rig.call(
            CallerScript(keys=("4",), stuck_app="playback", message_seconds=5.0),
            caller_number=NUMBER,
        )
        assert result is not None and result.outcome == "failed" and call.fallback_ran
        (message,) = directory.iterdir()
        settled(message)
        assert [item.file for item in staff_inbox(rig)] == [message]

        assert rig.wait_for(lambda: stored(rig, call.uuid)["message_file"] is not None,
                            timeout=2 * SCAN_EVERY)
        row = stored(rig, call.uuid)
        assert (row["message_file"], row["outcome"]) == (str(message), "failed")
        assert [c["uuid"] for c in rig.daemon.store.calls()] == [call.uuid]
        (item,) = staff_inbox(rig)
        assert (item.call_uuid, item.file, item.caller_number) == (call.uuid, message, NUMBER)


def test_a_prescription_message_of_a_call_the_daemon_lost_while_recording_is_in_the_inbox(
    rig: Rig,
) -> None:
    """The daemon stopped while the caller spoke: FreeSWITCH finished the record (its row
    has no message yet); the staff see it at once, then on the row the next daemon links."""
    directory = rig.daemon.config.storage.messages
    directory.mkdir(parents=True, exist_ok=True)
    call = rig.place(CallerScript(keys=("3", "1"), message_seconds=20.0),
                     caller_number=NUMBER, at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: call.recorded)
    rig.daemon.stop(grace=0.1)
    assert call.wait_done(10)
    message = settled(directory / f"{call.uuid}.wav")

    (item,) = staff_inbox(rig)
    assert (item.call_uuid, item.file, item.reason, item.caller_number) == (
        call.uuid, message, "prescription", NUMBER)

    rig.restart_daemon()
    assert wait_for(lambda: stored(rig, call.uuid)["message_file"] == str(message))
    (item,) = staff_inbox(rig)
    assert (item.call_uuid, item.reason, item.outcome) == (call.uuid, "prescription",
                                                          "interrupted")


def test_a_call_refused_while_running_that_ran_the_fallback_gets_a_row(
    rig: Rig, messages: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rig.daemon.control.wait_connected(5)
    monkeypatch.setattr(rig.daemon.server, "_max_calls", 0)  # the daemon is full

    call = fallback_call(rig)
    assert call.daemon_closed_midcall, "refused: the daemon closed the socket at once"

    assert wait_for(lambda: stored(rig, call.uuid) is not None)
    row = stored(rig, call.uuid)
    (message,) = messages.iterdir()
    assert row["caller_number"] == NUMBER
    assert row["outcome"] == "fallback" and row["reason"] == "fallback"
    assert row["message_file"] == str(message), "linked as the call ends, not a scan later"
    assert row["hangup_cause"] == "NORMAL_CLEARING"
    assert row["answered_at"] is not None and row["ended_at"] >= row["answered_at"]
    assert [c["uuid"] for c in rig.daemon.store.calls()] == [call.uuid]


def test_a_refused_feature_code_is_no_patients_call(
    rig: Rig, messages: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rig.daemon.control.wait_connected(5)
    monkeypatch.setattr(rig.daemon.server, "_max_calls", 0)
    staff = rig.place(CallerScript(message_seconds=5.0), caller_number="1001", destination="*50")
    assert staff.wait_done(10)

    patient = fallback_call(rig)  # its record comes after the feature call's hang-up

    assert wait_for(lambda: stored(rig, patient.uuid) is not None)
    assert stored(rig, staff.uuid) is None


def test_calls_the_daemon_served_keep_their_own_record(rig: Rig, messages: Path) -> None:
    assert rig.daemon.control.wait_connected(5)
    call, result = rig.call(CallerScript(keys=("4",)))

    assert result is not None
    assert wait_for(lambda: stored(rig, call.uuid)["ended_at"] is not None)
    assert stored(rig, call.uuid)["outcome"] == result.outcome != "fallback"
    assert [c["uuid"] for c in rig.daemon.store.calls()] == [call.uuid]


def test_a_fallback_message_still_being_recorded_is_picked_up_by_a_later_scan(
    rig: Rig, messages: Path
) -> None:
    fresh = messages / f"fallback-20261127-091502-{UUID}.wav"
    fresh.write_bytes(wav_bytes(5 * 8000, {"RECORD_ARTIST": NUMBER}))

    assert rig.daemon.messages.scan() == 0
    assert stored(rig, UUID) is None
    settled(fresh)
    assert rig.daemon.messages.scan() == 1

    row = stored(rig, UUID)
    assert row["caller_number"] == NUMBER and row["message_file"] == str(fresh)


def riff(*chunks: bytes, declared: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + (len(body) if declared is None else declared).to_bytes(4, "little") + body


def chunk(name: bytes, payload: bytes, declared: int | None = None) -> bytes:
    size = len(payload) if declared is None else declared
    return name + size.to_bytes(4, "little") + payload + (b"\0" if len(payload) % 2 else b"")


def info(*tags: tuple[bytes, bytes]) -> bytes:
    return chunk(b"LIST", b"INFO" + b"".join(chunk(tag, value) for tag, value in tags))


FMT = wav_bytes(0, {})[12:36]
AUDIO = chunk(b"data", b"\0\0" * 16000)

HOSTILE = {
    "escape sequences": (riff(FMT, info((b"IART", b"\x1b[2J\x1b]0;owned\x07063998\n1234\0")),
                              AUDIO), "[2J]0;owned0639981234"),
    "no INFO at all": (riff(FMT, AUDIO), ""),
    "a LIST claiming 4 GB": (riff(FMT, chunk(b"LIST", b"INFO", declared=0xFFFFFFFF), AUDIO), ""),
    "a tag claiming 4 GB": (riff(FMT, chunk(b"LIST", b"INFOIART\xff\xff\xff\xff0639"), AUDIO),
                            "0639"),
    "a 100 kB INFO list": (riff(FMT, info((b"IART", b"9" * 100_000)), AUDIO), ""),
    "a long number": (riff(FMT, info((b"IART", b"9" * 1000)), AUDIO), "9" * MAX_TEXT_CHARS),
    "a data chunk claiming 4 GB": (riff(FMT, chunk(b"data", b"\0" * 10, declared=0xFFFFFFFF),
                                        info((b"IART", NUMBER.encode()))), ""),
    "thousands of empty chunks": (riff(FMT, chunk(b"junk", b"") * 5000,
                                       info((b"IART", NUMBER.encode()))), ""),
    "not a WAV": (b"#!/bin/sh\nrm -rf /\n" * 10, ""),
    "an empty file": (b"", ""),
    "invalid UTF-8": (riff(FMT, info((b"IART", b"06\xff\xfe39")), AUDIO), "06\ufffd\ufffd39"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_message_file_with_hostile_metadata_is_read_safely(tmp_path: Path, case: str) -> None:
    data, number = HOSTILE[case]
    path = tmp_path / "message.wav"
    path.write_bytes(data)

    assert read_wav_info(path).artist == number


def test_the_daemon_records_fallback_files_with_hostile_metadata_without_harm(
    rig: Rig, messages: Path
) -> None:
    uuids = []
    for index, (data, _) in enumerate(HOSTILE.values()):
        uuid = f"{UUID[:-4]}{index:04d}"
        (messages / f"fallback-20261127-0915{index:02d}-{uuid}.wav").write_bytes(data)
        uuids.append(uuid)
    for path in messages.iterdir():
        settled(path)

    rig.daemon.messages.scan()

    rows = [stored(rig, uuid) for uuid in uuids]
    assert all(row is not None and row["outcome"] == "fallback" for row in rows)
    assert all(row["caller_number"].isprintable() for row in rows)
    assert all(len(row["caller_number"]) <= MAX_TEXT_CHARS for row in rows)


def test_a_fallback_file_named_without_a_readable_time_is_dated_by_its_file(
    rig: Rig, messages: Path
) -> None:
    path = messages / f"fallback-{UUID}.wav"
    path.write_bytes(wav_bytes(5 * 8000, {"RECORD_ARTIST": NUMBER}))
    settled(path)

    assert rig.daemon.messages.scan() == 1

    row = stored(rig, UUID)
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    assert abs(row["started_at"] - written) < timedelta(seconds=1)
    assert row["started_at"] == row["ended_at"] and row["message_file"] == str(path)


def test_a_message_the_flow_records_carries_the_callers_number_and_reason(rig: Rig) -> None:
    """As the static fallback's do (RECORD_ARTIST, RECORD_COMMENT): the file alone tells who
    called and why, should the call's row be lost."""
    directory = rig.daemon.config.storage.messages
    directory.mkdir(parents=True, exist_ok=True)
    call, result = rig.call(CallerScript(keys=("3", "1"), message_seconds=5.0),
                            caller_number="+33 6 39/98,12{34}", at=TUESDAY_MORNING)

    assert result is not None and result.outcome == "message"
    info = read_wav_info(directory / f"{call.uuid}.wav")
    assert (info.artist, info.comment) == ("+33639981234", "prescription")
