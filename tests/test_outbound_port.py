"""The daemon's outbound-socket port seen from another local process: only FreeSWITCH's
connections (the dialplan's token in the connect reply) become calls, a connection cannot take
over another call's record, and connections that never give a proper connect reply cannot
exhaust the daemon's memory. The real daemon (rehearse.Rig) over TCP; the attacker is a raw
socket speaking ESL like FreeSWITCH."""

from __future__ import annotations

import dataclasses
import re
import tracemalloc
from datetime import datetime
from zoneinfo import ZoneInfo

import gevent
import gevent.socket
import pytest
import structlog

from esl_fakes import Peer, blocks
from frontdesk.esl import socket_token
from frontdesk.rehearse import RealTimeAt, Rig
from frontdesk.sim import CallerScript
from helpers import wait_for

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
CAPTURED_REPLY = [b for b in blocks("outbound-call-flow") if b["dir"] == "s2c"][0]["data"].encode()
FORGED_UUID = "5e1f0a2b-0000-4000-8000-00000000beef"
MIB = 1024 * 1024


def connect_reply(
    *, uuid: str | None = FORGED_UUID, destination: str = "5000", caller: str = "0639980001",
    token: str | None = None,
) -> bytes:
    """The captured connect reply of a call, with these values (None: the header left out)."""
    head = CAPTURED_REPLY
    for header, value in (
        ("Caller-Destination-Number", destination),
        ("Caller-Caller-ID-Number", caller),
        ("Unique-ID", uuid),
    ):
        line = b"" if value is None else f"{header}: {value}\n".encode()
        head = re.sub(rb"(?m)^" + re.escape(header.encode()) + rb": .*\n", line, head, count=1)
    if token is not None:
        head = head.replace(
            b"Content-Type: command/reply", f"variable_frontdesk_token: {token}\n".encode()
            + b"Content-Type: command/reply"
        )
    return head


def pose_as_freeswitch(rig: Rig, reply: bytes) -> Peer:
    """Connect to the daemon's call port as FreeSWITCH would, answer its `connect`."""
    peer = Peer(gevent.socket.create_connection(("127.0.0.1", rig.daemon.port)))
    assert peer.command() == "connect"
    peer.send(reply)
    return peer


def refused(peer: Peer) -> bool:
    """The daemon closed the connection without sending anything after `connect`."""
    try:
        peer.command(timeout=5)
    except EOFError:
        return True
    finally:
        peer.close()
    return False


def token_of(rig: Rig) -> str:
    return socket_token(rig.daemon.config.freeswitch.esl_password)


@pytest.mark.parametrize("token", [None, "", "0" * 64, "wrong"])
def test_a_feature_code_without_the_dialplans_token_changes_nothing(rig, token):
    with structlog.testing.capture_logs() as logs:
        peer = pose_as_freeswitch(rig, connect_reply(destination="*60", caller="1001", token=token))
        assert refused(peer)

    assert rig.daemon.store.get_override(now=TUESDAY_MORNING) is None
    assert rig.daemon.store.staff_events() == []
    warnings = [e for e in logs if e["event"] == "esl.connection_refused"]
    assert len(warnings) == 1 and "frontdesk_token" in warnings[0]["reason"]
    assert token_of(rig) not in repr(logs)


def test_a_patients_call_without_the_token_is_not_taken_nor_recorded(rig):
    peer = pose_as_freeswitch(rig, connect_reply(uuid=FORGED_UUID))
    assert refused(peer)

    assert rig.daemon.store.calls() == []


def test_refused_connections_are_logged_once_not_once_each(rig):
    with structlog.testing.capture_logs() as logs:
        for _ in range(20):
            assert refused(pose_as_freeswitch(rig, connect_reply(destination="*51")))

    assert len([e for e in logs if e["event"] == "esl.connection_refused"]) == 1
    assert [e for e in logs if e["log_level"] in ("warning", "error")] == [
        e for e in logs if e["event"] == "esl.connection_refused"
    ]


