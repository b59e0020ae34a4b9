"""Seen from outside: `frontdesk status` and `frontdesk staff` against the running daemon
(its local socket), and what it refuses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import gevent.subprocess
import pytest

from frontdesk.sim import CallerScript, Simulator
from helpers import wait_for
from test_cli import into_a_closed_pipe
from test_daemon_process import PASSWORD, DaemonProcess, wire_to_simulator

DESK = ("1001", "1002", "1003")
TO_THE_DESK = CallerScript(keys=("0",))  # the operator key
"""New appointment: the front-desk queue (1001-1003)."""


@pytest.fixture
def sim():
    simulator = Simulator(password=PASSWORD, daemon_address=None, time_scale=0.01,
                          heartbeat_interval=0)
    simulator.start()
    for extension in DESK:
        simulator.add_phone(extension, answer_after=None)  # the caller keeps waiting
    yield simulator
    simulator.stop()


@pytest.fixture
def config_file(practice_dir: Path, sim: Simulator) -> Path:
    config = practice_dir / "frontdesk.toml"
    wire_to_simulator(config, sim)
    assert frontdesk("override", "open", "--config", str(config)).returncode == 0
    return config


@pytest.fixture
def daemon(config_file: Path):
    process = DaemonProcess(config_file)
    process.wait_for_log("daemon.started")
    process.wait_for_log("freeswitch.connected")
    yield process
    process.kill()


def frontdesk(*args: str) -> subprocess.CompletedProcess:
    return gevent.subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", *args], capture_output=True, text=True
    )


def status_json(config_file: Path) -> dict:
    done = frontdesk("status", "--json", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_status_shows_the_waiting_caller_and_the_staff_phones(daemon, sim, config_file):
    call = sim.place_call(TO_THE_DESK, caller_number="0639981234")
    assert wait_for(lambda: status_json(config_file)["waiting"], timeout=10)
    assert frontdesk("staff", "logout", "1003", "--config", str(config_file)).returncode == 0

    table = frontdesk("status", "--config", str(config_file))

    assert table.returncode == 0, table.stderr
    text = table.stdout
    assert "Practice open, forced by cli" in text
    assert "FreeSWITCH connected" in text
    assert "Waiting: 1" in text
    assert "06******34" in text and "0639981234" not in text
    staff = {line.split()[0]: line for line in text.splitlines()[1:] if line.startswith("  10")}
    assert set(DESK) <= set(staff)
    assert "logged out" in staff["1003"]
    assert "Calls in progress: 1" in text
    assert not call.done.is_set()


def test_status_into_a_pipe_closed_early_ends_quietly(daemon, config_file):
    """`frontdesk status | head -1`: head exits after one line, status gets EPIPE."""
    done = into_a_closed_pipe("status", "--json", "--config", str(config_file))

    assert done.stderr == ""
    assert done.returncode == 128 + 13


def test_status_json_is_the_same_state_for_scripts(daemon, sim, config_file):
    call = sim.place_call(TO_THE_DESK)
    assert wait_for(lambda: status_json(config_file)["waiting"], timeout=10)

    state = status_json(config_file)

    (waiting,) = state["waiting"]
    assert (waiting["position"], waiting["call"], waiting["state"]) == (1, call.uuid, "waiting")
    assert waiting["waited"] >= 0 and waiting["estimate"] is not None
    assert set(DESK) <= {row["extension"] for row in state["staff"]}
    assert all({"state", "since", "logged_in"} <= set(row) for row in state["staff"])
    assert state["freeswitch_connected"] is True
    assert state["practice"]["override"]["mode"] == "open"
    assert [row["call"] for row in state["calls"]] == [call.uuid]
    assert state["queue"]["waiting"] == 1


def test_staff_logout_and_login_from_the_command_line_change_who_is_rung(
    daemon, sim, config_file
):
    config = str(config_file)
    for ext in ("1001", "1002"):
        done = frontdesk("staff", "logout", ext, "--config", config)
        assert done.returncode == 0 and "logged out" in done.stdout
    sim.place_call(TO_THE_DESK)
    daemon.wait_for_log("queue.staff_state", extension="1003", state="ringing")
    assert frontdesk("staff", "logout", "1003", "--config", config).returncode == 0
    assert frontdesk("staff", "login", "1001", "--config", config).returncode == 0

    daemon.wait_for_log("queue.staff_state", extension="1001", state="ringing")

    assert not daemon.saw("queue.staff_state", extension="1002", state="ringing")
    rows = {row["extension"]: row for row in status_json(config_file)["staff"]}
    assert (rows["1001"]["logged_in"], rows["1002"]["logged_in"]) == (True, False)
    assert not rows["1003"]["logged_in"]


def test_staff_refuses_an_extension_that_is_not_a_staff_phone(daemon, config_file):
    done = frontdesk("staff", "login", "1099", "--config", str(config_file))

    assert done.returncode == 1
    assert "1099 is not a staff phone" in done.stderr


def test_status_says_so_when_the_daemon_is_not_running(config_file):
    done = frontdesk("status", "--config", str(config_file))

    assert done.returncode == 1
    assert "the daemon is not running" in done.stderr
    assert done.stdout == ""


def _listening_tcp_ports(pid: int) -> set[tuple[str, int]]:
    """(address hex, port) of every TCP socket of `pid` in LISTEN state."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                address, port = local.split(":")
                found.add((address, int(port, 16)))
    return found


