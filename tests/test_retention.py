"""Retention ([retention]): the daily job deletes the call records and the callers' messages
older than their periods, exactly those, and says how many went."""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest
import structlog

import frontdesk.store
from frontdesk.agenda import BookingRequest
from frontdesk.cli import main
from frontdesk.config import ConfigError, load_config
from frontdesk.config.model import Config, RetentionSettings
from frontdesk.rehearse import Rig
from frontdesk.retention import purge_expired
from frontdesk.store import CALL_RECORDS, PURGE_BATCH, ConsoleSession, Store
from helpers import set_in_section

NOW = datetime(2027, 3, 2, 2, 30, tzinfo=UTC)
SECOND = timedelta(seconds=1)
YEAR = timedelta(days=365)
MONTH = timedelta(days=30)
PARIS = ZoneInfo("Europe/Paris")


def with_retention(practice_dir: Path, **settings: object) -> Path:
    config = practice_dir / "frontdesk.toml"
    config.write_text(set_in_section(config.read_text(), "retention", settings))
    return config


# -- config ------------------------------------------------------------------------------


def test_call_records_are_kept_a_year_and_messages_a_month_after_they_are_dealt_with(
    practice: Config,
) -> None:
    retention = practice.retention
    assert (retention.call_records_days, retention.messages_done_days) == (365, 30)
    assert retention.messages_open_days == 365


def test_messages_never_dealt_with_go_with_their_call_records_unless_set_shorter(
    practice_dir: Path,
) -> None:
    config = load_config(with_retention(practice_dir, call_records_days=180))
    assert config.retention.messages_open_days == 180


def test_a_message_kept_longer_than_its_call_record_is_refused(practice_dir: Path) -> None:
    path = with_retention(practice_dir, call_records_days=180, messages_open_days=200)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "retention.messages_open_days: must not exceed call_records_days (180)" in str(
        caught.value
    )


@pytest.mark.parametrize("days", [29, 3651])
def test_call_records_are_kept_between_a_month_and_ten_years(
    practice_dir: Path, days: int
) -> None:
    with pytest.raises(ConfigError, match="retention.call_records_days"):
        load_config(with_retention(practice_dir, call_records_days=days))


# -- what is purged --------------------------------------------------------------------------


def started(store: Store, uuid: str, at: datetime, message: Path | None = None) -> None:
    store.call_started(
        uuid, caller_number="0639981234", caller_name="", destination="5000", started_at=at,
        schedule_state="open", schedule_detail="", config_version="test",
    )
    if message is not None:
        message.write_bytes(b"RIFF")
        store.link_message(uuid, str(message))


def record_everything(store: Store, prefix: str, at: datetime) -> None:
    """One row of each kind of call record, dated `at`."""
    uuid = f"{prefix}-call"
    started(store, uuid, at)
    store.queue_event(uuid, "entered", at=at)
    store.agenda_action(uuid, "booked", "17", at=at)
    store.callback_requested(uuid, number="0639981234", call_started_at=at, requested_at=at,
                             extensions=("1001",))
    store.missed_done(uuid, by="console:anne", at=at)
    store.message_done(uuid, by="console:anne", at=at)
    store.reminder_planned(f"{prefix}-appointment", run_date=f"{at:%Y-%m-%d}", starts_at=at,
                           practitioner="martin", patient_name="Jeanne Petit",
                           number="0639981234", at=at)
    store.staff_event("1001", "login", at=at)
    store.staff_state_changed("1001", at=at, state="idle", registered=True, logged_in=True)
    store.set_override("lunch", until=None, set_by="panel", now=at)
    store.console_action("anne", "override", "lunch", at=at)


def table_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in CALL_RECORDS}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "calls.db") as opened:
        yield opened


def test_call_records_older_than_the_retention_go_and_one_second_younger_stay(
    store: Store,
) -> None:
    record_everything(store, "old", NOW - YEAR - SECOND)
    record_everything(store, "kept", NOW - YEAR + SECOND)
    store.staff_state_changed("1002", at=NOW - YEAR - SECOND, state="idle", registered=True,
                              logged_in=False)

    purged = store.purge_call_records(NOW - YEAR)

    assert purged == {table: 1 for table in CALL_RECORDS}
    assert table_counts(store.path) == {table: 1 for table in CALL_RECORDS} | {
        "staff_states": 2}
    assert store.get_call("old-call") is None
    assert store.get_call("kept-call") is not None
    assert [event["call_uuid"] for event in store.queue_events()] == ["kept-call"]


def test_console_sessions_go_the_night_after_they_expired(store: Store, config: Config) -> None:
    store.add_console_user("anne", "scrypt$hash", at=NOW - MONTH)
    for token, expires in (("expired", NOW - SECOND), ("current", NOW + timedelta(hours=8))):
        store.open_console_session(ConsoleSession(token, "anne", "csrf", NOW - MONTH,
                                                  expires, None))

    assert purge_expired(store, config, NOW)["console_sessions_expired"] == 1
    assert store.console_session("current", now=NOW) is not None


