"""One ESL TCP connection: a reader greenlet, command replies matched first-in first-out.

ESL has no correlation id on command replies: the n-th `command/reply` or `api/response`
answers the n-th command sent on that socket. So sending (append to the queue + write) happens
under one lock, every wait is bounded, and a command that timed out keeps its place in the queue
so that its late reply is swallowed instead of being handed to the next command.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.socket

from frontdesk.esl.errors import CommandTimeout, ESLError, FrameError
from frontdesk.esl.frame import MAX_CONTENT_LENGTH, MAX_HEADER_BLOCK, Event, FrameReader

REPLY_TYPES = frozenset({"command/reply", "api/response"})
RECV_SIZE = 65536


def check_line(*parts: str) -> None:
    """Refuse text that would end an ESL header line early and inject another one."""
    for part in parts:
        if "\n" in part or "\r" in part:
            raise ValueError(f"line break in ESL command text: {part!r}")


def no_delay(sock: gevent.socket.socket) -> None:
    """Send each command and event at once: without TCP_NODELAY the kernel holds a small
    write back until the previous one is acknowledged (Nagle), up to 40 ms on loopback."""
    if sock.family in (gevent.socket.AF_INET, gevent.socket.AF_INET6):
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)


class Link:
    """A connected socket; `on_frame` gets every frame that is not a command reply, from the
    reader greenlet; `on_close` runs once when the connection ends, for whatever reason.

    `untrusted_limit`: the peer has not proved who it is yet (an outbound-socket connection
    before its `connect` reply was checked): a frame may then hold at most this many bytes,
    and any frame that is not the reply to a command closes the connection. `trust()` lifts
    both once the peer is known (the control connection is trusted from the start).
    """

    def __init__(
        self,
        sock: gevent.socket.socket,
        *,
        on_frame: Callable[[Event], None],
        on_close: Callable[[], None],
        lost: type[ESLError],
        log: Any,
        untrusted_limit: int | None = None,
    ) -> None:
        self._sock = sock
        no_delay(sock)
        self._on_frame = on_frame
        self._on_close = on_close
        self._lost = lost
        self._log = log
        self._pending: deque[gevent.event.AsyncResult[Event]] = deque()
        self._send_lock = gevent.lock.Semaphore()
        self.closed = gevent.event.Event()
        self._close_reason = "connection closed"
        self._trusted = untrusted_limit is None
        self._frames = (
            FrameReader()
            if untrusted_limit is None
            else FrameReader(max_header=untrusted_limit, max_body=untrusted_limit)
        )
        self._reader = gevent.spawn(self._read_loop)

    @property
    def trusted(self) -> bool:
        return self._trusted

    def trust(self) -> None:
        """The peer is who it should be: the full frame limits of frame.py apply from now on."""
        self._trusted = True
        self._frames.max_header, self._frames.max_body = MAX_HEADER_BLOCK, MAX_CONTENT_LENGTH

    def command(self, text: str, timeout: float) -> Event:
        """Send one command (lines without the final blank line) and return its reply."""
        result: gevent.event.AsyncResult[Event] = gevent.event.AsyncResult()
        data = text.encode() + b"\n\n"
        timer = gevent.Timeout(timeout)
        timer.start()
        sending = False
        try:
            with self._send_lock:
                if self.closed.is_set():
                    raise self._lost("connection closed")
                self._pending.append(result)
                sending = True
                try:
                    self._sock.sendall(data)
                except OSError as error:
                    self.close()
                    raise self._lost(f"send failed: {error}") from None
                sending = False
            return result.get()  # type: ignore[return-value]  # gevent stub: get() -> T | None
        except gevent.Timeout as expired:
            if expired is not timer:
                raise
            if sending:  # a half-written command leaves the stream unusable
                self.close()
                raise self._lost("send timed out") from None
            verb = text.split(" ", 1)[0].split("\n", 1)[0]
            raise CommandTimeout(f"no reply to {verb!r} within {timeout} s") from None
        finally:
            timer.close()

    def close(self) -> None:
        if self.closed.is_set():
            return
        try:
            self._sock.close()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        while self._pending:
            result = self._pending.popleft()
            if not result.ready():
                result.set_exception(self._lost(self._close_reason))
        try:
            self._on_close()
        except Exception:
            self._log.exception("esl.on_close_failed")

    def _read_loop(self) -> None:
        reader = self._frames
        try:
            while True:
                data = self._sock.recv(RECV_SIZE)
                if not data:
                    self._log.debug("esl.connection_closed_by_peer")
                    break
                reader.feed(data)
                while (event := reader.next_event()) is not None:
                    self._dispatch(event)
        except FrameError as error:
            self._close_reason = str(error)
            if self._trusted:
                self._log.error("esl.frame_error", error=str(error))
            # else: the connection's owner reports the refusal (outbound.OutboundServer)
        except OSError as error:
            if not self.closed.is_set() and self._trusted:
                self._log.info("esl.connection_error", error=str(error))
        except Exception:
            self._log.exception("esl.reader_failed")
        finally:
            reader.clear()  # the owner and this link refer to each other: free the bytes now
            try:
                self._sock.close()
            finally:
                self._shutdown()

    def _dispatch(self, event: Event) -> None:
        if event.content_type in REPLY_TYPES and self._pending:
            self._pending.popleft().set(event)
            return
        if not self._trusted:
            raise FrameError(f"unexpected {event.content_type or 'frame'} before authentication")
        if event.content_type in REPLY_TYPES:
            self._log.warning("esl.unexpected_reply", content_type=event.content_type)
            return
        self._on_frame(event)
