"""The console's live stream (``GET /events``): what an open page receives, and when it ends.
The real daemon against the simulator on simulated time; each stream is read in a greenlet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import gevent
import gevent.socket
import pytest

from console_helpers import (
    RESULTS,
    TUESDAY_MORNING,
    Browser,
    Receptionist,
    console_rig,
    place,
    row,
    waiting,
)
from frontdesk.config.model import Config
from frontdesk.console import live
from frontdesk.console.auth import COOKIE
from frontdesk.rehearse import Rig


@pytest.fixture
def rig(practice: Config, tmp_path) -> Iterator[Rig]:
    with console_rig(practice, tmp_path) as running:
        yield running


class Stream:
    """An open ``/events`` answer, read as it comes."""

    def __init__(self, browser: Browser) -> None:
        self.answer = browser.get("/events", buffered=False)
        self.text = ""
        self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        for chunk in self.answer.iter_encoded():
            self.text += chunk.decode()

    @property
    def fragments(self) -> list[str]:
        """The `live` events received, each the HTML of `#live`."""
        events = [block for block in self.text.split("\n\n") if "event: live" in block]
        return ["\n".join(line.removeprefix("data: ") for line in block.splitlines()
                          if line.startswith("data: ")) for block in events]

    @property
    def ended(self) -> bool:
        return self.reader.dead

    def close(self) -> None:
        """The browser goes away (the generator is ended where it waits, in its greenlet)."""
        self.reader.kill()
        self.answer.close()


def test_a_caller_entering_the_queue_reaches_an_open_page(rig: Rig) -> None:
    desk = Receptionist(rig)
    stream = Stream(desk.client)
    assert rig.wait_for(lambda: stream.fragments)
    assert stream.answer.mimetype == "text/event-stream"
    assert stream.text.startswith("retry: ")

    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: waiting(rig, call))

    assert rig.wait_for(lambda: row(stream.fragments[-1], "caller", "call", call.uuid),
                        timeout=1)
    stream.close()


def test_every_open_page_gets_the_same_fragment_rendered_once_per_change(rig: Rig) -> None:
    desk, other = Receptionist(rig), Receptionist(rig, "bob")
    board = desk.app.board
    renders = []
    render = board._render
    board._render = lambda view: renders.append(view) or render(view)
    streams = [Stream(desk.client), Stream(other.client)]

    call = place(rig, RESULTS)

    assert rig.wait_for(lambda: all(row(s.fragments[-1], "caller", "call", call.uuid)
                                    for s in streams), timeout=30)
    first, second = (s.fragments for s in streams)
    assert first[-1] == second[-1]
    assert 'name="csrf" value=""' in first[-1]  # the page's script fills its own token in
    assert len(renders) == len(set(first) | set(second))
    for stream in streams:
        stream.close()


def test_an_idle_page_gets_nothing_new_but_a_comment_to_keep_the_line_open(rig: Rig) -> None:
    desk = Receptionist(rig)
    stream = Stream(desk.client)
    assert rig.wait_for(lambda: stream.fragments)
    before = len(stream.fragments)

    assert rig.wait_for(lambda: ": still here" in stream.text, timeout=live.KEEPALIVE_SECONDS + 1)

    assert len(stream.fragments) == before
    stream.close()


def test_an_override_written_by_another_process_reaches_the_page(rig: Rig) -> None:
    desk = Receptionist(rig)
    stream = Stream(desk.client)
    assert rig.wait_for(lambda: stream.fragments)
    now = rig.daemon.clock.wall()

    # as `frontdesk override` does: the database only, nothing tells the daemon
    rig.daemon.store.set_override("lunch", until=None, set_by="cli", now=now)

    assert rig.wait_for(lambda: 'data-state="lunch"' in stream.fragments[-1],
                        timeout=live.LOOK_SECONDS + live.MIN_GAP_SECONDS)
    stream.close()


def test_a_stream_ends_at_logout(rig: Rig) -> None:
    desk = Receptionist(rig)
    stream = Stream(desk.client)
    assert rig.wait_for(lambda: stream.fragments)

    assert desk.post("/logout").status_code == 303

    assert rig.wait_for(lambda: stream.ended, timeout=1)
    assert desk.client.get("/events").status_code == 401


def test_a_stream_ends_when_its_session_expires(rig: Rig) -> None:
    desk = Receptionist(rig)
    stream = Stream(desk.client)
    assert rig.wait_for(lambda: stream.fragments)

    rig.moment = TUESDAY_MORNING + timedelta(hours=rig.daemon.config.console.session_hours)

    assert rig.wait_for(lambda: stream.ended, timeout=live.SESSION_CHECK_SECONDS + 1)


def test_streams_end_when_the_console_closes_and_nothing_is_left_running(rig: Rig) -> None:
    desk = Receptionist(rig)
    streams = [Stream(desk.client) for _ in range(3)]
    board = desk.app.board
    assert rig.wait_for(lambda: all(s.fragments for s in streams))
    assert board.streams == 3

    desk.app.close()

    assert rig.wait_for(lambda: all(s.ended for s in streams), timeout=1)
    assert board.streams == 0
    assert rig.wait_for(lambda: board._watcher.dead, timeout=1)


def test_a_page_beyond_the_most_streams_is_told_to_come_back_later(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "MAX_STREAMS", 2)
    desk = Receptionist(rig)
    streams = [Stream(desk.client) for _ in range(2)]

    refused = desk.client.get("/events")

    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    streams[0].close()
    assert rig.wait_for(lambda: desk.app.board.streams == 1, timeout=1)
    again = Stream(desk.client)
    assert again.answer.status_code == 200
    for stream in (streams[1], again):
        stream.close()


def test_over_the_daemons_own_server_each_event_arrives_as_it_is_made(rig: Rig) -> None:
    """gevent's WSGI server sends each chunk of the stream at once (no buffering): read the
    stream from the console's port as a browser does."""
    desk = Receptionist(rig)
    token = desk.client.get_cookie(COOKIE).value
    received = ""

    def read() -> None:
        nonlocal received
        with gevent.socket.create_connection(("127.0.0.1", rig.daemon.console.port)) as sock:
            sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Cookie: {COOKIE}={token}\r\n\r\n".encode())
            while chunk := sock.recv(65536):
                received += chunk.decode()

    reader = gevent.spawn(read)
    assert rig.wait_for(lambda: "event: live" in received)
    assert "text/event-stream" in received.split("\r\n\r\n")[0]

    call = place(rig, RESULTS)

    assert rig.wait_for(lambda: f'class="caller" data-call="{call.uuid}"' in received,
                        timeout=30)
    reader.kill()
