"""The console's live part (`#live` of the home page), pushed to every open page.

One `LiveBoard` per console. It reads what `frontdesk status` shows (`control_socket.status`,
with the callers' numbers: the staff call them back) and, only when that changed, renders the
fragment once and hands the same bytes to every open ``GET /events`` stream (Server-Sent
Events, event ``live``). What wakes it:

- the queue's feed (a caller enters or leaves, a phone changes state) and the daemon's change
  hook (`frontdesk.changes`: a call starts, moves on in the flow or ends, a staff login, the
  override set in this process);
- a look every `LOOK_SECONDS` on the daemon's clock, for what changes without telling: the
  override written by another process (`frontdesk override` writes the database), the wait an
  announcement told a caller.

After a render it waits `MIN_GAP_SECONDS` before the next one: a surge of a hundred callers
costs a few renders a second, whatever the number of consoles open. It runs only while a
stream is open.

Waits tick in the browser (`data-since`, epoch seconds): the fragment itself changes only
when something happens, so an idle queue sends nothing but a comment line every
`KEEPALIVE_SECONDS` (it keeps proxies from closing the stream and finds dead peers: a write to
a gone browser fails and ends its stream).

A stream ends when its session ends (logout: at once; expiry, removal of the user: seen within
`SESSION_CHECK_SECONDS`) and when the console closes (the daemon stops or reloads it). At most
`MAX_STREAMS` are open at once: beyond, ``/events`` answers 503 and that page keeps the state
it shows, with a note, until its script tries again (`console.js`, every 30 s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

import gevent
import gevent.event
import structlog

from frontdesk.changes import Changes
from frontdesk.control_socket import Reception, status
from frontdesk.panel.link import level_of

log = structlog.get_logger(__name__)

LOOK_SECONDS = 1.0
MIN_GAP_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0
SESSION_CHECK_SECONDS = 5.0
RETRY_MILLISECONDS = 3000
"""What the browser waits before it opens a stream again after it ended (the `retry:`
hint)."""
MAX_STREAMS = 50


class LiveDesk(Reception, Protocol):
    """What the live board reads on the running daemon."""

    changes: Changes


def live_view(desk: LiveDesk) -> dict[str, Any]:
    """What `#live` shows, with nothing that changes by itself with time (waits are shown
    from when they began): two reads compare equal when nothing happened."""
    now = status(desk, full_numbers=True, estimates=False)
    override = now["practice"]["override"]
    rows = [_waiting_row(row) for row in now["waiting"]]
    return {
        "board": _board(desk, now, [row for row in rows if row["callback"] is None]),
        "practice": {
            "state": now["practice"]["state"],
            "detail": now["practice"]["detail"],
            "override": None if override is None else {
                "mode": override["mode"],
                "until": _epoch(override["until"]) if override["until"] else None,
                "set_by": override["set_by"],
            },
        },
        "freeswitch": now["freeswitch_connected"],
        "queue": [row for row in rows if row["callback"] is None],
        "callbacks": [row for row in rows if row["callback"] is not None],
        "staff": [
            {
                "extension": row["extension"],
                "state": row["state"],
                "since": _epoch(row["since"]),
                "registered": row["registered"],
                "logged_in": row["logged_in"],
            }
            for row in now["staff"]
        ],
        "calls": [
            {
                "call": row["call"],
                "caller": row["caller"],
                "since": _epoch(row["started_at"]),
                "node": row["node"],
                "reason": row["reason"],
                "path": row["path"],
            }
            for row in now["calls"]
        ],
    }


def _board(desk: LiveDesk, now: Mapping[str, Any], on_the_line: list[dict[str, Any]]
           ) -> dict[str, Any]:
    """The desk panel's figures: callers waiting, the longest wait (from when it began: it
    ticks in the browser), callbacks, staff, and the panel's level (green, amber, red by the
    [panel] thresholds; it changes with time too, so the look every second renders it)."""
    state = now["queue"] or {}
    oldest = min((row["since"] for row in on_the_line), default=None)
    longest = 0.0 if oldest is None else max(desk.clock.wall().timestamp() - oldest, 0.0)
    return {
        "level": level_of(desk.config.panel, len(on_the_line), longest),
        "waiting": len(on_the_line),
        "longest_since": oldest,
        "callbacks": state.get("callbacks", 0),
        "available": state.get("staff_available", 0),
        "logged_in": state.get("staff_logged_in", 0),
        "on_call": state.get("staff_on_call", 0),
    }


def _waiting_row(row: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("position", "call", "caller", "emergency", "state", "callback", "announced",
            "reason", "path")
    return {**{key: row[key] for key in keep}, "since": _epoch(row["since"])}


def _epoch(iso: str) -> int:
    """Whole seconds: the wall clock read against the monotonic one differs by microseconds
    from one read to the next, which must not count as a change."""
    return round(datetime.fromisoformat(iso).timestamp())


def server_sent_event(name: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.splitlines())
    return f"event: {name}\n{lines}\n".encode()


class LiveBoard:
    """See the module docstring. `render(view)` makes the fragment's HTML."""

    def __init__(self, desk: LiveDesk, render: Callable[[dict[str, Any]], str]) -> None:
        self.desk = desk
        self.clock = desk.clock
        self._render = render
        self._view: dict[str, Any] | None = None
        self.event = b""
        """The current fragment as a Server-Sent Event, the same bytes for every stream."""
        self.version = 0
        self._fresh = gevent.event.Event()
        """Set, and replaced by a new one, each time `event` changes."""
        self._changed = gevent.event.Event()
        self._closed = gevent.event.Event()
        self._streams: dict[gevent.event.Event, str] = {}
        """Each open stream's end signal -> its session (the hash of its token)."""
        self._watcher: gevent.Greenlet | None = None
        self._unsubscribe = [
            desk.queue.feed.subscribe(lambda _state: self._changed.set()),
            desk.changes.subscribe(self._changed.set),
        ]

    @property
    def streams(self) -> int:
        return len(self._streams)

    @property
    def full(self) -> bool:
        return len(self._streams) >= MAX_STREAMS

    def refresh(self) -> bool:
        """Read the state; when it changed, render once and wake every stream. True when it
        changed."""
        view = live_view(self.desk)
        if view == self._view:
            return False
        self._view = view
        self.event = server_sent_event("live", self._render(view))
        self.version += 1
        fresh, self._fresh = self._fresh, gevent.event.Event()
        fresh.set()
        return True

    def stream(self, session: str, still_valid: Callable[[], bool]) -> Iterator[bytes]:
        """The body of one ``/events`` answer, for the session whose token hashes to
        `session`; `still_valid()` says whether it is still logged in (asked every
        `SESSION_CHECK_SECONDS`)."""
        ended = gevent.event.Event()
        self._streams[ended] = session
        try:
            if self._watcher is None or self._watcher.dead:
                self.refresh()
                self._watcher = gevent.spawn(self._watch)
            yield f"retry: {RETRY_MILLISECONDS}\n\n".encode() + self.event
            yield from self._follow(ended, still_valid)
        finally:
            self._streams.pop(ended, None)

    def _follow(self, ended: gevent.event.Event, still_valid: Callable[[], bool]
                ) -> Iterator[bytes]:
        sent = self.version
        written = checked = self.clock.now()
        while True:
            fresh = self._fresh
            if self.version != sent:
                sent = self.version
                yield self.event
                written = self.clock.now()
                continue
            due = min(written + KEEPALIVE_SECONDS, checked + SESSION_CHECK_SECONDS)
            self.clock.wait([fresh, ended, self._closed], max(due - self.clock.now(), 0.0))
            if ended.is_set() or self._closed.is_set():
                return
            now = self.clock.now()
            if now - checked >= SESSION_CHECK_SECONDS:
                checked = now
                if not still_valid():
                    return
            if now - written >= KEEPALIVE_SECONDS:
                yield b": still here\n\n"
                written = now

    def end_session(self, session: str) -> None:
        """A logout: that session's streams end now."""
        for ended, owner in list(self._streams.items()):
            if owner == session:
                ended.set()

    def _watch(self) -> None:
        """While a stream is open: render on each change (at most every MIN_GAP_SECONDS), and
        look every LOOK_SECONDS."""
        while self._streams and not self._closed.is_set():
            self._changed.clear()
            try:
                self.refresh()
            except Exception:  # a failing database: the pages keep the last state shown
                log.exception("console.live_failed")
            self.clock.wait(self._closed, MIN_GAP_SECONDS)
            self.clock.wait([self._changed, self._closed], LOOK_SECONDS - MIN_GAP_SECONDS)

    def close(self) -> None:
        """Every stream ends; the board no longer listens."""
        self._closed.set()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._watcher is not None:
            self._watcher.kill(block=False)
