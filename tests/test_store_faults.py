"""Bad days for the database: locked by another process, a full disk at start or while
running, a second daemon on the same database. Calls are answered and served whatever the
database does; what cannot be written is kept, in order, and written when it can.

A full disk without root or a tmpfs: the daemon runs as a real process whose file-size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored) is 0, so every write(2) to a file fails with EFBIG, as
write(2) fails with ENOSPC on a full disk; SQLite reports both the same way
(``disk I/O error`` when opening the WAL's shared memory or writing a page). "Space back" is
`prlimit` raising the limit of the running process.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent.subprocess
import pytest
import structlog.testing

from frontdesk.config.model import Config
from frontdesk.records import Records
from frontdesk.rehearse import Rig, moment_for
from frontdesk.sim import CallerScript, Simulator
from frontdesk.store import Store, StoreHealth, StoreUnavailable
from helpers import wait_for
from test_daemon_process import PASSWORD, DaemonProcess, stored_call, wire_to_simulator
from test_status import frontdesk
from test_systemd_unit import NotifyListener

T0 = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)
INFORMATION = CallerScript(keys=("4",))
"""The example practice's opening hours: a short call that ends with information."""


def start(store: Store, uuid: str, number: str = "0612345678") -> None:
    store.call_started(uuid, caller_number=number, caller_name="", destination="5000",
                       started_at=T0, schedule_state="open", schedule_detail="",
                       config_version="c0ffee")


def finish(store: Store, uuid: str) -> None:
    store.call_finished(uuid, ended_at=T0 + timedelta(seconds=30), answered_at=T0, path=[],
                        reason=None, outcome="information", hangup_cause="NORMAL_CLEARING")


def rows(path: Path) -> list[tuple[str, str | None]]:
    """(uuid, outcome) of every call, read as another process would."""
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT uuid, outcome FROM calls ORDER BY rowid").fetchall()


class Shell:
    """A technician's sqlite3 shell left inside a write transaction."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# --- the store's queue, in this process ---------------------------------------------------


@pytest.fixture
def quick_lock(monkeypatch) -> None:
    """A statement gives up on another process's lock after 50 ms instead of 5 s."""
    monkeypatch.setattr("frontdesk.store.BUSY_TIMEOUT_MS", 50)


def test_writes_the_database_cannot_take_are_kept_and_written_in_order_when_it_can(
    tmp_path: Path, quick_lock
) -> None:
    path = tmp_path / "frontdesk.db"
    with Store(path) as store:
        shell = Shell(path)
        with structlog.testing.capture_logs() as logs:
            start(store, "call-1")
            finish(store, "call-1")
            start(store, "call-2")
            assert wait_for(lambda: store.health().problem is not None, timeout=10)

            health = store.health()
            assert health.problem == "the database cannot be written: database is locked"
            assert health.pending == 3
            assert store.get_call("call-1") is None  # reads go on meanwhile
            with pytest.raises(StoreUnavailable, match="database is locked"):
                store.check_writable(timeout=0.05)

            shell.release()
            assert wait_for(lambda: store.health().problem is None, timeout=30)
            assert store.flush()

        assert rows(path) == [("call-1", "information"), ("call-2", None)]
        assert store.health() == StoreHealth(problem=None, pending=0, dropped=0)
        failing = [entry for entry in logs if entry["event"] == "store.records_failing"]
        assert len(failing) == 1 and failing[0]["log_level"] == "error"


def test_beyond_the_bound_the_oldest_writes_are_dropped_and_said_so(
    tmp_path: Path, quick_lock
) -> None:
    path = tmp_path / "frontdesk.db"
    with Store(path, max_pending=2) as store:
        shell = Shell(path)
        with structlog.testing.capture_logs() as logs:
            for n in range(1, 5):
                start(store, f"call-{n}")
            # call-1 may be in the worker's hands, failing, while the others queue up
            assert wait_for(lambda: (store.health().dropped, store.health().pending) == (2, 2),
                            timeout=10)
            shell.release()
            assert wait_for(lambda: store.flush(), timeout=30)

    assert rows(path) == [("call-3", None), ("call-4", None)]
    dropped = [entry for entry in logs if entry["event"] == "store.records_dropped"]
    assert len(dropped) == 1 and dropped[0]["kept"] == 2


