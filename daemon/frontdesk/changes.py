"""A change hook for the live views (the web console): the daemon calls `Changes.notify()`
when what they show changes outside the queue's own feed (a call starts, moves on in the flow
or ends; the override or a staff login is set in this process). Subscribers only take note
(set a flag): they must not block, and they read the new state themselves."""

from __future__ import annotations

from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Changes:
    def __init__(self) -> None:
        self._subscribers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """`callback()` after each change; returns the function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def notify(self) -> None:
        for callback in list(self._subscribers):
            try:
                callback()
            except Exception:
                log.exception("changes.subscriber_failed")
