"""The store: schema and migrations, durability settings, call and override records."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import gevent
import pytest
import structlog.testing
from gevent.monkey import get_original
from sqlite_utils import Database

import frontdesk
from frontdesk.agenda import Practitioner
from frontdesk.store import (
    MIGRATIONS,
    MigrationError,
    Store,
    StoreClosed,
    StoreHealth,
)

T0 = datetime(2026, 11, 27, 9, 15, 2, 123000, tzinfo=UTC)
PACKAGE = Path(frontdesk.__file__).parent

EXPECTED_COLUMNS = {
    # name: (declared type, NOT NULL, primary key)
    "calls": {
        "uuid": ("TEXT", False, True),
        "caller_number": ("TEXT", True, False),
        "caller_name": ("TEXT", True, False),
        "destination": ("TEXT", True, False),
        "started_at": ("TEXT", True, False),
        "answered_at": ("TEXT", False, False),
        "ended_at": ("TEXT", False, False),
        "schedule_state": ("TEXT", True, False),
        "schedule_detail": ("TEXT", True, False),
        "config_version": ("TEXT", True, False),
        "path": ("TEXT", True, False),
        "reason": ("TEXT", False, False),
        "outcome": ("TEXT", False, False),
        "hangup_cause": ("TEXT", False, False),
        "answered_by": ("TEXT", False, False),
        "message_file": ("TEXT", False, False),
        "interrupted": ("INTEGER", True, False),
        "recording_file": ("TEXT", False, False),
        "recording_purpose": ("TEXT", False, False),
        "recording_purged_at": ("TEXT", False, False),
        "last_seen_at": ("TEXT", False, False),
        "feedback": ("INTEGER", False, False),
    },
    "overrides": {
        "id": ("INTEGER", False, True),
        "set_at": ("TEXT", True, False),
        "mode": ("TEXT", False, False),
        "until": ("TEXT", False, False),
        "set_by": ("TEXT", True, False),
    },
    "staff_states": {
        "id": ("INTEGER", False, True),
        "at": ("TEXT", True, False),
        "extension": ("TEXT", True, False),
        "state": ("TEXT", True, False),
        "registered": ("INTEGER", True, False),
        "logged_in": ("INTEGER", True, False),
    },
    "queue_events": {
        "id": ("INTEGER", False, True),
        "call_uuid": ("TEXT", True, False),
        "at": ("TEXT", True, False),
        "event": ("TEXT", True, False),
        "extension": ("TEXT", False, False),
        "wait": ("REAL", False, False),
        "detail": ("TEXT", False, False),
    },
    "staff_events": {
        "id": ("INTEGER", False, True),
        "at": ("TEXT", True, False),
        "extension": ("TEXT", True, False),
        "event": ("TEXT", True, False),
    },
    "callbacks": {
        "id": ("INTEGER", False, True),
        "call_uuid": ("TEXT", True, False),
        "number": ("TEXT", True, False),
        "call_started_at": ("TEXT", True, False),
        "requested_at": ("TEXT", True, False),
        "extensions": ("TEXT", True, False),
        "state": ("TEXT", True, False),
        "attempts": ("INTEGER", True, False),
        "next_attempt_at": ("TEXT", False, False),
        "last_result": ("TEXT", False, False),
        "completed_at": ("TEXT", False, False),
        "done_at": ("TEXT", False, False),
        "done_by": ("TEXT", False, False),
        "reason": ("TEXT", True, False),
    },
    "missed_done": {
        "call_uuid": ("TEXT", False, True),
        "done_at": ("TEXT", True, False),
        "done_by": ("TEXT", True, False),
    },
    "agenda_actions": {
        "id": ("INTEGER", False, True),
        "call_uuid": ("TEXT", True, False),
        "action": ("TEXT", True, False),
        "appointment_id": ("TEXT", False, False),
        "at": ("TEXT", True, False),
    },
    "practitioners": {
        "id": ("TEXT", False, True),
        "name": ("TEXT", True, False),
        "calendar": ("TEXT", False, False),
        "active": ("INTEGER", True, False),
    },
    "consultation_hours": {
        "id": ("INTEGER", False, True),
        "practitioner": ("TEXT", True, False),
        "weekday": ("INTEGER", True, False),
        "start": ("TEXT", True, False),
        "end": ("TEXT", True, False),
    },
    "appointment_types": {
        "name": ("TEXT", False, True),
        "minutes": ("INTEGER", True, False),
        "label": ("TEXT", True, False),
    },
    "absences": {
        "id": ("INTEGER", False, True),
        "practitioner": ("TEXT", True, False),
        "start": ("TEXT", True, False),
        "end": ("TEXT", True, False),
        "reason": ("TEXT", True, False),
    },
    "patients": {
        "id": ("INTEGER", False, True),
        "name": ("TEXT", True, False),
        "phone": ("TEXT", True, False),
        "birth_date": ("TEXT", False, False),
    },
    "appointments": {
        "id": ("INTEGER", False, True),
        "practitioner": ("TEXT", True, False),
        "start": ("TEXT", True, False),
        "end": ("TEXT", True, False),
        "kind": ("TEXT", True, False),
        "patient_id": ("INTEGER", False, False),
        "state": ("TEXT", True, False),
        "booked_by": ("TEXT", True, False),
        "booked_at": ("TEXT", True, False),
        "cancelled_by": ("TEXT", False, False),
        "cancelled_at": ("TEXT", False, False),
        "confirmed_by": ("TEXT", False, False),
        "confirmed_at": ("TEXT", False, False),
        "call_uuid": ("TEXT", False, False),
    },
    "booking_requests": {
        "id": ("INTEGER", False, True),
        "created_at": ("TEXT", True, False),
        "kind": ("TEXT", True, False),
        "practitioner": ("TEXT", False, False),
        "preferred_days": ("TEXT", True, False),
        "preferred_times": ("TEXT", True, False),
        "callback_number": ("TEXT", True, False),
        "call_uuid": ("TEXT", False, False),
        "patient_id": ("INTEGER", False, False),
        "action": ("TEXT", True, False),
        "appointment_id": ("TEXT", False, False),
        "details": ("TEXT", True, False),
        "done_at": ("TEXT", False, False),
        "done_by": ("TEXT", False, False),
    },
    "message_done": {
        "call_uuid": ("TEXT", False, True),
        "done_at": ("TEXT", True, False),
        "done_by": ("TEXT", True, False),
    },
    "reminders": {
        "id": ("INTEGER", False, True),
        "appointment_id": ("TEXT", True, False),
        "run_date": ("TEXT", True, False),
        "starts_at": ("TEXT", True, False),
        "practitioner": ("TEXT", True, False),
        "patient_name": ("TEXT", True, False),
        "number": ("TEXT", True, False),
        "state": ("TEXT", True, False),
        "attempts": ("INTEGER", True, False),
        "next_attempt_at": ("TEXT", False, False),
        "last_result": ("TEXT", False, False),
        "answer": ("TEXT", False, False),
        "planned_at": ("TEXT", True, False),
        "last_attempt_at": ("TEXT", False, False),
        "ended_at": ("TEXT", False, False),
    },
    "console_users": {
        "name": ("TEXT", False, True),
        "password_hash": ("TEXT", True, False),
        "created_at": ("TEXT", True, False),
        "changed_at": ("TEXT", True, False),
    },
    "console_sessions": {
        "token_hash": ("TEXT", False, True),
        "user": ("TEXT", True, False),
        "csrf": ("TEXT", True, False),
        "created_at": ("TEXT", True, False),
        "expires_at": ("TEXT", True, False),
        "extension": ("TEXT", False, False),
    },
    "console_actions": {
        "id": ("INTEGER", False, True),
        "at": ("TEXT", True, False),
        "user": ("TEXT", True, False),
        "action": ("TEXT", True, False),
        "target": ("TEXT", False, False),
        "detail": ("TEXT", False, False),
    },
    "_migrations": {
        "name": ("TEXT", False, True),
        "applied_at": ("TEXT", True, False),
    },
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "frontdesk.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A separate connection, as another process (the sqlite3 shell, a report) would open."""
    return sqlite3.connect(path)


def columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[str, bool, bool]]:
    return {
        name: (decl, bool(notnull), bool(pk))
        for _cid, name, decl, notnull, _default, pk in conn.execute(f"PRAGMA table_info({table})")
    }


def start(store: Store, uuid: str, *, at: datetime = T0, number: str = "0612345678") -> None:
    store.call_started(
        uuid,
        caller_number=number,
        caller_name="DUPONT MARIE",
        destination="5000",
        started_at=at,
        schedule_state="open",
        schedule_detail="",
        config_version="c0ffee",
    )


def finish(store: Store, uuid: str, *, at: datetime = T0 + timedelta(seconds=42)) -> None:
    store.call_finished(
        uuid,
        ended_at=at,
        answered_at=T0 + timedelta(seconds=12),
        path=[
            {"node": "greeting", "key": None, "at": 0.0},
            {"node": "menu", "key": "2", "at": 7.5},
        ],
        reason="appointment_new",
        outcome="answered",
        hangup_cause="NORMAL_CLEARING",
        answered_by="1002",
    )


# --- schema and migrations ----------------------------------------------------------------


def test_migrating_a_blank_database_gives_exactly_the_expected_tables_and_columns(
    db_path: Path,
) -> None:
    Store(db_path).close()
    conn = raw(db_path)
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    assert tables == set(EXPECTED_COLUMNS)
    for table, expected in EXPECTED_COLUMNS.items():
        assert columns(conn, table) == expected, table