def test_a_write_whose_result_is_needed_is_refused_while_writes_fail(
    tmp_path: Path, quick_lock
) -> None:
    """It cannot overtake the writes waiting before it: the caller is told at once."""
    path = tmp_path / "frontdesk.db"
    with Store(path) as store:
        shell = Shell(path)
        start(store, "call-1")
        assert wait_for(lambda: store.health().problem is not None, timeout=10)

        with pytest.raises(StoreUnavailable, match="database is locked"):
            store.set_override("closed", until=None, set_by="1001", now=T0)
        shell.release()
        assert wait_for(lambda: store.flush(), timeout=30)
        assert store.get_override(now=T0) is None
        assert [uuid for uuid, _ in rows(path)] == ["call-1"]


def test_on_a_calls_path_a_store_that_refuses_or_fails_is_logged_and_never_raises(
    tmp_path: Path, quick_lock
) -> None:
    """What the daemon, the queue and the callbacks do with the store (frontdesk.records):
    a refusal or a bug is logged with the operation's name, and the call goes on."""
    path = tmp_path / "frontdesk.db"
    with Store(path) as store:
        records = Records(store, structlog.get_logger())
        shell = Shell(path)
        start(store, "call-1")
        assert wait_for(lambda: store.health().problem is not None, timeout=10)

        with structlog.testing.capture_logs() as logs:
            refused = records(Store.callback_requested, "call-1", number="0612345678",
                              call_started_at=T0, requested_at=T0, extensions=("201",))
            failed = records(Store.staff_event, "201", "lunch", at=T0)  # not login nor logout
        shell.release()

    assert (refused, failed) == (None, None)
    assert [(e["event"], e["operation"]) for e in logs if "operation" in e] == [
        ("store.unavailable", "callback_requested"),
        ("store.write_failed", "staff_event"),
    ]


# --- callers answered while another process holds the write lock -------------------------


@pytest.fixture
def slow_lock(monkeypatch) -> None:
    """A statement waits a minute for another process's lock: longer than any wait below,
    so a caller answered while the shell holds the lock was not made to wait on it."""
    monkeypatch.setattr("frontdesk.store.BUSY_TIMEOUT_MS", 60_000)


def test_callers_are_answered_while_another_process_holds_the_write_lock(
    practice: Config, tmp_path: Path, slow_lock
) -> None:
    with Rig(practice, tmp_path) as rig:
        database = tmp_path / "rehearse.db"
        shell = Shell(database)
        try:
            opening = moment_for("open", rig.config, rig.now)
            calls = [rig.place(INFORMATION, at=opening, caller_number=f"063998000{n}")
                     for n in range(6)]
            assert wait_for(lambda: all(c.answered_after is not None for c in calls), 20)
            assert rows(database) == []  # no write went through: nobody waited for one
        finally:
            shell.release()
        assert all(c.wait_done(30) for c in calls)
        assert wait_for(lambda: len(rows(database)) == 6, timeout=30)
        assert rig.daemon.store is not None and rig.daemon.store.flush(timeout=30)
        assert {outcome for _, outcome in rows(database)} == {"information"}


# --- the daemon as a real process on a full disk -------------------------------------------


