"""The local control socket (`frontdesk status`, `frontdesk staff`) under a bad day: many
clients at once, clients that never send or never read, a process out of file descriptors.
The real daemon (rehearse.Rig) and clients on its Unix socket."""

from __future__ import annotations

import json
import os
import resource
import socket

import gevent
import gevent.socket
import pytest
import structlog

from frontdesk.supervisor import Supervisor
from helpers import wait_for

EVERYONE_WAITS = 20.0
"""Seconds a test client waits for its reply (the daemon drops stuck clients after 5)."""


@pytest.fixture
def endpoint(rig):
    assert rig.daemon.control_socket.serving, "the control socket did not start"
    return rig.daemon.control_socket.path


def connected(path) -> gevent.socket.socket:
    sock = gevent.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(EVERYONE_WAITS)
    sock.connect(str(path))
    return sock


def ask(path, line: str = "status") -> dict:
    """One request as `frontdesk status` sends it; its reply ({} when there was none)."""
    with connected(path) as sock:
        sock.sendall(line.encode() + b"\n")
        reply = sock.makefile("rb").readline()
    return json.loads(reply) if reply else {}


def dropped(sock: gevent.socket.socket) -> bool:
    """The daemon closed this connection (whatever it had sent before)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def test_fifty_status_requests_at_once_all_get_a_full_reply(endpoint):
    replies = gevent.joinall([gevent.spawn(ask, endpoint) for _ in range(50)], raise_error=True)

    assert [reply.value.get("ok") for reply in replies] == [True] * 50
    assert all("practice" in reply.value["status"] for reply in replies)


def test_clients_that_never_send_or_never_read_block_nobody_and_are_dropped(endpoint):
    silent = [connected(endpoint) for _ in range(20)]
    deaf = [connected(endpoint) for _ in range(10)]

    def requests_without_reading(sock: gevent.socket.socket) -> None:
        try:
            sock.sendall(b"status\n" * 2000)  # replies overflow both socket buffers
        except OSError:
            pass  # dropped by the daemon while still sending

    flooding = [gevent.spawn(requests_without_reading, sock) for sock in deaf]

    assert ask(endpoint)["ok"] is True
    assert all(dropped(sock) for sock in silent)
    gevent.joinall(flooding, timeout=EVERYONE_WAITS)
    assert all(flood.dead for flood in flooding)
    assert all(dropped(sock) for sock in deaf)
    assert ask(endpoint)["ok"] is True
    for sock in silent + deaf:
        sock.close()


def _open_files_until_none_left() -> list[int]:
    """Descriptors opened until the (lowered) limit: accept() then fails with EMFILE."""
    opened = []
    try:
        while True:
            opened.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        return opened


def test_the_control_socket_serves_again_after_running_out_of_file_descriptors(rig, endpoint):
    waiting = [gevent.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
    filler: list[int] = []
    try:
        with structlog.testing.capture_logs() as logs:
            filler = _open_files_until_none_left()
            for sock in waiting:
                sock.connect(str(endpoint))
                sock.sendall(b"status\n")
            assert wait_for(
                lambda: any(e["event"] == "control.accept_failed" for e in logs), timeout=10
            )
            gevent.sleep(0.3)  # several more accept attempts fail meanwhile
    finally:
        for descriptor in filler:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    for sock in waiting:
        sock.settimeout(EVERYONE_WAITS)
        assert json.loads(sock.makefile("rb").readline())["ok"] is True
        sock.close()
    assert len([e for e in logs if e["event"] == "control.accept_failed"]) == 1
    assert rig.daemon.control_socket.serving
    assert ask(endpoint)["ok"] is True


def test_the_watchdog_notices_a_control_socket_that_no_longer_accepts(rig):
    supervisor = Supervisor(rig.daemon, environ={})
    assert supervisor.health_problems() == []

    rig.daemon.control_socket._accepter.kill()  # however it ended, nothing accepts any more

    assert supervisor.health_problems() == ["the control socket accepts no connections"]
