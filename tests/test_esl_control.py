"""ControlConnection against a scripted fake FreeSWITCH inbound port."""

from __future__ import annotations

import gevent
import gevent.queue
import pytest
import structlog

from esl_fakes import FakeSwitch, heartbeat
from frontdesk.esl import CommandTimeout, ConnectionLost, ControlConnection

EVENTS = ["CHANNEL_CREATE", "sofia::register", "CHANNEL_HANGUP_COMPLETE", "HEARTBEAT"]


@pytest.fixture
def switch():
    fake = FakeSwitch()
    fake.start()
    yield fake
    fake.stop()


class LogWatch(list):
    """Captured log entries (like structlog.testing.capture_logs) that tests can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: gevent.queue.Queue = gevent.queue.Queue()

    def __call__(self, _logger, method: str, event_dict: dict) -> dict:
        event_dict["log_level"] = method
        self.append(event_dict)
        self.arrived.put(event_dict)
        raise structlog.DropEvent

    def wait_for(self, event: str, count: int = 1, timeout: float = 3.0) -> list[dict]:
        with gevent.Timeout(timeout):
            while len(found := [e for e in self if e["event"] == event]) < count:
                self.arrived.get()
        return found


@pytest.fixture
def logs():
    old = structlog.get_config()
    watch = LogWatch()
    structlog.configure(processors=[watch], cache_logger_on_first_use=False)
    yield watch
    structlog.configure(**old)


def control_for(fake: FakeSwitch, **kwargs) -> tuple[ControlConnection, gevent.queue.Queue]:
    """A started connection; each on_connect call puts a token in the returned queue."""
    connects: gevent.queue.Queue = gevent.queue.Queue()
    options = {"events": EVENTS, "reply_timeout": 1.0, "max_backoff": 0.4,
               "initial_backoff": 0.05, "on_connect": lambda: connects.put(True)}
    options.update(kwargs)
    control = ControlConnection("127.0.0.1", fake.port, fake.password, **options)
    control.start()
    return control, connects


def expect_login(fake: FakeSwitch) -> str:
    """Consume auth + subscription; returns the subscription command."""
    assert fake.next_command() == f"auth {fake.password}"
    return fake.next_command()


def test_subscribes_plain_with_background_job_and_heartbeat_and_custom_last(switch):
    control, connects = control_for(switch)
    try:
        assert connects.get(timeout=3)
        assert expect_login(switch) == (
            "event plain CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE HEARTBEAT BACKGROUND_JOB "
            "CUSTOM sofia::register"
        )
        assert control.connected
    finally:
        control.stop()


def test_api_returns_the_response_body(switch):
    switch.api_results["show channels count"] = "\n0 total.\n"
    control, _ = control_for(switch)
    try:
        assert control.wait_connected(3)
        assert control.api("show channels count") == "\n0 total.\n"
    finally:
        control.stop()


def test_bgapi_sends_its_own_job_uuid_and_returns_the_job_body(switch):
    switch.bgapi_results["originate user/1002 &park()"] = "-ERR USER_NOT_REGISTERED\n"
    control, _ = control_for(switch)
    try:
        assert control.wait_connected(3)
        expect_login(switch)
        assert control.bgapi("originate user/1002 &park()") == "-ERR USER_NOT_REGISTERED\n"
        sent = switch.next_command()
        assert sent.startswith("bgapi originate user/1002 &park()\nJob-UUID: ")
    finally:
        control.stop()


def test_api_without_reply_times_out(switch):
    switch.hold.add("slow")
    control, _ = control_for(switch, reply_timeout=0.2)
    try:
        assert control.wait_connected(3)
        with pytest.raises(CommandTimeout):
            control.api("slow")
    finally:
        control.stop()


def test_pending_api_and_bgapi_fail_with_connection_lost_when_it_drops(switch):
    switch.hold.add("slow")
    control, _ = control_for(switch, reply_timeout=5)
    try:
        assert control.wait_connected(3)
        expect_login(switch)
        api = gevent.spawn(control.api, "slow")
        job = gevent.spawn(control.bgapi, "originate user/1001 &park()", timeout=5)
        received = {switch.next_command().split()[0], switch.next_command().split()[0]}
        assert received == {"api", "bgapi"}
        switch.drop_all()
        with pytest.raises(ConnectionLost):
            api.get(timeout=2)
        with pytest.raises(ConnectionLost):
            job.get(timeout=2)
        with pytest.raises(ConnectionLost):
            control.api("status")  # not connected: fails at once
    finally:
        control.stop()


def test_reconnects_with_backoff_and_resubscribes_when_freeswitch_comes_back(switch, logs):
    control, connects = control_for(switch)
    try:
        assert connects.get(timeout=3)
        first = expect_login(switch)
        switch.stop()  # FreeSWITCH goes away: listener closed, connection dropped
        failures = logs.wait_for("esl.control_connect_failed", count=4)
        assert not control.connected
        assert logs.wait_for("esl.control_lost")[0]["retry_in"] == 0.05
        assert [e["retry_in"] for e in failures[:4]] == [0.1, 0.2, 0.4, 0.4]  # doubling, capped
        switch.start()  # same port
        assert connects.get(timeout=3)
        assert expect_login(switch) == first
        assert control.connected
    finally:
        control.stop()


def test_reconnects_when_no_heartbeat_arrives_in_time(switch, logs):
    control, connects = control_for(switch, heartbeat_timeout=0.3)
    try:
        assert connects.get(timeout=3)
        expect_login(switch)
        assert connects.get(timeout=3)  # it gave up on the silent connection and came back
        expect_login(switch)
        assert logs.wait_for("esl.heartbeat_missed")[0]["log_level"] == "warning"
        assert switch.accepted == 2
    finally:
        control.stop()


def test_heartbeats_keep_the_connection(switch):
    events = gevent.queue.Queue()
    control, connects = control_for(switch, heartbeat_timeout=0.4, on_event=events.put)
    try:
        assert connects.get(timeout=3)
        for _ in range(6):
            switch.broadcast(heartbeat())
            assert events.get(timeout=2).name == "HEARTBEAT"
            gevent.sleep(0.1)  # time must pass for the watchdog to matter
        assert switch.accepted == 1
    finally:
        control.stop()


def test_bad_password_is_logged_as_error_and_retried_with_backoff(switch, logs):
    control = ControlConnection(
        "127.0.0.1", switch.port, "wrong", events=EVENTS, reply_timeout=1.0,
        max_backoff=0.2, initial_backoff=0.05,
    )
    control.start()
    try:
        refused = logs.wait_for("esl.control_refused", count=3)
        assert [switch.next_command() for _ in range(3)] == ["auth wrong"] * 3
        assert not control.connected
    finally:
        control.stop()
    assert all(e["log_level"] == "error" for e in refused)
    assert [e["retry_in"] for e in refused[:3]] == [0.05, 0.1, 0.2]
    assert "auth refused: -ERR invalid" in refused[0]["error"]
    assert "wrong" not in str(logs)  # the password is never logged


def test_rude_rejection_is_refused_and_retried(switch, logs):
    switch.reject = True
    control, _ = control_for(switch)
    try:
        refused = logs.wait_for("esl.control_refused", count=2)
        assert not control.connected
    finally:
        control.stop()
    assert "Access Denied" in refused[0]["error"]


def test_stop_ends_the_connection(switch):
    control, connects = control_for(switch)
    assert connects.get(timeout=3)
    control.stop()
    assert not control.connected
    with pytest.raises(ConnectionLost):
        control.api("status")
