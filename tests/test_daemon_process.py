"""The daemon as a real process: start-up, SIGHUP reloads, SIGTERM, and a kill -9 mid-call.

The simulator runs in the test process and the daemon is `frontdesk run`, as systemd starts it.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
from pathlib import Path

import gevent
import gevent.subprocess
import pytest

from frontdesk.cli import main
from frontdesk.sim import CallerScript, Simulator
from frontdesk.store import Store
from helpers import settled, wait_for

PASSWORD = "test-only-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def set_key(config: Path, key: str, value: str) -> None:
    """Replace the first `key = ...` line of the file (commented-out or not)."""
    text = config.read_text(encoding="utf-8")
    text, count = re.subn(rf"(?m)^#? ?{key} = .*$", f"{key} = {value}", text, count=1)
    assert count == 1, key
    config.write_text(text, encoding="utf-8")


class DaemonProcess:
    """`frontdesk run` in a child process, its JSON log lines collected as they come."""

    def __init__(
        self, config: Path, python: tuple[str, ...] = ("-m", "frontdesk.cli"), *, preexec_fn=None
    ) -> None:
        self.config = config
        self.lines: list[dict] = []
        self.process = gevent.subprocess.Popen(
            [sys.executable, *python, "run", "--config", str(config)],
            stderr=gevent.subprocess.PIPE,
            stdout=gevent.subprocess.DEVNULL,
            preexec_fn=preexec_fn,
        )
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        for raw in self.process.stderr:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"event": raw.decode(errors="replace").strip()})

    def saw(self, event: str, **fields: object) -> bool:
        return any(
            line.get("event") == event and all(line.get(k) == v for k, v in fields.items())
            for line in self.lines
        )

    def wait_for_log(self, event: str, timeout: float = 60.0, **fields: object) -> None:
        assert wait_for(lambda: self.saw(event, **fields), timeout), (event, self.lines[-20:])

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 15.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def sim():
    simulator = Simulator(password=PASSWORD, daemon_address=None, time_scale=0.01,
                          heartbeat_interval=0)
    simulator.start()
    for extension in ("1001", "1002", "1003", "1011", "1012", "1013"):
        simulator.add_phone(extension, answer_after=3.0, talk_seconds=20.0)
    for number in ("0639980001", "0639980002"):
        simulator.add_outside(number, answer_after=3.0, talk_seconds=20.0)
    yield simulator
    simulator.stop()


def wire_to_simulator(config: Path, sim: Simulator) -> None:
    """Point the config's ESL port at the simulator and the simulator at a free call port."""
    listen_port = free_port()
    set_key(config, "esl_port", str(sim.esl_port))
    set_key(config, "listen_port", str(listen_port))
    sim.daemon_address = ("127.0.0.1", listen_port)


@pytest.fixture
def config_file(practice_dir: Path, sim: Simulator) -> Path:
    config = practice_dir / "frontdesk.toml"
    wire_to_simulator(config, sim)
    # The daemon reads the wall clock: keep the practice open whatever the hour of the test.
    forced = gevent.subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", "override", "open", "--config", str(config)],
        capture_output=True,
        text=True,
    )
    assert forced.returncode == 0, forced.stderr
    assert "override: open" in forced.stdout
    return config


@pytest.fixture
def daemon(config_file: Path):
    process = DaemonProcess(config_file)
    process.wait_for_log("daemon.started")
    yield process
    process.kill()


def stored_call(config_file: Path, uuid: str) -> dict | None:
    store = Store(config_file.parent.parent / "var" / "frontdesk.db")
    try:
        return store.get_call(uuid)
    finally:
        store.close()


def test_the_daemon_takes_a_call_and_connects_to_freeswitch(daemon, sim, config_file):
    daemon.wait_for_log("freeswitch.connected")
    call = sim.place_call(CallerScript(keys=("4",)))

    assert call.wait_done(30)
    daemon.wait_for_log("call.finished", outcome="information")
    assert stored_call(config_file, call.uuid)["outcome"] == "information"


