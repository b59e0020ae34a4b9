"""The staff's inbox: every message a caller left and every booking request, with done marks.

Store-level tests for what is stored; the `frontdesk messages` command for what the staff see.
"""

from __future__ import annotations

import getpass
import json
import shutil
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import frontdesk.store
from frontdesk.agenda import BookingRequest
from frontdesk.cli import main
from frontdesk.config import load_config
from frontdesk.sim._wav import wav_bytes
from frontdesk.store import MIGRATIONS, Store, StoreUnavailable, m011_inbox
from helpers import settled

T0 = datetime(2026, 12, 7, 9, 15, tzinfo=UTC)
CALL = "a1b2c3d4-0000-4000-8000-000000000001"

REQUEST = BookingRequest(
    kind="consultation",
    practitioner="martin",
    preferred_days=(1, 3),
    preferred_times="morning",
    callback_number="0639981234",
    call_uuid=CALL,
    patient_id=7,
    action="move",
    appointment_id="42",
    details={"note": "après 10 h", "spoken": "mardi"},
)


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "frontdesk.db") as opened:
        yield opened


def test_a_booking_request_is_stored_with_every_field_and_read_back(store: Store) -> None:
    request_id = store.booking_request(REQUEST, at=T0)

    (filed,) = store.booking_requests()
    assert filed.id == request_id
    assert filed.request == REQUEST
    assert filed.created_at == T0
    assert (filed.done_at, filed.done_by) == (None, None)
    assert store.get_booking_request(request_id) == filed


def test_booking_requests_are_listed_newest_first_and_the_first_available_stays_none(
    store: Store,
) -> None:
    any_doctor = BookingRequest(kind="consultation", practitioner=None)
    older = store.booking_request(any_doctor, at=T0)
    newer = store.booking_request(REQUEST, at=T0 + timedelta(minutes=5))

    assert [filed.id for filed in store.booking_requests()] == [newer, older]
    assert store.get_booking_request(older).request == any_doctor


@pytest.mark.parametrize(
    "wrong",
    [{"action": "postpone"}, {"preferred_times": "evening"}, {"preferred_days": (7,)}],
)
def test_a_booking_request_with_a_value_nobody_can_act_on_is_refused(
    store: Store, wrong: dict
) -> None:
    with pytest.raises(ValueError):
        store.booking_request(BookingRequest(kind="consultation", practitioner=None, **wrong),
                              at=T0)
    assert store.booking_requests() == []


def test_a_booking_request_the_database_cannot_take_is_not_reported_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frontdesk.store, "BUSY_TIMEOUT_MS", 100)  # the lock is not let go
    path = tmp_path / "frontdesk.db"
    with Store(path) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreUnavailable):
                store.booking_request(REQUEST, at=T0)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.booking_requests() == []


def test_the_inbox_migration_keeps_the_calls_of_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "frontdesk.db"
    with Store(path, migrations=MIGRATIONS[: MIGRATIONS.index(m011_inbox)]) as old:
        old.call_started(
            CALL, caller_number="0639981234", caller_name="", destination="5000",
            started_at=T0, schedule_state="open", schedule_detail="", config_version="c0",
        )
    with Store(path) as new:
        assert new.get_call(CALL)["caller_number"] == "0639981234"
        assert new.booking_request(REQUEST, at=T0) == 1


# --- `frontdesk messages`: what the staff see -----------------------------------------------

NUMBER = "0639981234"
PRESCRIPTION = "a1b2c3d4-0000-4000-8000-00000000000a"
VOICEMAIL = "b2c3d4e5-0000-4000-8000-00000000000b"
FALLBACK = "c3d4e5f6-0000-4000-8000-00000000000c"


class Practice:
    """The example practice's config, database and messages directory, the daemon stopped."""

    def __init__(self, practice_dir: Path) -> None:
        self.config_path = practice_dir / "frontdesk.toml"
        self.config = load_config(self.config_path)
        self.messages = self.config.storage.messages
        self.now = datetime.now(UTC).replace(microsecond=0)

    def store(self) -> Store:
        return Store(self.config.storage.database)

    def recording(self, name: str, seconds: float, number: str = "", comment: str = "") -> Path:
        path = self.messages / name
        tags = {"RECORD_ARTIST": number, "RECORD_COMMENT": comment}
        path.write_bytes(wav_bytes(int(seconds * 8000), tags))
        return settled(path)

    def flow_call(
        self, store: Store, uuid: str, *, minutes_ago: int, reason: str, outcome: str = "message",
        seconds: float = 12.0, finished: bool = True,
    ) -> Path:
        """A call whose caller left a message in a message node of the flow."""
        started = self.now - timedelta(minutes=minutes_ago)
        store.call_started(
            uuid, caller_number=NUMBER, caller_name="", destination="5000", started_at=started,
            schedule_state="open", schedule_detail="", config_version=self.config.version,
        )
        store.call_progress(uuid, path=[], reason=reason, at=started)
        message = self.recording(f"{uuid}.wav", seconds)
        if finished:
            store.call_finished(
                uuid, ended_at=started + timedelta(minutes=1), answered_at=started, path=[],
                reason=reason, outcome=outcome, hangup_cause="NORMAL_CLEARING",
                message_file=str(message),
            )
        return message

    def fallback_call(self, store: Store, uuid: str, *, minutes_ago: int, number: str) -> Path:
        """A call FreeSWITCH's static fallback took, recorded by the daemon."""
        message = self.recording(f"fallback-20261127-091502-{uuid}.wav", 7.0, number)
        store.fallback_call(
            uuid, caller_number=number, caller_name="", destination="",
            started_at=self.now - timedelta(minutes=minutes_ago), answered_at=None,
            ended_at=self.now, hangup_cause=None, message_file=str(message),
            schedule_state="closed", schedule_detail="", config_version=self.config.version,
        )
        return message

    def messages_command(self, *args: str) -> int:
        return main(["messages", *args, "--config", str(self.config_path)])

    def listing(self, capsys, *args: str) -> list[str]:
        capsys.readouterr()
        assert self.messages_command(*args) == 0
        return capsys.readouterr().out.splitlines()

    def items(self, capsys, *args: str) -> list[dict]:
        capsys.readouterr()
        assert self.messages_command("--json", *args) == 0
        return json.loads(capsys.readouterr().out)


