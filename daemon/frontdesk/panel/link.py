"""The desk panel on its serial line: a supervisor greenlet opens the port by URL, speaks the
protocol of docs/panel-protocol.md through the driver of `[panel] driver` (drivers.py: as it is,
or translated for an Alpha LED sign), and reopens the port with backoff after an unplug.

pyserial reads and writes are used non-blocking (timeout 0) in a loop that yields to the hub
between polls; the port is opened in gevent's threadpool (a `socket://` connect may block).
pyserial's own reader thread is not used: it exits on unplug and never reopens."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Protocol

import gevent
import gevent.select
import serial
import structlog

from frontdesk.clock import Clock, RealClock
from frontdesk.config.model import PanelSettings
from frontdesk.overrides import set_override
from frontdesk.panel.drivers import driver_for
from frontdesk.panel.frame import (
    PROTOCOL_VERSION,
    Frame,
    FrameError,
    LineSplitter,
    decode,
    state_fields,
)
from frontdesk.queue.feed import QueueState

if TYPE_CHECKING:
    from frontdesk.changes import Changes
    from frontdesk.config.model import Config
    from frontdesk.queue import CallQueue
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

POLL_SECONDS = 0.02
"""How often the port is polled for input: the latency of a button press."""
MIN_STATE_INTERVAL = 0.25
"""Bursts of queue changes are coalesced: at most four state frames a second."""
FIRST_RETRY = 0.1
MAX_RETRY = 30.0
GARBAGE_WARN_EVERY = 30.0
SILENT_AFTER_HEARTBEATS = 3
WRITE_SECONDS = 2.0
"""A panel that takes no byte for this long stopped reading (a hung board, a full USB
buffer): the port is closed and opened again, with backoff."""
STABLE_SECONDS = 30.0
"""A connection that lasted this long was a recovery: the next loss is warned about again."""

Opener = Callable[[PanelSettings], serial.SerialBase]


def open_port(settings: PanelSettings) -> serial.SerialBase:
    """The port of `settings`, non-blocking both ways (`write_out` waits for room itself).
    pyserial's RFC 2217 client refuses any write timeout (NotImplementedError on open)."""
    rfc2217 = settings.port.lower().startswith("rfc2217://")
    return serial.serial_for_url(
        settings.port,
        baudrate=settings.baudrate,
        bytesize=settings.bytesize,
        parity=settings.parity,
        stopbits=settings.stopbits,
        timeout=0,
        write_timeout=None if rfc2217 else 0,
    )


def write_out(port: serial.SerialBase, data: bytes, clock: Clock | None = None) -> None:
    """Write `data` without ever holding up the calls: wait (cooperatively, in gevent's
    select) until the line has room, then write what fits, and so on. pyserial's own write
    cannot be trusted with a full buffer: on EAGAIN it tries again at once, in a loop, and with
    a zero timeout that loop holds the event loop and every call with it. Raises
    SerialTimeoutException when the panel has not taken it all within WRITE_SECONDS on
    `clock` (real time by default)."""
    try:
        line = port.fileno()
    except (AttributeError, NotImplementedError, OSError, ValueError):
        port.write(data)  # loop:// and the like: never full
        return
    try:
        with (clock or RealClock()).timeout(WRITE_SECONDS):
            while data:
                gevent.select.select([], [line], [])
                written = port.write(data)
                data = data[written or 0 :] if written is not None else b""
    except gevent.Timeout:
        raise serial.SerialTimeoutException("the panel stopped reading") from None


def level_of(settings: PanelSettings, waiting: int, longest: float) -> str:
    if waiting >= settings.red_waiting or longest >= settings.red_wait:
        return "R"
    if waiting >= settings.amber_waiting or longest >= settings.amber_wait:
        return "A"
    return "G"


class PanelDesk(Protocol):
    """What the panel shows and changes of the running daemon."""

    config: Config
    store: Store
    queue: CallQueue
    clock: Clock
    changes: Changes

    def set_staff_login(self, extension: str, login: bool, *, by: str) -> None: ...