def test_the_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "frontdesk" / "frontdesk.db"
    Store(path).close()
    assert path.is_file()


def test_migrations_are_applied_once_recorded_by_name_and_reopening_is_a_no_op(
    db_path: Path,
) -> None:
    runs: list[str] = []

    def m003_counted(db: Database) -> None:
        runs.append("m003_counted")
        db.table("counted").create({"id": int}, pk="id")

    migrations = (*MIGRATIONS, m003_counted)
    Store(db_path, migrations=migrations).close()
    first = raw(db_path).execute("SELECT name, applied_at FROM _migrations").fetchall()
    Store(db_path, migrations=migrations).close()
    second = raw(db_path).execute("SELECT name, applied_at FROM _migrations").fetchall()

    assert runs == ["m003_counted"]
    assert [name for name, _ in first] == [m.__name__ for m in MIGRATIONS] + ["m003_counted"]
    assert second == first
    for _, applied_at in first:
        assert datetime.fromisoformat(applied_at).tzinfo is not None


def test_a_database_from_an_older_version_is_migrated_with_its_rows_kept(db_path: Path) -> None:
    with Store(db_path, migrations=MIGRATIONS[:1]) as old:
        start(old, "call-before-upgrade")
    assert "overrides" not in Database(raw(db_path)).table_names()

    with Store(db_path) as upgraded:
        assert upgraded.get_call("call-before-upgrade") is not None
        upgraded.set_override("closed", until=None, set_by="1001")
        assert upgraded.get_override() is not None


def test_a_database_from_before_the_agenda_gets_its_tables_and_keeps_its_calls(
    db_path: Path,
) -> None:
    before_agenda = MIGRATIONS[: [m.__name__ for m in MIGRATIONS].index("m010_agenda")]
    with Store(db_path, migrations=before_agenda) as old:
        start(old, "call-before-the-agenda")
    assert "appointments" not in Database(raw(db_path)).table_names()

    with Store(db_path) as upgraded:
        assert upgraded.get_call("call-before-the-agenda") is not None
        upgraded.add_practitioner(Practitioner("martin", "Docteur Martin"))
        ((patient, _),) = upgraded.add_patients([("Marie Dupont", "0612345678", None)])
        booked = upgraded.book_appointment(
            "martin", T0, T0 + timedelta(minutes=30), "consultation", patient.id,
            by="cli:desk", at=T0,
        )
        assert upgraded.appointments_between(T0, T0 + timedelta(hours=1)) == [booked]