@pytest.fixture
def desk(practice_dir: Path) -> Practice:
    return Practice(practice_dir)


@pytest.fixture
def filled(desk: Practice) -> Practice:
    """A prescription renewal, a voicemail, a fallback message and a booking request."""
    with desk.store() as store:
        desk.flow_call(store, PRESCRIPTION, minutes_ago=60, reason="prescription")
        desk.flow_call(store, VOICEMAIL, minutes_ago=30, reason="speak_to_someone",
                           outcome="voicemail", seconds=3.0)
        desk.fallback_call(store, FALLBACK, minutes_ago=5, number="06\x1b[2J39983333")
        ((patient, _),) = store.add_patients([("DUPONT Marie", NUMBER, None)])
        request = replace(REQUEST, patient_id=patient.id)
        store.booking_request(request, at=desk.now - timedelta(minutes=10))
    return desk


def test_the_staff_see_every_message_and_request_newest_first_with_its_length(
    filled: Practice, capsys
) -> None:
    listing = filled.listing(capsys)

    assert listing[0] == "Messages:"
    assert listing[1].split() == ["ref", "when", "number", "reason", "length", "message", "or",
                                  "request"]
    fallback, request, voicemail, prescription = listing[2:]
    assert fallback.split()[0] == FALLBACK[:8]
    assert "06\\x1b[2J39983333" in fallback, "the caller's text is shown terminal-safe"
    assert "fallback" in fallback and "0:07" in fallback
    assert fallback.endswith(f"fallback-20261127-091502-{FALLBACK}.wav")
    assert request.split()[0] == "R1" and "booking request" in request
    assert "move consultation, martin, Tue Thu morning, patient DUPONT Marie, appointment 42" \
        in request
    assert "note: après 10 h" in request and NUMBER in request
    assert "speak_to_someone" in voicemail and "0:03" in voicemail
    assert "prescription" in prescription and "0:12" in prescription
    assert prescription.endswith(f"{PRESCRIPTION}.wav") and NUMBER in prescription


def test_the_json_listing_keeps_its_fields_and_gives_lengths_and_requests(
    filled: Practice, capsys
) -> None:
    fallback, request, voicemail, prescription = filled.items(capsys)

    assert fallback["call"] == FALLBACK and fallback["caller_number"] == "06\x1b[2J39983333"
    assert (fallback["reason"], fallback["outcome"], fallback["seconds"]) == (
        "fallback", "fallback", 7.0)
    assert prescription["message_file"] == str(filled.messages / f"{PRESCRIPTION}.wav")
    assert (prescription["reason"], prescription["kind"], prescription["missing"]) == (
        "prescription", "message", False)
    assert voicemail["outcome"] == "voicemail"
    assert request["kind"] == "booking_request" and request["ref"] == "R1"
    assert request["call"] == CALL and request["caller_number"] == NUMBER
    assert request["caller_name"] == "DUPONT Marie"
    assert request["request"] == {
        "action": "move", "kind": "consultation", "practitioner": "martin",
        "preferred_days": [1, 3], "preferred_times": "morning", "callback_number": NUMBER,
        "patient_id": 1, "appointment_id": "42",
        "details": {"note": "après 10 h", "spoken": "mardi"},
    }
    assert all(item["done_at"] is None for item in (fallback, request, voicemail, prescription))
    assert [item["call"] for item in filled.items(capsys, "--limit", "1")] == [FALLBACK]


def test_an_item_marked_done_leaves_the_list_and_all_shows_who_and_when(
    filled: Practice, capsys
) -> None:
    user = getpass.getuser()

    assert filled.messages_command("done", PRESCRIPTION[:6]) == 0
    assert filled.messages_command("done", "r1") == 0

    assert [item["call"] for item in filled.items(capsys)] == [FALLBACK, VOICEMAIL]
    every = filled.items(capsys, "--all")
    assert [item["ref"] for item in every] == [FALLBACK[:8], "R1", VOICEMAIL[:8],
                                              PRESCRIPTION[:8]]
    assert [item["done_by"] for item in every] == [None, f"cli:{user}", None, f"cli:{user}"]
    listing = filled.listing(capsys, "--all")
    assert listing[1].split()[-1] == "done"
    assert listing[-1].endswith(f"cli:{user}") and not listing[2].endswith(f"cli:{user}")


