"""The systemd unit (systemd/frontdesk.service), and its ExecStart run as systemd runs it:
a clean environment, NOTIFY_SOCKET and WATCHDOG_USEC, READY/STATUS/WATCHDOG read back."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import gevent
import gevent.socket
import gevent.subprocess
import pytest

from frontdesk.config.model import FreeswitchSettings
from frontdesk.config.schema import FREESWITCH
from frontdesk.sdnotify import notify, notify_address, watchdog_seconds
from frontdesk.sim import Simulator
from test_daemon_process import PASSWORD, free_port, set_key

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "frontdesk.service"
EXEC = "/opt/frontdesk/venv/bin/frontdesk"
CONFIG = "/etc/frontdesk/frontdesk.toml"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_the_unit_is_a_notify_service_with_a_watchdog_restarted_on_failure() -> None:
    parsed = unit()
    assert parsed.sections() == ["Unit", "Service", "Install"]
    assert parsed["Unit"]["After"].split() == ["network.target", "freeswitch.service"]
    assert parsed["Unit"]["Wants"] == "freeswitch.service"
    service = parsed["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["ExecStart"] == f"{EXEC} run --config {CONFIG}"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert parsed["Install"]["WantedBy"] == "multi-user.target"


def test_the_file_limit_leaves_room_for_the_most_calls_the_config_allows() -> None:
    """A call holds one descriptor: max_calls must be refused long before the limit is hit
    (systemd's default of 1024 was as high as the old fixed max_calls of 1000)."""
    limit = int(unit()["Service"]["LimitNOFILE"])
    most_calls = FREESWITCH.fields["max_calls"].maximum
    assert most_calls * 2 <= limit
    assert FreeswitchSettings.max_calls * 10 <= limit


def test_the_unit_runs_as_its_own_user_with_only_the_state_directory_writable() -> None:
    service = unit()["Service"]
    assert service["User"] == "frontdesk"
    assert "dialout" in service["SupplementaryGroups"].split()
    assert service["StateDirectory"] == "frontdesk"
    assert service["ReadWritePaths"] == "/var/lib/frontdesk"
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    assert service["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_INET", "AF_INET6"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_analyze_verify_accepts_the_unit() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Outside the appliance the daemon is not installed: that one complaint is expected.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and f"Command {EXEC} is not executable" not in line
    ]
    assert problems == []


# -- the notification protocol ----------------------------------------------------------------


class NotifyListener:
    """The datagram socket systemd listens on; `messages` collects what the daemon sent."""

    def __init__(self, address: str) -> None:
        self.env_value = address
        self.sock = gevent.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(notify_address({"NOTIFY_SOCKET": address}))
        self.messages: list[str] = []

    def wait_for(self, predicate, timeout: float = 15.0) -> str:
        """The first message (from now on, or already received) for which predicate holds."""
        with gevent.Timeout(timeout, AssertionError(f"not received; got {self.messages[-5:]}")):
            for message in self.messages:
                if predicate(message):
                    return message
            while True:
                message = self.sock.recv(4096).decode()
                self.messages.append(message)
                if predicate(message):
                    return message

    def drain(self, seconds: float = 0.2) -> None:
        """Collect what arrives within `seconds`."""
        with gevent.Timeout(seconds, False):
            while True:
                self.messages.append(self.sock.recv(4096).decode())

    def close(self) -> None:
        self.sock.close()


def test_notify_sends_one_datagram_to_a_path_or_an_abstract_socket(tmp_path: Path) -> None:
    for address in (str(tmp_path / "notify"), f"@frontdesk-test-{os.getpid()}"):
        listener = NotifyListener(address)
        try:
            assert notify("READY=1", "STATUS=ok", environ={"NOTIFY_SOCKET": address})
            assert listener.wait_for(lambda m: True, timeout=2) == "READY=1\nSTATUS=ok"
        finally:
            listener.close()


def test_outside_systemd_notify_does_nothing_and_there_is_no_watchdog() -> None:
    assert notify("READY=1", environ={}) is False
    assert watchdog_seconds({}) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None


@pytest.fixture
def sim():
    simulator = Simulator(password=PASSWORD, daemon_address=None, heartbeat_interval=0)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def config(practice_dir: Path, sim: Simulator) -> Path:
    config = practice_dir / "frontdesk.toml"
    set_key(config, "esl_port", str(sim.esl_port))
    set_key(config, "listen_port", str(free_port()))
    return config


def exec_start(config: Path, notify_socket: str, watchdog_usec: int):
    """The unit's ExecStart, pointed at this checkout's venv and `config`, in the clean
    environment systemd gives a service."""
    argv = shlex.split(unit()["Service"]["ExecStart"])
    argv = [str(Path(sys.executable).parent / "frontdesk") if a == EXEC else a for a in argv]
    argv = [str(config) if a == CONFIG else a for a in argv]
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "NOTIFY_SOCKET": notify_socket,
        "WATCHDOG_USEC": str(watchdog_usec),
    }
    return gevent.subprocess.Popen(argv, env=env, stdout=gevent.subprocess.DEVNULL)


@pytest.fixture
def listener(tmp_path: Path):
    notify_socket = NotifyListener(str(tmp_path / "notify"))
    yield notify_socket
    notify_socket.close()


@pytest.fixture
def running(config: Path, listener: NotifyListener):
    process = exec_start(config, listener.env_value, watchdog_usec=1_000_000)
    yield process
    process.terminate()
    process.wait(timeout=15)


def test_exec_start_tells_systemd_ready_status_and_keeps_the_watchdog_fed(
    running, listener: NotifyListener, config: Path
) -> None:
    ready = listener.wait_for(lambda m: "READY=1" in m)
    assert "STATUS=0 call(s) in progress" in ready
    listener.wait_for(lambda m: "FreeSWITCH connected" in m)
    listener.wait_for(lambda m: m == "WATCHDOG=1")
    listener.messages.clear()
    listener.wait_for(lambda m: m == "WATCHDOG=1", timeout=2)  # every WatchdogSec/2

    running.terminate()
    assert running.wait(timeout=15) == 0
    listener.drain()
    assert "STOPPING=1\nSTATUS=stopping" in listener.messages


def test_a_locked_database_shows_in_the_status_but_does_not_stop_the_watchdog(
    running, listener: NotifyListener, practice_dir: Path
) -> None:
    listener.wait_for(lambda m: m == "WATCHDOG=1")
    # A technician's sqlite3 shell left inside a write transaction: no call can be recorded,
    # but calls are still served; a restart would cut them all and unlock nothing.
    shell = sqlite3.connect(practice_dir.parent / "var" / "frontdesk.db", isolation_level=None)
    shell.execute("BEGIN IMMEDIATE")
    listener.wait_for(lambda m: "calls NOT recorded: the database cannot be written" in m)
    listener.messages.clear()
    listener.wait_for(lambda m: m == "WATCHDOG=1", timeout=5)

    shell.execute("ROLLBACK")
    shell.close()
    listener.wait_for(lambda m: m.startswith("STATUS=") and "NOT recorded" not in m, timeout=5)
