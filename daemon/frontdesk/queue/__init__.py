"""frontdesk.queue: staff phones and their states, waiting callers, dispatch, the state feed.

- `CallQueue` (core.py): callers enter/leave, dispatch from the control connection,
  queue events stored with each call, the `feed`;
- `StaffBoard` (staff.py): each staff phone's derived state, from events and reconciliation;
- `QueueFeed` / `QueueState` (feed.py): publish/subscribe of the queue's state;
- `hold` (hold.py): what a waiting caller hears, run on the caller's own session by the flow.
"""

from frontdesk.queue.core import CONTROL_EVENTS, CallQueue, Waiting
from frontdesk.queue.feed import QueueFeed, QueueState
from frontdesk.queue.staff import STATES, StaffBoard, StaffPhone

__all__ = [
    "CONTROL_EVENTS",
    "STATES",
    "CallQueue",
    "QueueFeed",
    "QueueState",
    "StaffBoard",
    "StaffPhone",
    "Waiting",
]