def test_the_simulated_dialplan_shows_the_token_and_its_calls_are_served(rig):
    call, result = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)

    assert result is not None and result.outcome not in ("failed", "interrupted")
    assert rig.daemon.store.get_call(call.uuid) is not None


def test_a_connection_repeating_a_recorded_unique_id_leaves_that_record_alone(rig):
    call, result = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)
    assert result is not None
    before = rig.daemon.store.get_call(call.uuid)

    with structlog.testing.capture_logs() as logs:
        peer = pose_as_freeswitch(rig, connect_reply(uuid=call.uuid, token=token_of(rig)))
        assert refused(peer)

    assert rig.daemon.store.get_call(call.uuid) == before
    assert [e["reason"] for e in logs if e["event"] == "call.refused"] == [
        "the Unique-ID of a recorded call"
    ]
    assert not any("0639980001" in str(value) for e in logs for value in e.values())


def test_a_connection_repeating_the_unique_id_of_a_call_in_progress_is_refused(
    practice, tmp_path
):
    with Rig(practice, tmp_path, answer_after=None, clock=RealTimeAt()) as rig:
        call = rig.place(CallerScript(), at=TUESDAY_MORNING)
        assert wait_for(lambda: call.uuid in rig.daemon.live_calls, timeout=10)
        live = rig.daemon.live_calls[call.uuid]

        peer = pose_as_freeswitch(rig, connect_reply(uuid=call.uuid, token=token_of(rig)))
        assert refused(peer)

        assert rig.daemon.live_calls.get(call.uuid) is live
        assert rig.daemon.store.get_call(call.uuid)["caller_number"] == "0639980001"
        assert not call.done.is_set()


def test_a_connection_with_no_unique_id_is_refused(rig):
    peer = pose_as_freeswitch(rig, connect_reply(uuid=None, token=token_of(rig)))
    assert refused(peer)

    assert rig.daemon.store.calls() == []


def _oversized(rig: Rig, payload: bytes) -> None:
    """One connection that answers `connect` with `payload` and waits for the daemon to close."""
    peer = Peer(gevent.socket.create_connection(("127.0.0.1", rig.daemon.port)))
    assert peer.command() == "connect"
    try:
        peer.send(payload)
    except OSError:
        pass  # the daemon closed it while we were still sending
    assert peer.at_eof(timeout=15)
    peer.close()


def test_oversized_connect_replies_leave_the_memory_bounded_and_calls_are_served_after(rig):
    """60 connections each sending a 1 MiB header block (a real connect reply is ~6 KB): the
    daemon holds a few MiB at most, keeps none of it, and takes the next real call."""
    payload = b"X-Filler: " + b"a" * (MIB - 100)  # under the 1 MiB of an established call
    clients = 60
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        gevent.joinall(
            [gevent.spawn(_oversized, rig, payload) for _ in range(clients)], raise_error=True
        )
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak - baseline < 16 * MIB, f"peak {(peak - baseline) / MIB:.1f} MiB"
    assert current - baseline < 4 * MIB, f"kept {(current - baseline) / MIB:.1f} MiB"
    call, result = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)
    assert result is not None and result.outcome not in ("failed", "interrupted")


def test_a_call_over_max_calls_goes_to_freeswitchs_fallback(practice, tmp_path):
    fs = dataclasses.replace(practice.freeswitch, max_calls=1)
    config = dataclasses.replace(practice, freeswitch=fs)
    with Rig(config, tmp_path, answer_after=None, clock=RealTimeAt()) as rig:
        first = rig.place(CallerScript(), at=TUESDAY_MORNING)
        assert wait_for(lambda: first.uuid in rig.daemon.live_calls, timeout=10)

        second = rig.place(CallerScript(), at=TUESDAY_MORNING, caller_number="0639980002")

        assert second.wait_done(30)
        assert second.fallback_ran
        assert rig.daemon.store.get_call(second.uuid) is None
        assert first.uuid in rig.daemon.live_calls