def full_disk() -> None:
    """In the daemon's process before exec: every write to a file fails (EFBIG)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def fill_disk(process: DaemonProcess) -> None:
    resource.prlimit(process.process.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def free_space(process: DaemonProcess) -> None:
    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    resource.prlimit(process.process.pid, resource.RLIMIT_FSIZE, unlimited)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(password=PASSWORD, daemon_address=None, time_scale=0.01,
                          heartbeat_interval=0)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def config_file(practice_dir: Path, sim: Simulator) -> Path:
    config = practice_dir / "frontdesk.toml"
    wire_to_simulator(config, sim)
    # The daemon reads the wall clock: keep the practice open whatever the hour of the test.
    assert frontdesk("override", "open", "--config", str(config)).returncode == 0
    return config


def status_text(config_file: Path) -> str:
    done = frontdesk("status", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_daemon_starts_on_a_full_disk_serves_calls_and_records_them_once_space_is_back(
    config_file: Path, sim: Simulator
) -> None:
    daemon = DaemonProcess(config_file, preexec_fn=full_disk)
    try:
        daemon.wait_for_log("daemon.started")
        daemon.wait_for_log("freeswitch.connected")
        assert daemon.saw("store.records_failing",
                          problem="the database cannot be opened: disk I/O error")

        call = sim.place_call(INFORMATION)
        assert call.wait_done(10)
        daemon.wait_for_log("call.finished", call=call.uuid)
        (outcome,) = {line["outcome"] for line in daemon.lines
                      if line.get("event") == "call.finished"}
        text = status_text(config_file)
        assert "calls NOT recorded: the database cannot be opened: disk I/O error" in text
        assert "record(s) kept in memory" in text
        assert stored_call(config_file, call.uuid) is None

        free_space(daemon)
        daemon.wait_for_log("store.records_resumed", timeout=30)
        assert wait_for(lambda: (stored_call(config_file, call.uuid) or {}).get("outcome"),
                        timeout=10)
        assert stored_call(config_file, call.uuid)["outcome"] == outcome
        assert "NOT recorded" not in status_text(config_file)
    finally:
        daemon.kill()


def test_systemd_is_told_calls_are_not_recorded_and_the_watchdog_goes_on(
    config_file: Path, tmp_path: Path
) -> None:
    listener = NotifyListener(str(tmp_path / "notify"))
    env = dict(os.environ, NOTIFY_SOCKET=listener.env_value, WATCHDOG_USEC="1000000")
    process = gevent.subprocess.Popen(
        [sys.executable, "-m", "frontdesk.cli", "run", "--config", str(config_file)],
        env=env, stdout=gevent.subprocess.DEVNULL, stderr=gevent.subprocess.DEVNULL,
        preexec_fn=full_disk,
    )
    try:
        listener.wait_for(lambda m: "calls NOT recorded: the database cannot be opened: disk "
                          "I/O error" in m)
        listener.messages.clear()
        listener.wait_for(lambda m: m == "WATCHDOG=1", timeout=5)

        resource.prlimit(process.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        listener.wait_for(lambda m: m.startswith("STATUS=") and "NOT recorded" not in m,
                          timeout=30)
    finally:
        process.kill()
        process.wait()
        listener.close()


def test_a_disk_that_fills_while_running_loses_no_record_and_says_so(
    config_file: Path, sim: Simulator
) -> None:
    daemon = DaemonProcess(config_file)
    try:
        daemon.wait_for_log("freeswitch.connected")
        fill_disk(daemon)

        calls = [sim.place_call(INFORMATION, caller_number=f"063998000{n}") for n in range(4)]
        assert all(call.wait_done(10) for call in calls)
        assert wait_for(lambda: sum(daemon.saw("call.finished", call=c.uuid) for c in calls) == 4,
                        timeout=10)
        daemon.wait_for_log("store.records_failing",
                            problem="the database cannot be written: disk I/O error")
        assert "calls NOT recorded: the database cannot be written: disk I/O error" in (
            status_text(config_file))
        assert all(stored_call(config_file, call.uuid) is None for call in calls)

        free_space(daemon)
        daemon.wait_for_log("store.records_resumed", timeout=30)
        assert wait_for(lambda: all(stored_call(config_file, c.uuid) is not None
                                    and stored_call(config_file, c.uuid)["ended_at"] is not None
                                    for c in calls), timeout=10)
        for call in calls:
            assert stored_call(config_file, call.uuid)["outcome"] == "information"
        assert "NOT recorded" not in status_text(config_file)
    finally:
        daemon.kill()


# --- a second daemon on the same database -------------------------------------------------


def test_a_second_daemon_on_the_same_database_is_refused_and_changes_nothing(
    config_file: Path, sim: Simulator
) -> None:
    first = DaemonProcess(config_file)
    try:
        first.wait_for_log("freeswitch.connected")
        sim.time_scale = 0.2  # the call is still in progress when the second one tries
        call = sim.place_call(CallerScript(keys=("",) * 10))
        assert wait_for(lambda: stored_call(config_file, call.uuid) is not None, timeout=10)

        second = DaemonProcess(config_file)

        assert second.wait() == 1
        refusal = f"another frontdesk is running with this database (pid {first.process.pid})"
        assert any(refusal in line.get("event", "") for line in second.lines), second.lines
        assert stored_call(config_file, call.uuid)["ended_at"] is None
        assert not second.saw("calls.interrupted_by_previous_stop")
        assert "Calls in progress: 1" in status_text(config_file)
    finally:
        first.kill()


def test_the_lock_goes_with_the_daemon_however_it_ends(config_file: Path) -> None:
    killed = DaemonProcess(config_file)
    killed.wait_for_log("daemon.started")
    killed.kill()

    again = DaemonProcess(config_file)
    try:
        again.wait_for_log("daemon.started")
    finally:
        again.signal(signal.SIGTERM)
        assert again.wait() == 0