def test_the_state_in_force_is_kept_however_old(store: Store) -> None:
    """A phone logged in two years ago is still logged in; an override set then is still in
    force; the queue reads the last state of each phone at start."""
    long_ago = NOW - 2 * YEAR
    store.staff_event("1001", "logout", at=long_ago - SECOND)
    store.staff_event("1001", "login", at=long_ago)
    store.staff_state_changed("1001", at=long_ago, state="idle", registered=True,
                              logged_in=True)
    store.set_override("closed", until=None, set_by="panel", now=long_ago)

    purged = store.purge_call_records(NOW - YEAR)

    assert purged["staff_events"] == 1
    assert (purged["staff_states"], purged["overrides"]) == (0, 0)
    assert store.logged_in_staff() == {"1001"}
    assert store.latest_staff_states()["1001"]["logged_in"] is True
    assert store.get_override(now=NOW).mode == "closed"


def test_a_year_of_records_is_purged_in_batches_to_the_last_row(store: Store) -> None:
    old = NOW - YEAR - timedelta(days=1)
    started(store, "busy", old)
    for n in range(2 * PURGE_BATCH + 7):
        store.queue_event("busy", "offered", at=old + n * SECOND)
    store.queue_event("busy", "answered", at=NOW - timedelta(days=1))

    assert store.purge_call_records(NOW - YEAR)["queue_events"] == 2 * PURGE_BATCH + 7
    assert [event["event"] for event in store.queue_events()] == ["answered"]


def test_a_call_waiting_for_the_database_is_served_between_two_batches_of_a_long_purge(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frontdesk.store, "PURGE_BATCH", 1)
    old = NOW - 2 * YEAR
    for n in range(50):
        started(store, f"old-{n}", old + n * SECOND)
    store.flush()

    purge = gevent.spawn(store.purge_call_records, NOW - YEAR)
    gevent.sleep(0)  # the purge has the database
    assert store.get_call("old-49") is not None  # a call's read (the override, say)
    assert not purge.dead, "the read waited for the whole purge"
    assert purge.get()["calls"] == 50


# -- messages and booking requests ------------------------------------------------------------


@pytest.fixture
def config(practice: Config) -> Config:
    practice.storage.messages.mkdir(parents=True, exist_ok=True)
    return practice


def message(config: Config, name: str) -> Path:
    return config.storage.messages / name


def aged(path: Path, at: datetime) -> Path:
    path.write_bytes(b"RIFF")
    os.utime(path, (at.timestamp(), at.timestamp()))
    return path


UUIDS = {name: f"{n:08x}-0000-4000-8000-000000000000" for n, name in enumerate(
    ["done_old", "done_recent", "open_old", "open_recent", "missing", "unheld_old",
     "unheld_recent", "unheld_done"])}


def test_messages_go_a_month_after_they_are_dealt_with_or_when_a_year_old(
    store: Store, config: Config
) -> None:
    config = dataclasses.replace(config, retention=RetentionSettings(call_records_days=730))
    files = {name: message(config, f"{uuid}.wav") for name, uuid in UUIDS.items()}
    started(store, UUIDS["done_old"], NOW - timedelta(days=60), files["done_old"])
    store.message_done(UUIDS["done_old"], by="console:anne", at=NOW - MONTH - SECOND)
    started(store, UUIDS["done_recent"], NOW - timedelta(days=60), files["done_recent"])
    store.message_done(UUIDS["done_recent"], by="console:anne", at=NOW - MONTH + SECOND)
    started(store, UUIDS["open_old"], NOW - YEAR - SECOND, files["open_old"])
    started(store, UUIDS["open_recent"], NOW - YEAR + SECOND, files["open_recent"])
    started(store, UUIDS["missing"], NOW - YEAR - SECOND, files["missing"])
    files["missing"].unlink()  # deleted by hand
    fallback_old = aged(message(config, f"fallback-20260101-090000-{UUIDS['unheld_old']}.wav"),
                        NOW - YEAR - SECOND)
    unheld_recent = aged(files["unheld_recent"], NOW - YEAR + timedelta(minutes=1))
    unheld_done = aged(files["unheld_done"], NOW - timedelta(days=40))
    store.message_done(UUIDS["unheld_done"], by="console:anne", at=NOW - timedelta(days=35))
    not_a_message = aged(message(config, "notes.txt"), NOW - 2 * YEAR)

    planned = purge_expired(store, config, NOW, dry_run=True)
    assert files["done_old"].exists() and fallback_old.exists()
    assert store.get_call(UUIDS["done_old"])["message_file"] == str(files["done_old"])
    with structlog.testing.capture_logs() as logs:
        counts = purge_expired(store, config, NOW)

    assert counts == planned | {"console_sessions_expired": 0}
    for name in ("done_old", "open_old"):  # the call's record stays: call_records_days
        assert not files[name].exists()
        assert store.get_call(UUIDS[name])["message_file"] is None
    for name in ("done_recent", "open_recent"):
        assert files[name].exists()
        assert store.get_call(UUIDS[name])["message_file"] == str(files[name])
    assert store.get_call(UUIDS["missing"])["message_file"] is None
    assert not fallback_old.exists() and not unheld_done.exists()
    assert unheld_recent.exists() and not_a_message.exists()
    assert (counts["messages_done"], counts["messages_never_done"]) == (2, 3)
    assert (counts["message_files_missing"], counts["messages_kept_undeletable"]) == (1, 0)
    [purged] = [entry for entry in logs if entry["event"] == "retention.purged"]
    assert purged["messages_never_done"] == 3 and purged["calls"] == 0
    assert "0639981234" not in str(purged)
    [warning] = [entry for entry in logs if entry["log_level"] == "warning"]
    assert (warning["event"], warning["count"]) == ("retention.messages_never_done_purged", 3)


