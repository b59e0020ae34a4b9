"""frontdesk.esl: the only code that speaks FreeSWITCH's Event Socket.

Why not greenswitch: it is a declared dependency and the library this project started from, but
each of its pieces carries one of the defects listed in docs/internals.md, and overriding them in
subclasses would mean overriding every method while still inheriting its threading model:

- `ESLEvent` URL-decodes the whole frame before splitting lines, so an encoded newline in a
  caller-supplied value forges a header -> replaced by `frame.Event` / `frame.FrameReader`
  (bytes, split first, values decoded one by one, lazily).
- `ESLProtocol.receive_events` decodes each line read from the socket and spins on end-of-file
  inside a short body; `process_events` polls its queue every second and runs handlers one
  after another; `send()` waits for its reply with no timeout and pending commands are never
  failed when an inbound connection drops -> replaced by `_link.Link` (one reader greenlet,
  FIFO replies under a lock, every wait bounded, pending commands failed on close).
- `OutboundSession.call_command(block=True)` matches CHANNEL_EXECUTE_COMPLETE by application
  name -> `CallSession.execute` sends an `Event-UUID` and matches `Application-UUID`.
- `OutboundESLServer` polls accept() every 0.1 s and exits the process when it cannot bind, and
  hands any connection to the application -> `OutboundServer` is a gevent StreamServer that
  takes a connection as a call only once its connect reply carries the dialplan's token.
- `InboundESL` has no reconnect -> `ControlConnection` is supervised (backoff, heartbeat
  watchdog, re-subscribe, `on_connect` for resynchronisation).

The tests in tests/test_esl_greenswitch.py show each defect next to our behaviour.
"""

from frontdesk.esl import commands
from frontdesk.esl._link import no_delay
from frontdesk.esl.control import ControlConnection
from frontdesk.esl.errors import (
    ApplicationTimeout,
    AuthenticationFailed,
    CallGone,
    CommandTimeout,
    ConnectionLost,
    ESLError,
    FrameError,
)
from frontdesk.esl.frame import Event, FrameReader
from frontdesk.esl.outbound import CallSession, OutboundServer, socket_token

__all__ = [
    "ApplicationTimeout",
    "AuthenticationFailed",
    "CallGone",
    "CallSession",
    "CommandTimeout",
    "ConnectionLost",
    "ControlConnection",
    "commands",
    "ESLError",
    "Event",
    "FrameError",
    "FrameReader",
    "no_delay",
    "OutboundServer",
    "socket_token",
]
