"""The simulator's stand-alone clock: real time with every duration scaled.

Used when the simulator runs without the rig's `frontdesk.clock.VirtualClock` (its own tests
against a fake daemon, `python -m frontdesk.sim`, the daemon as a separate process): a
simulated second lasts `scale` real seconds. Event timestamps stay real, as FreeSWITCH's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import gevent

from frontdesk.clock import RealClock, Timer, Waitable


class ScaledClock(RealClock):
    def __init__(self, scale: float) -> None:
        self.scale = scale

    def now(self) -> float:
        return time.monotonic() / self.scale

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds * self.scale)

    def wait(self, waitables: Waitable | Iterable[Waitable], timeout: float | None) -> bool:
        return super().wait(waitables, None if timeout is None else timeout * self.scale)

    def timeout(
        self, seconds: float | None, exception: BaseException | bool | None = None
    ) -> gevent.Timeout:
        return super().timeout(None if seconds is None else seconds * self.scale, exception)

    def call_later(self, seconds: float, fn: Callable[..., object], *args: object) -> Timer:
        return super().call_later(seconds * self.scale, fn, *args)