def test_the_endpoint_is_a_socket_file_and_no_tcp_port(daemon, config_file):
    endpoint = config_file.parent.parent / "var" / "frontdesk.sock"
    listen_port = int(sim_port(config_file))

    assert endpoint.is_socket()
    assert endpoint.stat().st_mode & 0o777 == 0o660
    assert _listening_tcp_ports(daemon.process.pid) == {("0100007F", listen_port)}


def sim_port(config_file: Path) -> str:
    text = config_file.read_text(encoding="utf-8")
    return next(line.split("=")[1].strip() for line in text.splitlines()
                if line.startswith("listen_port"))


CONNECT_AS_NOBODY = """
import json, os, socket, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
with socket.socket(socket.AF_UNIX) as sock:
    try:
        sock.connect(sys.argv[1])
    except PermissionError:
        print("EACCES"); sys.exit()
    try:
        sock.sendall(b"staff logout 1001\\n")
    except BrokenPipeError:
        pass  # refused before the request was read: the reply is waiting
    print(json.loads(sock.makefile().readline())["error"])
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_another_user_cannot_use_the_endpoint(tmp_path, daemon, config_file):
    endpoint = config_file.parent.parent / "var" / "frontdesk.sock"
    # Let "nobody" reach the directory (pytest's tmp dirs are 0700), then try the socket.
    for directory in [endpoint.parent, *endpoint.parent.parents]:
        if directory == Path("/tmp"):
            break
        directory.chmod(directory.stat().st_mode | 0o711)

    def attempt() -> str:
        done = gevent.subprocess.run([sys.executable, "-c", CONNECT_AS_NOBODY, str(endpoint)],
                                     capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert attempt() == "EACCES"  # mode 0660: the file system refuses
    endpoint.chmod(0o666)  # a socket made wider by mistake: the peer's uid is checked too
    assert attempt() == "permission denied"
    assert daemon.saw("control.refused", uid=65534)
    rows = {row["extension"]: row for row in status_json(config_file)["staff"]}
    assert rows["1001"]["logged_in"]


def test_a_line_that_is_not_a_request_is_refused(daemon, config_file):
    endpoint = config_file.parent.parent / "var" / "frontdesk.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(endpoint))
        sock.sendall(b"drop table calls\n")
        reply = json.loads(sock.makefile().readline())

    assert reply["ok"] is False and "unknown request" in reply["error"]