class Panel:
    """`start()` / `stop()`; never raises into the daemon: a missing panel is logged once and
    retried, calls go on."""

    def __init__(
        self, settings: PanelSettings, daemon: PanelDesk, *, opener: Opener = open_port
    ) -> None:
        self.settings = settings
        self.daemon = daemon
        self.opener = opener
        self.driver = driver_for(settings, daemon.config.practice.language)
        self.connected = False
        self._greenlet: gevent.Greenlet | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._state: QueueState | None = None
        self._state_at = 0.0
        self._dirty = True
        self._seq = 0
        self._last_button: int | None = None
        self._garbage = 0
        self._garbage_warned_at: float | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self.daemon.queue.feed.subscribe(self._on_state)
        self._greenlet = gevent.spawn(self._supervise)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    @property
    def running(self) -> bool:
        """The supervisor is alive (opening, serving or waiting to try again)."""
        return self._greenlet is not None and not self._greenlet.dead

    def _on_state(self, state: QueueState) -> None:
        self._state, self._state_at, self._dirty = state, self.daemon.queue.now(), True

    # -- the supervisor ------------------------------------------------------------------

    def _supervise(self) -> None:
        delay, warned, lost_warned = FIRST_RETRY, False, False
        while True:
            port, error = gevent.get_hub().threadpool.apply(self._open)
            if port is None:
                if not warned:
                    log.warning("panel.unavailable", port=self.settings.port, error=str(error))
                    warned = True
                self.daemon.clock.sleep(delay)
                delay = min(delay * 2, MAX_RETRY)
                continue
            warned = True
            log.info("panel.connected", port=self.settings.port)
            connected_at = self.daemon.clock.now()
            try:
                self.connected = True
                self._serve(port)
            except (serial.SerialException, OSError) as error:
                report = log.info if lost_warned else log.warning
                report("panel.lost", port=self.settings.port, error=str(error))
                lost_warned = True
            except Exception:  # a bug must not end the panel for good: logged, tried again
                log.exception("panel.failed", port=self.settings.port)
            finally:
                self.connected = False
                port.close()
            if self.daemon.clock.now() - connected_at >= STABLE_SECONDS:
                delay, lost_warned = FIRST_RETRY, False
            else:  # lost again at once (a panel that stopped reading): back off
                self.daemon.clock.sleep(delay)
                delay = min(delay * 2, MAX_RETRY)

    def _open(self) -> tuple[serial.SerialBase | None, Exception | None]:
        """In the thread pool. The error is handed back, not raised (gevent would print its
        traceback at every retry); pyserial lets termios.error and others through."""
        try:
            return self.opener(self.settings), None
        except Exception as error:
            return None, error

    def _serve(self, port: serial.SerialBase) -> None:
        splitter = LineSplitter()
        self._send(port, Frame("V", self._next_seq(), (str(PROTOCOL_VERSION), "frontdesk")))
        shown: Hashable | None = None
        sent_state = heartbeat_at = heard_at = self.daemon.clock.now()
        silent = False
        self._dirty = True
        while True:
            data = port.read(256)
            lines = splitter.feed(data) if self.driver.listens else []  # a sign's: drained
            for line in lines:
                if self._receive(port, line):
                    heard_at, self._dirty = self.daemon.clock.now(), True
                    if silent:
                        log.info("panel.heard", port=self.settings.port)
                        silent = False
            if splitter.overlong:
                self._reject(b"(line too long)", splitter.overlong)
                splitter.overlong = 0
            now = self.daemon.clock.now()
            beat = now - heartbeat_at >= self.settings.heartbeat_seconds
            if beat or (self._dirty and now - sent_state >= MIN_STATE_INTERVAL):
                fields = self._fields()
                view = self.driver.view(fields)
                if view != shown or (beat and now - sent_state >= self.driver.refresh_seconds):
                    self._send(port, Frame("S", self._next_seq(), fields))
                    shown, sent_state = view, now
                self._dirty = False
            if beat:
                self._send(port, Frame("H", self._next_seq()))
                heartbeat_at = now
            quiet = now - heard_at
            if self.driver.listens and not silent and (
                quiet > SILENT_AFTER_HEARTBEATS * self.settings.heartbeat_seconds
            ):
                log.warning("panel.silent", port=self.settings.port, seconds=round(quiet))
                silent = True
            if not data:
                self.daemon.clock.sleep(POLL_SECONDS)

    def _send(self, port: serial.SerialBase, frame: Frame) -> None:
        data = self.driver.encode(frame)
        if data:
            write_out(port, data, self.daemon.clock)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 65536
        return self._seq

    # -- what is shown ---------------------------------------------------------------------

    def _fields(self) -> tuple[str, ...]:
        queue, store = self.daemon.queue, self.daemon.store
        state = self._state
        waiting = state.waiting if state else 0
        longest = 0.0
        if state is not None and waiting:
            longest = state.longest_wait + max(queue.now() - self._state_at, 0.0)
        override = store.get_override(now=self.daemon.clock.wall())
        mode = override.mode.upper() if override is not None else "AUTO"
        available = state.staff_available if state else 0
        return state_fields(
            waiting, longest, available, level_of(self.settings, waiting, longest), mode
        )

    # -- what the panel says ---------------------------------------------------------------

    def _receive(self, port: serial.SerialBase, line: bytes) -> bool:
        """Handle one line; True when it was a valid frame from the panel."""
        try:
            frame = decode(line)
        except FrameError:
            self._reject(line, 1)
            return False
        if frame.kind == "B":
            repeated = frame.seq == self._last_button
            self._last_button = frame.seq
            done = True if repeated else self._press(frame.fields[0])
            self._send(port, Frame("A", self._next_seq(), (str(frame.seq), "OK" if done else "NO")))
        elif frame.kind != "H":
            self._reject(line, 1)
            return False
        return True

    def _press(self, button: str) -> bool:
        daemon = self.daemon
        if button in ("LUNCH", "CLOSED"):
            wanted, now = button.lower(), daemon.clock.wall()
            current = daemon.store.get_override(now=now)
            mode = "auto" if current is not None and current.mode == wanted else wanted
            set_override(daemon.store, mode, until=None, now=now, set_by="panel")
            daemon.changes.notify()
            log.info("panel.override", mode=mode)
            return True
        if button == "AWAY":
            ext = self.settings.away_extension
            if ext is None:
                return False
            phone = daemon.queue.board.phones.get(ext)
            daemon.set_staff_login(ext, phone is not None and not phone.logged_in, by="panel")
            return True
        return False

    def _reject(self, line: bytes, count: int) -> None:
        """Garbage from the line: counted, and logged at most every GARBAGE_WARN_EVERY s."""
        self._garbage += count
        now = self.daemon.clock.now()
        if self._garbage_warned_at is None or now - self._garbage_warned_at >= GARBAGE_WARN_EVERY:
            log.warning(
                "panel.garbage",
                port=self.settings.port,
                dropped=self._garbage,
                sample=line[:40].decode("ascii", "replace"),
            )
            self._garbage, self._garbage_warned_at = 0, now