def test_the_daemon_logs_no_full_phone_number(daemon, sim):
    call = sim.place_call(CallerScript(keys=("4",)), caller_number="0639987654")
    assert call.wait_done(30)
    daemon.wait_for_log("call.finished")

    assert "0639987654" not in json.dumps(daemon.lines)


def test_the_daemon_refuses_to_start_on_an_invalid_config(config_file):
    set_key(config_file, "listen_port", "99999")

    process = DaemonProcess(config_file)

    assert process.wait() == 1
    assert any("listen_port" in line.get("event", "") for line in process.lines)


def test_sighup_with_a_broken_file_keeps_the_running_config(daemon, sim, config_file):
    good = config_file.read_text(encoding="utf-8")
    set_key(config_file, "ring_timeout", '"soon"')

    daemon.signal(signal.SIGHUP)

    daemon.wait_for_log("config.reload_refused")
    call = sim.place_call(CallerScript(keys=("4",)))
    assert call.wait_done(30)
    daemon.wait_for_log("call.finished", outcome="information")
    config_file.write_text(good, encoding="utf-8")


def test_sighup_with_a_file_nested_too_deeply_keeps_the_running_config(daemon, sim, config_file):
    good = config_file.read_text(encoding="utf-8")
    set_key(config_file, "ring_timeout", "[" * 100_000 + "]" * 100_000)

    daemon.signal(signal.SIGHUP)

    daemon.wait_for_log("config.reload_refused")
    refused = next(line for line in daemon.lines if line.get("event") == "config.reload_refused")
    assert refused["error"].startswith(f"{config_file}:")
    assert "nested too deeply" in refused["error"]
    call = sim.place_call(CallerScript(keys=("4",)))
    assert call.wait_done(30)
    daemon.wait_for_log("call.finished", outcome="information")
    config_file.write_text(good, encoding="utf-8")


def test_sighup_with_a_valid_file_applies_to_new_calls_only(daemon, sim, config_file):
    slow = sim.place_call(CallerScript(keys=("4",)))
    assert wait_for(lambda: slow.prompts_heard)
    set_key(config_file, "greeting", '"goodbye"')

    daemon.signal(signal.SIGHUP)
    daemon.wait_for_log("config.reloaded")
    fresh = sim.place_call(CallerScript(keys=("4",)))

    assert slow.wait_done(30) and fresh.wait_done(30)
    assert Path(slow.prompts_heard[0]).name == "greeting.wav"
    assert Path(fresh.prompts_heard[0]).name == "goodbye.wav"


def test_sigterm_finishes_the_records_of_calls_in_progress(daemon, sim, config_file):
    sim.time_scale = 0.2  # this call outlasts the daemon's 5 s grace at SIGTERM
    call = sim.place_call(CallerScript(keys=("",) * 10))
    assert wait_for(lambda: call.prompts_heard)

    daemon.signal(signal.SIGTERM)

    assert daemon.wait() == 0
    row = stored_call(config_file, call.uuid)
    assert row["ended_at"] is not None
    assert (row["outcome"], row["interrupted"]) == ("interrupted", True)
    assert row["path"][0]["node"] == "greeting", "the path so far is kept"
    assert daemon.saw("daemon.stopped", calls_cut=1, conversations_kept=0)


def test_a_daemon_killed_mid_call_leaves_the_call_recorded_as_interrupted(
    daemon, sim, config_file
):
    call = sim.place_call(CallerScript(keys=("",) * 10))
    assert wait_for(lambda: call.prompts_heard)
    # The row is written just after the call starts (the caller does not wait for it).
    assert wait_for(lambda: stored_call(config_file, call.uuid) is not None)

    daemon.kill()
    assert stored_call(config_file, call.uuid)["ended_at"] is None
    row = row_after_restart(config_file, call.uuid)

    assert row["outcome"] == "interrupted"
    assert row["ended_at"] is not None


