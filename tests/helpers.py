"""Small helpers shared by the test files."""

from __future__ import annotations

import gevent


def wait_for(condition, timeout: float = 5.0, step: float = 0.005) -> bool:
    """Poll `condition` until true (for states the code under test exposes no event for)."""
    with gevent.Timeout(timeout, False):
        while not condition():
            gevent.sleep(step)
        return True
    return False
