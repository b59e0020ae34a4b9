"""The queue-state feed: a small publish/subscribe object the desk panel and the dashboard
subscribe to. Each change of the queue or of a staff phone publishes a new `QueueState`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class QueueState:
    """What the queue looks like now."""

    waiting: int
    """Callers on the line waiting (callbacks not included)."""
    callbacks: int
    """Callback requests waiting for their turn."""
    longest_wait: float
    """Seconds the longest-waiting caller has waited (0 when nobody waits)."""
    staff_available: int
    staff_logged_in: int
    staff_on_call: int


Subscriber = Callable[[QueueState], None]


class QueueFeed:
    """`subscribe(callback)` -> an unsubscribe function; `publish(state)` calls every
    subscriber with each change (never twice in a row with the same state). A subscriber must
    not block; one that raises is logged and stays subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.last: QueueState | None = None

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        if self.last is not None:
            callback(self.last)
        return lambda: self._subscribers.remove(callback)

    def publish(self, state: QueueState) -> None:
        if state == self.last:
            return
        self.last = state
        for callback in list(self._subscribers):
            try:
                callback(state)
            except Exception:
                log.exception("queue.feed_subscriber_failed")
