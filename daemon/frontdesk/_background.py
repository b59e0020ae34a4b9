"""A part of the daemon that runs one loop in its own greenlet while the daemon runs."""

from __future__ import annotations

from abc import ABC, abstractmethod

import gevent


class BackgroundLoop(ABC):
    """`start()` spawns `_loop`; `stop()` kills it (it may be started again)."""

    def __init__(self) -> None:
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    @abstractmethod
    def _loop(self) -> None:
        """Runs until killed."""
