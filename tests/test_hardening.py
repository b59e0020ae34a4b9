"""Hardening: secrets files 0600, a config nobody else can change, and an outbound-socket
listener that takes calls only from FreeSWITCH's host."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gevent
import gevent.event
import gevent.socket
import pytest

from esl_fakes import Peer
from frontdesk.cli import main
from frontdesk.config import ConfigError, load_config
from frontdesk.config.model import Config
from frontdesk.esl import CallSession, OutboundServer
from frontdesk.hardening import freeswitch_peers
from frontdesk.logs import mask_numbers_in
from test_daemon_process import DaemonProcess
from test_esl_outbound import CONNECT_REPLY

SECRET = "test-only-password"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_password_file_other_users_can_read_is_refused_with_the_fix(
    practice_dir: Path, mode: int
) -> None:
    secret = practice_dir / "secrets" / "esl-password"
    secret.chmod(mode)

    with pytest.raises(ConfigError) as error:
        load_config(practice_dir / "frontdesk.toml")

    [message] = error.value.errors
    assert "freeswitch.esl_password_file" in message
    assert message.endswith(f"chmod 600 {secret}")
    assert SECRET not in message


def test_a_password_written_in_a_config_anyone_can_read_is_refused(practice_dir: Path) -> None:
    config = practice_dir / "frontdesk.toml"
    text = config.read_text()
    inline = text.replace('esl_password_file = "secrets/esl-password"',
                          f'esl_password = "{SECRET}"', 1)
    assert inline != text
    config.write_text(inline)
    config.chmod(0o644)
    line = inline[: inline.index("esl_password =")].count("\n") + 1

    with pytest.raises(ConfigError) as error:
        load_config(config)

    [message] = error.value.errors
    assert message.startswith(f"{config}:{line}: freeswitch.esl_password: the password is "
                              f"written in {config}, which anyone on the box can read")
    assert SECRET not in message
    config.chmod(0o640)  # the daemon's group may read it
    assert load_config(config).freeswitch.esl_password == SECRET


def test_a_config_file_writable_by_others_is_refused(practice_dir: Path, capsys) -> None:
    config = practice_dir / "frontdesk.toml"
    config.chmod(0o666)

    assert main(["check-config", str(config)]) == 1

    err = capsys.readouterr().err
    assert f"{config}:1: file: {config} is writable by others" in err
    assert f"chmod o-w {config}" in err


def test_the_daemon_refuses_to_start_with_a_readable_secrets_file(practice_dir: Path) -> None:
    secret = practice_dir / "secrets" / "esl-password"
    secret.chmod(0o644)

    process = DaemonProcess(practice_dir / "frontdesk.toml")

    assert process.wait() == 1
    said = " ".join(str(line.get("event")) for line in process.lines)
    assert f"chmod 600 {secret}" in said
    assert SECRET not in said


def test_a_loopback_listener_takes_calls_from_any_local_process(practice: Config) -> None:
    assert freeswitch_peers(practice.freeswitch) is None


def remote(practice: Config) -> Config:
    fs = dataclasses.replace(
        practice.freeswitch, allow_remote_esl=True, listen_host="0.0.0.0", esl_host="127.0.0.2"
    )
    return dataclasses.replace(practice, freeswitch=fs)


def test_a_listener_off_loopback_takes_calls_only_from_the_freeswitch_host(
    practice: Config,
) -> None:
    peers = freeswitch_peers(remote(practice).freeswitch)
    assert peers == frozenset({"127.0.0.2"})
    handled = gevent.event.Event()

    def handler(session: CallSession) -> None:
        handled.set()

    server = OutboundServer("127.0.0.1", 0, handler, allowed_peers=peers)
    server.start()
    try:
        with gevent.socket.create_connection(("127.0.0.1", server.port), timeout=2) as stranger:
            assert stranger.recv(100) == b"", "closed at once, nothing read or sent"
        assert not handled.is_set()
        freeswitch = Peer(gevent.socket.create_connection(
            ("127.0.0.1", server.port), timeout=2, source_address=("127.0.0.2", 0)
        ))
        assert freeswitch.command() == "connect"
        freeswitch.send(CONNECT_REPLY)
        assert handled.wait(2)
        freeswitch.close()
    finally:
        server.stop()


def test_phone_numbers_inside_dial_strings_are_masked_for_the_logs() -> None:
    assert mask_numbers_in("sofia/gateway/trunk/0639980002") == "sofia/gateway/trunk/06******02"
    assert mask_numbers_in("user/1001@127.0.0.1") == "user/1001@127.0.0.1"
    assert mask_numbers_in("call 116117 or 15") == "call 116117 or 15"