def test_marking_done_what_is_not_open_or_not_clear_changes_nothing(
    filled: Practice, capsys
) -> None:
    assert filled.messages_command("done", PRESCRIPTION[:8]) == 0
    capsys.readouterr()

    assert filled.messages_command("done", PRESCRIPTION[:8]) == 1, "done already"
    assert filled.messages_command("done", "R9") == 1, "no such request"
    assert filled.messages_command("done", "b2c") == 1, "too short to be sure"
    assert filled.messages_command("done", "0000") == 1, "matches nothing"
    assert filled.messages_command("done") == 2
    assert "nothing open matches" in capsys.readouterr().err
    assert len(filled.items(capsys)) == 3


def test_a_message_whose_file_is_gone_is_shown_missing_and_the_list_goes_on(
    filled: Practice, capsys
) -> None:
    (filled.messages / f"{PRESCRIPTION}.wav").unlink()

    listing = filled.listing(capsys)
    assert "MISSING" in listing[-1] and "(file not found)" in listing[-1]
    assert len(listing) == 6
    prescription = filled.items(capsys)[-1]
    assert (prescription["missing"], prescription["seconds"]) == (True, None)


def test_messages_on_disk_are_listed_while_the_daemon_is_down(
    desk: Practice, capsys
) -> None:
    """No row holds them yet (the daemon links them at its next start): the files tell."""
    unfinished = "d4e5f6a7-0000-4000-8000-00000000000d"
    with desk.store() as store:
        desk.flow_call(store, unfinished, minutes_ago=2, reason="prescription",
                           finished=False)
    desk.recording(f"fallback-20261127-091502-{FALLBACK}.wav", 6.0, NUMBER)
    desk.recording(f"fallback-20261127-091503-{VOICEMAIL}.wav", 0.5, NUMBER)  # hung up
    fresh = desk.messages / f"{PRESCRIPTION}.wav"  # maybe still recording
    fresh.write_bytes(wav_bytes(5 * 8000, {}))
    (desk.messages / "notes.txt").write_text("not a message")

    flow, fallback = desk.items(capsys)

    assert (flow["call"], flow["reason"], flow["caller_number"]) == (
        unfinished, "prescription", NUMBER)
    assert flow["seconds"] == 12.0
    assert (fallback["call"], fallback["reason"], fallback["caller_number"]) == (
        FALLBACK, "fallback", NUMBER)
    assert fallback["outcome"] is None and fallback["seconds"] == 6.0
    stamp = datetime(2026, 11, 27, 9, 15, 2).astimezone(UTC)
    assert fallback["started_at"] == stamp.isoformat(), "the time FreeSWITCH put in its name"
    assert desk.messages_command("done", FALLBACK[:8]) == 0
    assert [item["call"] for item in desk.items(capsys)] == [unfinished]


def test_a_message_a_row_holds_is_listed_once_however_its_path_was_spelled(
    desk: Practice, capsys
) -> None:
    """The daemon that linked it may have been started with the config named another way."""
    message = desk.recording(f"{PRESCRIPTION}.wav", 4.0)
    with desk.store() as store:
        store.fallback_call(
            PRESCRIPTION, caller_number=NUMBER, caller_name="", destination="",
            started_at=desk.now, answered_at=None, ended_at=desk.now, hangup_cause=None,
            message_file=f"{desk.messages}/../{desk.messages.name}//{message.name}",
            schedule_state="closed", schedule_detail="", config_version=desk.config.version,
        )

    (item,) = desk.items(capsys)
    assert (item["call"], item["seconds"], item["missing"]) == (PRESCRIPTION, 4.0, False)


def test_a_flow_message_whose_call_row_was_lost_is_told_by_its_file(
    desk: Practice, capsys
) -> None:
    """The daemon killed while the database could not take its writes: the row never was."""
    desk.recording(f"{PRESCRIPTION}.wav", 9.0, NUMBER, comment="prescription")
    desk.recording(f"{VOICEMAIL}.wav", 9.0, NUMBER, comment="\x1b[2Jnot a reason")

    voicemail, prescription = desk.items(capsys)
    assert (prescription["call"], prescription["caller_number"], prescription["reason"]) == (
        PRESCRIPTION, NUMBER, "prescription")
    assert prescription["outcome"] is None and prescription["seconds"] == 9.0
    assert (voicemail["call"], voicemail["reason"]) == (VOICEMAIL, "other")


def test_without_the_messages_directory_the_list_says_so_and_goes_on(
    filled: Practice, capsys
) -> None:
    shutil.rmtree(filled.messages)

    assert filled.messages_command() == 0
    out, err = capsys.readouterr()
    assert f"cannot read {filled.messages}" in err
    assert out.count("MISSING") == 3 and "R1" in out