def request(store: Store, created: datetime, done: datetime | None) -> int:
    request_id = store.booking_request(
        BookingRequest(kind="consultation", practitioner=None, callback_number="0639981234"),
        at=created,
    )
    if done is not None:
        store.booking_request_done(request_id, by="console:anne", at=done)
    return request_id


def test_booking_requests_go_by_the_same_rules_as_messages(
    store: Store, config: Config
) -> None:
    recent = NOW - timedelta(days=50)
    done_old = request(store, recent, NOW - MONTH - SECOND)
    done_recent = request(store, recent, NOW - MONTH + SECOND)
    open_old = request(store, NOW - YEAR - SECOND, None)
    open_recent = request(store, NOW - YEAR + SECOND, None)

    assert purge_expired(store, config, NOW)["booking_requests"] == 2

    kept = {filed.id for filed in store.booking_requests(include_done=True)}
    assert kept == {done_recent, open_recent}
    assert done_old not in kept and open_old not in kept


def test_an_unreadable_directory_or_an_undeletable_file_is_logged_and_the_rest_goes_on(
    store: Store, config: Config, tmp_path: Path
) -> None:
    stuck = tmp_path / "stuck.wav"
    stuck.mkdir()  # unlink fails on it, as on a file of a read-only disk
    started(store, UUIDS["done_old"], NOW - timedelta(days=60))
    store.link_message(UUIDS["done_old"], str(stuck))
    store.message_done(UUIDS["done_old"], by="console:anne", at=NOW - MONTH - SECOND)
    record_everything(store, "old", NOW - YEAR - SECOND)
    gone = dataclasses.replace(config.storage, messages=tmp_path / "no-such-directory")

    with structlog.testing.capture_logs() as logs:
        counts = purge_expired(store, dataclasses.replace(config, storage=gone), NOW)

    events = [entry["event"] for entry in logs]
    assert "retention.directory_unreadable" in events and "file.delete_failed" in events
    assert counts["messages_kept_undeletable"] == 1
    assert store.get_call(UUIDS["done_old"])["message_file"] == str(stuck)  # tried tomorrow
    assert counts["calls"] == 1 and counts["queue_events"] == 1
    assert "retention.purged" in events


# -- the daily job -----------------------------------------------------------------------------


def test_the_daily_job_purges_at_its_time_on_the_daemons_clock(
    practice: Config, tmp_path: Path
) -> None:
    with Rig(practice, tmp_path) as rig:
        night = datetime(2027, 3, 2, 3, 0, tzinfo=PARIS)
        rig.moment = night
        store = rig.daemon.store
        record_everything(store, "old", night - YEAR - timedelta(hours=1))
        record_everything(store, "kept", night - YEAR + timedelta(hours=1))
        with structlog.testing.capture_logs() as logs:
            rig.daemon.daily.start()
            assert rig.wait_for(lambda: store.get_call("old-call") is None, timeout=3600,
                                every=60)
            purged_at = rig.clock.wall().astimezone(PARIS)
            assert rig.wait_for(
                lambda: any(entry["event"] == "maintenance.done" for entry in logs), 600
            )
        assert purged_at.time() >= practice.maintenance.daily_at
        assert purged_at - night < timedelta(hours=1)
        assert store.get_call("kept-call") is not None
        assert [entry["calls"] for entry in logs if entry["event"] == "retention.purged"] == [1]


# -- frontdesk purge ---------------------------------------------------------------------------


def test_purge_dry_run_shows_what_the_next_purge_removes_and_deletes_nothing(
    practice: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    with Store(practice.storage.database) as store:
        record_everything(store, "old", now - YEAR - timedelta(days=1))
        record_everything(store, "kept", now - YEAR + timedelta(days=1))
    config = str(practice.source)

    assert main(["purge", "--dry-run", "--config", config]) == 0
    shown = capsys.readouterr().out
    assert "What a purge would remove now (call records: 365 days" in shown
    assert re.search(r"(?m)^ +calls +1$", shown) and re.search(r"(?m)^ +overrides +1$", shown)
    with Store(practice.storage.database) as store:
        assert store.get_call("old-call") is not None

    assert main(["purge", "--config", config]) == 0
    assert re.search(r"(?m)^ +calls +1$", capsys.readouterr().out)
    with Store(practice.storage.database) as store:
        assert store.get_call("old-call") is None
        assert store.get_call("kept-call") is not None