def test_a_migration_that_fails_is_rolled_back_and_stays_pending(db_path: Path) -> None:
    def m003_broken(db: Database) -> None:
        db.table("half_done").create({"id": int}, pk="id")
        db.table("half_done").insert({"id": 1})
        raise RuntimeError("disk said no")

    with pytest.raises(MigrationError) as failure:
        Store(db_path, migrations=(*MIGRATIONS, m003_broken))
    assert failure.value.name == "m003_broken"
    assert isinstance(failure.value.__cause__, RuntimeError)

    conn = raw(db_path)
    assert "half_done" not in Database(conn).table_names()
    names = [name for (name,) in conn.execute("SELECT name FROM _migrations")]
    assert names == [m.__name__ for m in MIGRATIONS]

    def m003_broken_fixed(db: Database) -> None:  # the fixed release, under the same name
        db.table("half_done").create({"id": int}, pk="id")

    m003_broken_fixed.__name__ = "m003_broken"
    Store(db_path, migrations=(*MIGRATIONS, m003_broken_fixed)).close()
    assert "half_done" in Database(raw(db_path)).table_names()


def test_wal_and_synchronous_full_are_in_force(store: Store, db_path: Path) -> None:
    def pragmas(db: Database) -> tuple[str, int, int]:
        return (
            db.execute("PRAGMA journal_mode").fetchone()[0],
            db.execute("PRAGMA synchronous").fetchone()[0],
            db.execute("PRAGMA busy_timeout").fetchone()[0],
        )

    journal_mode, synchronous, busy_timeout = store._run(pragmas)
    assert journal_mode == "wal"
    assert synchronous == 2  # FULL
    assert busy_timeout > 0
    # WAL is a property of the file: any other connection sees it too.
    assert raw(db_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- calls --------------------------------------------------------------------------------


def test_a_call_row_exists_as_soon_as_the_call_starts_and_is_completed_at_the_end(
    store: Store, db_path: Path
) -> None:
    start(store, "call-1")

    # Committed once the queue is written (at once, on a healthy disk): another connection
    # (another process) then sees the row.
    assert store.flush()
    assert raw(db_path).execute("SELECT uuid FROM calls").fetchall() == [("call-1",)]
    started = store.get_call("call-1")
    assert started is not None
    assert started["started_at"] == T0
    assert started["ended_at"] is None
    assert started["outcome"] is None
    assert started["path"] == []
    assert started["interrupted"] is False

    finish(store, "call-1")

    call = store.get_call("call-1")
    assert call == {
        "uuid": "call-1",
        "caller_number": "0612345678",
        "caller_name": "DUPONT MARIE",
        "destination": "5000",
        "started_at": T0,
        "answered_at": T0 + timedelta(seconds=12),
        "ended_at": T0 + timedelta(seconds=42),
        "schedule_state": "open",
        "schedule_detail": "",
        "config_version": "c0ffee",
        "path": [
            {"node": "greeting", "key": None, "at": 0.0},
            {"node": "menu", "key": "2", "at": 7.5},
        ],
        "reason": "appointment_new",
        "outcome": "answered",
        "hangup_cause": "NORMAL_CLEARING",
        "answered_by": "1002",
        "message_file": None,
        "interrupted": False,
        "recording_file": None,
        "recording_purpose": None,
        "recording_purged_at": None,
        "last_seen_at": T0 + timedelta(seconds=42),
        "feedback": None,
    }


def test_timestamps_are_stored_as_utc_iso_text_with_milliseconds(
    store: Store, db_path: Path
) -> None:
    paris = datetime(2026, 11, 27, 10, 15, 2, 123456, tzinfo=timezone(timedelta(hours=1)))
    start(store, "call-tz", at=paris)
    assert store.flush()
    (stored,) = raw(db_path).execute("SELECT started_at FROM calls").fetchone()
    assert stored == "2026-11-27T09:15:02.123Z"
    assert store.get_call("call-tz")["started_at"] == T0  # type: ignore[index]


def test_a_naive_timestamp_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        start(store, "call-naive", at=datetime(2026, 11, 27, 9, 0))
    assert store.get_call("call-naive") is None


def test_progress_is_saved_before_the_end(store: Store) -> None:
    start(store, "call-2")
    store.call_progress(
        "call-2", path=[{"node": "greeting", "key": "1", "at": T0}], reason="results",
        at=T0 + timedelta(seconds=30), answered_at=T0 + timedelta(seconds=20),
        answered_by="1001",
    )
    call = store.get_call("call-2")
    assert call is not None
    assert call["path"] == [{"node": "greeting", "key": "1", "at": "2026-11-27T09:15:02.123Z"}]
    assert call["reason"] == "results"
    assert (call["answered_at"], call["answered_by"]) == (T0 + timedelta(seconds=20), "1001")
    assert call["last_seen_at"] == T0 + timedelta(seconds=30)
    assert call["ended_at"] is None
    assert [c["uuid"] for c in store.unfinished_calls()] == ["call-2"]


def test_a_call_cannot_start_twice_nor_finish_without_starting(store: Store) -> None:
    """Refused for good, logged, and not kept for retry: the store stays healthy."""
    start(store, "call-3")
    with structlog.testing.capture_logs() as logs:
        start(store, "call-3", number="0699999999")
        finish(store, "call-never-started")
        store.call_progress("call-never-started", path=[], reason=None, at=T0)
        assert store.flush()

    refused = [entry["error"] for entry in logs if entry["event"] == "store.write_refused"]
    assert len(refused) == 3
    assert "call-3 was already started" in refused[0]
    assert store.get_call("call-3")["caller_number"] == "0612345678"  # type: ignore[index]
    assert store.get_call("call-never-started") is None
    assert store.health() == StoreHealth(problem=None, pending=0, dropped=0)


def test_an_unknown_outcome_is_refused(store: Store) -> None:
    start(store, "call-4")
    with pytest.raises(ValueError, match="outcome"):
        store.call_finished(
            "call-4",
            ended_at=T0,
            answered_at=None,
            path=[],
            reason=None,
            outcome="hung_up_somehow",
            hangup_cause=None,
        )


def test_calls_lists_newest_first_since_a_time_and_up_to_a_limit(store: Store) -> None:
    for minute in range(5):
        start(store, f"call-{minute}", at=T0 + timedelta(minutes=minute))

    assert [c["uuid"] for c in store.calls()] == [f"call-{m}" for m in (4, 3, 2, 1, 0)]
    since = store.calls(since=T0 + timedelta(minutes=2))
    assert [c["uuid"] for c in since] == ["call-4", "call-3", "call-2"]
    assert [c["uuid"] for c in store.calls(limit=2)] == ["call-4", "call-3"]


def test_mark_interrupted_ends_only_the_unfinished_calls_at_the_last_moment_known(
    store: Store,
) -> None:
    start(store, "finished")
    finish(store, "finished")
    start(store, "unfinished")
    start(store, "still-up")
    seen = T0 + timedelta(seconds=50)
    store.call_progress("unfinished", path=[{"node": "emergency", "event": "enter", "at": 3.0}],
                        reason="emergency", at=seen)

    assert store.mark_interrupted(["unfinished", "finished"]) == 1
    assert store.mark_interrupted(["unfinished"]) == 0

    unfinished = store.get_call("unfinished")
    assert unfinished is not None
    assert (unfinished["ended_at"], unfinished["outcome"], unfinished["interrupted"]) == (
        seen,
        "interrupted",
        True,
    )
    assert (unfinished["reason"], unfinished["path"][0]["node"]) == ("emergency", "emergency")
    finished = store.get_call("finished")
    assert finished is not None
    assert (finished["outcome"], finished["interrupted"]) == ("answered", False)
    assert store.get_call("still-up")["ended_at"] is None  # type: ignore[index]
    assert store.mark_interrupted() == 1
    assert store.get_call("still-up")["ended_at"] == T0  # type: ignore[index]


KILLED_DAEMON = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from frontdesk.store import Store

    store = Store(Path(sys.argv[1]))
    store.call_started(  # a second ago: its progress comes later, whatever the clock's grain
        "call-killed", caller_number="0612345678", caller_name="", destination="5000",
        started_at=datetime.now(UTC) - timedelta(seconds=1), schedule_state="open",
        schedule_detail="",
        config_version="c0ffee",
    )
    path = []
    while True:  # the call goes on, saving its path, until SIGKILL
        path.append({"node": "menu", "key": str(len(path) % 10), "at": len(path) * 0.5})
        store.call_progress("call-killed", path=path, reason="other", at=datetime.now(UTC))
        if len(path) == 20 and store.flush():
            print("mid-call", flush=True)
    """
)


def test_a_daemon_killed_mid_call_leaves_an_intact_database_and_the_call_is_marked_interrupted(
    db_path: Path,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_DAEMON, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    try:
        lines = iter(child.stdout.readline, "")  # log lines first, then our marker
        assert "mid-call\n" in lines, "the child died before the call was under way"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        errors = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, errors

    assert raw(db_path).execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    killed_at = datetime.now(UTC)
    with Store(db_path) as restarted:
        assert restarted.mark_interrupted() == 1
        call = restarted.get_call("call-killed")
    assert call is not None
    assert call["outcome"] == "interrupted"
    assert call["interrupted"] is True
    assert call["started_at"] < call["ended_at"] <= killed_at  # the last progress, not now
    assert call["reason"] == "other"
    assert len(call["path"]) >= 20  # the progress saved before the kill is kept


# --- overrides ----------------------------------------------------------------------------


def test_an_override_is_in_force_until_it_expires(store: Store) -> None:
    assert store.get_override(now=T0) is None

    until = T0 + timedelta(hours=1)
    set_now = store.set_override("lunch", until=until, set_by="1001", now=T0)
    assert set_now is not None
    assert (set_now.mode, set_now.until, set_now.set_at, set_now.set_by) == (
        "lunch",
        until,
        T0,
        "1001",
    )
    assert store.get_override(now=T0 + timedelta(minutes=59)) == set_now
    assert store.get_override(now=until) is None


def test_an_override_without_end_stays_until_cleared(store: Store) -> None:
    store.set_override("closed", until=None, set_by="panel", now=T0)
    in_force = store.get_override(now=T0 + timedelta(days=30))
    assert in_force is not None and in_force.mode == "closed"

    cleared = store.set_override(None, until=None, set_by="1003", now=T0 + timedelta(days=30))
    assert cleared is None
    assert store.get_override(now=T0 + timedelta(days=30)) is None


def test_the_latest_override_wins(store: Store) -> None:
    store.set_override("closed", until=None, set_by="1001", now=T0)
    store.set_override("open", until=T0 + timedelta(hours=2), set_by="1002", now=T0)
    in_force = store.get_override(now=T0 + timedelta(hours=1))
    assert in_force is not None and (in_force.mode, in_force.set_by) == ("open", "1002")


@pytest.mark.parametrize(
    ("mode", "until", "message"),
    [
        ("siesta", None, "unknown mode"),
        (None, T0 + timedelta(hours=1), "takes no 'until'"),
        ("lunch", T0 - timedelta(minutes=1), "not in the future"),
    ],
)
def test_an_invalid_override_is_refused(
    store: Store, mode: str | None, until: datetime | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.set_override(mode, until=until, set_by="1001", now=T0)
    assert store.get_override(now=T0) is None


# --- concurrency and the worker thread ----------------------------------------------------


def test_writes_from_50_concurrent_greenlets_all_land(store: Store, db_path: Path) -> None:
    def one_call(n: int) -> None:
        start(store, f"call-{n:02d}", at=T0 + timedelta(seconds=n))
        store.call_progress(
            f"call-{n:02d}", path=[{"node": "menu", "key": "1", "at": 1.0}], reason=None, at=T0
        )
        finish(store, f"call-{n:02d}")

    greenlets = [gevent.spawn(one_call, n) for n in range(50)]
    gevent.joinall(greenlets, timeout=30, raise_error=True)

    assert all(g.successful() for g in greenlets)
    done = store.calls()
    assert len(done) == 50
    assert {c["outcome"] for c in done} == {"answered"}
    assert raw(db_path).execute(
        "SELECT count(*) FROM calls WHERE ended_at IS NOT NULL"
    ).fetchone() == (50,)


def test_every_statement_runs_in_one_worker_thread_and_the_hub_keeps_running(
    store: Store,
) -> None:
    get_ident = get_original("threading", "get_ident")
    blocking_sleep = get_original("time", "sleep")
    worker_threads = {store._run(lambda db: get_ident()) for _ in range(5)}
    assert len(worker_threads) == 1
    assert worker_threads != {get_ident()}

    ticks = 0

    def ticker() -> None:
        nonlocal ticks
        while True:
            gevent.sleep(0.01)
            ticks += 1

    ticking = gevent.spawn(ticker)
    gevent.sleep(0)
    store._run(lambda db: blocking_sleep(0.3))  # a slow fsync, as on an SD card
    ticking.kill()
    assert ticks >= 10


def test_a_closed_store_refuses_work(db_path: Path) -> None:
    store = Store(db_path)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(StoreClosed):
        store.get_call("call-1")


# --- the rule that only the store speaks SQL ----------------------------------------------


SQL = re.compile(r"SELECT |INSERT INTO|CREATE TABLE|PRAGMA")


def test_no_other_module_of_the_package_contains_sql() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "store.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert offenders == []


def test_staff_logins_and_logouts_are_kept_in_order_and_tell_who_is_logged_in(
    store: Store,
) -> None:
    store.staff_event("1001", "login", at=T0)
    store.staff_event("1002", "login", at=T0 + timedelta(minutes=1))
    store.staff_event("1001", "logout", at=T0 + timedelta(minutes=2))

    events = store.staff_events(since=T0 + timedelta(minutes=1))
    assert [(e.extension, e.event) for e in events] == [("1002", "login"), ("1001", "logout")]
    assert events[0].at == T0 + timedelta(minutes=1)
    assert store.logged_in_staff() == {"1002"}
    with pytest.raises(ValueError):
        store.staff_event("1001", "lunch", at=T0)


def test_a_read_cannot_write_so_every_write_goes_through_the_queue(store: Store) -> None:
    """The store's reads run read-only: a method that wrote through the read path instead of
    the write queue would fail in its first test, not lose records on a bad day."""
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._run(lambda db: db.execute("DELETE FROM calls"))
    start(store, "call-after")
    assert store.get_call("call-after") is not None


def test_feedback_answers_are_those_of_the_calls_begun_in_the_period(store: Store) -> None:
    for uuid, offset, answer in (("before", -1, 5), ("first", 0, 4), ("silent", 1, None),
                                 ("last", 2, 1), ("after", 3, 3)):
        start(store, uuid, at=T0 + timedelta(hours=offset))
        store.call_finished(uuid, ended_at=T0 + timedelta(hours=offset, minutes=5),
                            answered_at=None, path=[], reason=None, outcome="answered",
                            hangup_cause="NORMAL_CLEARING", answered_by="1001",
                            feedback=answer)

    answers = store.feedback_answers(T0, T0 + timedelta(hours=3))

    assert [(a.call_uuid, a.started_at, a.answered_by, a.answer) for a in answers] == [
        ("first", T0, "1001", 4),
        ("last", T0 + timedelta(hours=2), "1001", 1),
    ]
