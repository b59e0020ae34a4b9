"""The virtual clock: simulated time moves only when nothing can run, straight to the next
due timer, so what happens depends on simulated time, never on the machine's speed."""

from __future__ import annotations

import time

import gevent
import gevent.event
import pytest

from frontdesk.clock import RealClock, VirtualClock


@pytest.fixture
def clock():
    virtual = VirtualClock()
    yield virtual
    virtual.stop()


def test_an_hour_of_sleeping_takes_no_real_hour(clock: VirtualClock) -> None:
    began = time.monotonic()
    clock.sleep(3600)
    assert clock.now() == pytest.approx(3600)
    assert time.monotonic() - began < 5


def test_timers_fire_in_the_order_of_simulated_time_whatever_the_order_they_were_set(
    clock: VirtualClock,
) -> None:
    fired: list[tuple[str, float]] = []
    for name, delay in (("late", 30.0), ("early", 3.0), ("middle", 10.0)):
        clock.call_later(delay, lambda n=name: fired.append((n, clock.now())))
    clock.sleep(60)
    assert fired == [("early", 3.0), ("middle", 10.0), ("late", 30.0)]


def test_a_cancelled_timer_never_fires(clock: VirtualClock) -> None:
    fired = []
    timer = clock.call_later(5, fired.append, "x")
    timer.cancel()
    clock.sleep(10)
    assert fired == []


def test_a_timeout_on_the_clock_raises_at_its_simulated_time(clock: VirtualClock) -> None:
    never = gevent.event.Event()
    with pytest.raises(gevent.Timeout):
        with clock.timeout(30):
            never.wait()
    assert clock.now() == pytest.approx(30)
    with clock.timeout(30, False):
        never.wait()
    assert clock.now() == pytest.approx(60)


def test_a_wait_ends_with_the_event_or_the_timeout(clock: VirtualClock) -> None:
    ready = gevent.event.Event()
    clock.call_later(4, ready.set)
    assert clock.wait(ready, 10) is True
    assert clock.now() == pytest.approx(4)
    assert clock.wait(gevent.event.Event(), 10) is False
    assert clock.now() == pytest.approx(14)


def test_time_does_not_move_while_work_outside_the_loop_is_under_way(clock: VirtualClock) -> None:
    pool = gevent.get_hub().threadpool
    moved = []
    clock.call_later(1, lambda: moved.append(clock.now()))
    pool.apply(time.sleep, (0.2,))  # a database job, in a real thread
    assert moved == []  # the clock waited for the thread, not only the event loop
    clock.sleep(2)
    assert moved == [1.0]


def test_time_does_not_move_while_a_reply_is_on_its_way_over_a_socket(
    clock: VirtualClock,
) -> None:
    """A request and its answer over loopback TCP take no simulated time."""
    from gevent import socket
    from gevent.server import StreamServer

    def echo(conn, _address) -> None:
        for _ in range(200):
            data = conn.recv(64)
            if not data:
                return
            conn.sendall(data)

    server = StreamServer(("127.0.0.1", 0), echo)
    server.start()
    clock.call_later(1, lambda: None)  # something due: the clock would jump to it if idle
    try:
        conn = socket.create_connection(("127.0.0.1", server.server_port))
        for _ in range(200):
            conn.sendall(b"ping")
            assert conn.recv(64) == b"ping"
        assert clock.now() == 0.0
    finally:
        server.stop()


def test_the_real_clock_is_the_machines_time() -> None:
    real = RealClock()
    before = real.now()
    real.sleep(0.01)
    assert real.now() - before >= 0.009
    assert real.wait(gevent.event.Event(), 0.01) is False


def test_a_wait_too_short_to_add_to_the_time_still_moves_it_forward(clock: VirtualClock) -> None:
    """A loop waiting for what is left of a period (1e-15 s after rounding) must not spin with
    time standing still: real time always moves on, and so does the virtual clock."""
    clock.sleep(64.44)
    before = clock.now()
    clock.sleep(1e-15)
    assert clock.now() > before