def staff_inbox(config_file: Path, capsys) -> list[dict]:
    """`frontdesk messages --json`, as the staff run it."""
    capsys.readouterr()
    assert main(["messages", "--json", "--config", str(config_file)]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_message_recorded_while_the_daemon_was_killed_is_on_its_row_at_the_next_start(
    sim, config_file, capsys
):
    messages = config_file.parent.parent / "var" / "messages"
    messages.mkdir(parents=True, exist_ok=True)  # check-config requires it
    daemon = DaemonProcess(config_file)
    try:
        daemon.wait_for_log("daemon.started")
        call = sim.place_call(CallerScript(keys=("3", "1"), message_seconds=60.0))
        assert wait_for(lambda: call.recorded, 10)
    finally:
        daemon.kill()
    assert call.wait_done(30), "FreeSWITCH finishes the record, then runs the fallback"
    message = messages / f"{call.uuid}.wav"
    assert message.exists() and stored_call(config_file, call.uuid)["message_file"] is None
    settled(message)
    (waiting,) = staff_inbox(config_file, capsys)  # the daemon down: listed from the file
    assert (waiting["call"], waiting["reason"]) == (call.uuid, "prescription")

    restarted = DaemonProcess(config_file)
    try:
        restarted.wait_for_log("messages.linked_after_restart", call=call.uuid)
        restarted.wait_for_log("calls.interrupted_by_previous_stop")  # once FreeSWITCH answers
    finally:
        restarted.kill()

    row = stored_call(config_file, call.uuid)
    assert Path(row["message_file"]).resolve() == message.resolve()
    assert row["outcome"] == "interrupted"
    (item,) = staff_inbox(config_file, capsys)
    assert (item["ref"], item["reason"], item["outcome"]) == (
        waiting["ref"], "prescription", "interrupted")


def test_the_daemon_refuses_to_start_without_its_messages_directory(config_file):
    """FreeSWITCH creates no directory: without it every caller's message would be lost."""
    (config_file.parent.parent / "var" / "messages").rmdir()

    process = DaemonProcess(config_file)

    assert process.wait() == 1
    assert any(
        line.get("event", "").startswith(f"{config_file}:")
        and "storage.messages: directory not found" in line["event"]
        for line in process.lines
    )


def row_after_restart(config_file: Path, uuid: str) -> dict:
    """The call's row once a daemon started again has ended the calls the last one lost."""
    restarted = DaemonProcess(config_file)
    try:
        restarted.wait_for_log("calls.interrupted_by_previous_stop", count=1)
        return stored_call(config_file, uuid)
    finally:
        restarted.kill()


DB_POLL = {"timeout": 60.0, "step": 0.05}
"""Waiting for the daemon process to save something: it writes from its own greenlet."""


def saved(config_file: Path, uuid: str) -> dict:
    """The call's row as the daemon process saved it so far ({} before it exists)."""
    return stored_call(config_file, uuid) or {}


def talking_to_the_desk(sim: Simulator, config_file: Path):
    """A caller bridged to 1001, the daemon having saved who answered: the call, the staff
    leg's uuid and the path's "answered" step as saved then."""
    for phone in sim.phones.values():
        phone.talk_seconds = 6000  # the test ends the conversation
    call = sim.place_call(CallerScript(keys=("0",)))
    assert wait_for(lambda: saved(config_file, call.uuid).get("answered_by"), **DB_POLL)
    (leg,) = [ch.uuid for ch in sim.channels.values()
              if ch.other is not None and ch.other.uuid == call.uuid]
    return call, leg, answered_step(stored_call(config_file, call.uuid))


def answered_step(row: dict) -> dict:
    (step,) = [step for step in row["path"] if step["event"] == "answered"]
    return step


def hang_up(sim: Simulator, uuid: str) -> None:
    """That side of the call hangs up (a BYE; `uuid_kill` on FreeSWITCH)."""
    _, after = sim.api(f"uuid_kill {uuid}")
    after()


@pytest.mark.parametrize("stop", ["sigterm", "kill"])
def test_a_conversation_outlives_the_daemon_and_the_next_one_records_its_end(
    daemon, sim, config_file, stop
):
    call, leg, answered = talking_to_the_desk(sim, config_file)

    if stop == "sigterm":
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
        assert daemon.saw("daemon.stopped", calls_cut=0, conversations_kept=1)
    else:
        daemon.kill()
    assert not call.done.wait(0.2), "the conversation goes on"
    assert stored_call(config_file, call.uuid)["ended_at"] is None
    restarted = DaemonProcess(config_file)
    try:
        restarted.wait_for_log("call.adopted", call=call.uuid, answered_by="1001")
        hang_up(sim, leg)  # the staff member hangs up
        assert call.wait_done(30)
        restarted.wait_for_log("call.finished", call=call.uuid, adopted=True)
        row = stored_call(config_file, call.uuid)
    finally:
        restarted.kill()

    assert call.hangup_cause == "NORMAL_CLEARING" and not call.fallback_ran
    assert (row["outcome"], row["answered_by"], row["interrupted"]) == ("answered", "1001", False)
    assert row["answered_at"] < row["ended_at"]
    assert answered_step(row) == answered == {"node": "desk", "event": "answered",
                                              "key": "1001", "at": answered["at"]}
    # stamped when the phone answered, not at hang-up


def test_a_conversation_that_ends_while_no_daemon_runs_keeps_who_answered(
    daemon, sim, config_file
):
    call, leg, answered = talking_to_the_desk(sim, config_file)
    daemon.kill()
    seen = stored_call(config_file, call.uuid)["last_seen_at"]
    hang_up(sim, leg)
    assert call.wait_done(30) and not call.fallback_ran  # hung up, no silence

    row = row_after_restart(config_file, call.uuid)

    assert (row["outcome"], row["interrupted"]) == ("interrupted", True)
    assert (row["answered_by"], row["reason"]) == ("1001", "speak_to_someone")
    assert row["answered_at"] is not None and answered_step(row) == answered
    assert row["ended_at"] == seen


def test_a_killed_emergency_call_keeps_its_reason_and_path(daemon, sim, config_file):
    sim.time_scale = 0.2  # the emergency rings for its whole ring timeout, nobody answers
    for phone in sim.phones.values():
        phone.answer_after = None
    call = sim.place_call(CallerScript(barge="1"))
    assert wait_for(
        lambda: [step["event"] for step in saved(config_file, call.uuid).get("path", [])][-1:]
        == ["queued"],
        **DB_POLL,
    )

    daemon.kill()
    killed_at = stored_call(config_file, call.uuid)["last_seen_at"]
    row = row_after_restart(config_file, call.uuid)

    assert (row["outcome"], row["interrupted"], row["reason"]) == ("interrupted", True, "emergency")
    assert [(s["node"], s["event"]) for s in row["path"]][-2:] == [
        ("emergency", "enter"), ("emergency", "queued")
    ]
    assert row["ended_at"] == killed_at, "the last moment the daemon knew, not the restart"


def test_an_error_in_a_greenlet_is_one_json_log_line_with_its_traceback(config_file):
    """gevent's hub prints such errors itself; they must not break the JSON log."""
    failing_greenlet = (
        "-c",
        "import sys, gevent, frontdesk.cli; "
        "gevent.spawn_later(0.5, lambda: {}['missing']); "
        "sys.exit(frontdesk.cli.main(sys.argv[1:]))",
    )
    process = DaemonProcess(config_file, python=failing_greenlet)
    try:
        process.wait_for_log("greenlet.failed")
        process.wait_for_log("daemon.started")
    finally:
        process.kill()

    failure = next(line for line in process.lines if line.get("event") == "greenlet.failed")
    assert failure["level"] == "error"
    assert failure["exception"].startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in failure["exception"]
    assert all("level" in line for line in process.lines), "every line is JSON"
