"""A desk panel played on a terminal: `frontdesk panel simulate` and `frontdesk run
--panel-simulator`.

The simulator holds the master of a pseudo-terminal pair; the daemon opens the slave as the
[panel] port, exactly as it opens a USB-serial device, so the real supervisor (link.py) and
the real protocol run end to end. Frames go through frame.py, as in the daemon. The panel is
drawn in the bottom rows of the terminal (a scroll region above it keeps the daemon's logs and
the simulator's notices readable), or, when stdout is not a terminal, told as one line each
time what it shows changes. Keys are the panel's buttons: `l` lunch, `c` closed, `a` away,
`q` quit.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from frontdesk.panel.frame import (
    LEVELS,
    MODES,
    PROTOCOL_VERSION,
    Frame,
    FrameError,
    LineSplitter,
    decode,
    encode,
)

if TYPE_CHECKING:
    from frontdesk.config.model import Config

KEYS = {"l": "LUNCH", "c": "CLOSED", "a": "AWAY"}
QUIT_KEYS = ("q", "\x04")
"""`q`, or Ctrl-D (which a terminal in cbreak mode passes on as a character)."""
HEARTBEAT_SECONDS = 2.0
"""The panel's heartbeat period (docs/panel-protocol.md)."""
ANSWER_WITHIN = 2.0
"""A button frame with no answer after this long is sent again, with the same sequence."""
SEND_TRIES = 3
SILENT_AFTER = 3 * HEARTBEAT_SECONDS
"""Nothing heard for this long: the daemon is shown as silent (three default heartbeats)."""
TICK = 0.25
"""Longest wait for input: how often heartbeats, resends and the drawing are looked at."""
SUMMARY_EVERY = 1.0
"""Without a terminal: at most one summary line this often."""
PANEL_ROWS = 4
MIN_TERMINAL_ROWS = PANEL_ROWS + 4
LEVEL_NAMES = {"G": "GREEN", "A": "AMBER", "R": "RED"}
LEVEL_STYLES = {"G": "30;42", "A": "30;43", "R": "1;97;41"}


# -- the panel's side of the protocol, without I/O ---------------------------------------


@dataclass(frozen=True)
class Shown:
    """The state the daemon last sent (an `S` frame)."""

    waiting: int
    longest: int
    available: int
    level: str
    mode: str


@dataclass
class Pending:
    """A button frame sent and not answered yet."""

    button: str
    frame: bytes
    seq: int
    sent_at: float
    tries: int = 1


class PanelModel:
    """What the panel knows and shows. Bytes from the daemon go in (`receive`); key presses
    and the passing of time (`press`, `tick`) give bytes to send; both give notices, short
    sentences for the person watching."""

    def __init__(self, now: float) -> None:
        self.splitter = LineSplitter()
        self.shown: Shown | None = None
        self.heard_at: float | None = None
        self.connected = False
        self.pending: Pending | None = None
        self.last_answer = ""
        self.garbage = 0
        self._seq = 0
        self._heartbeat_at = now - HEARTBEAT_SECONDS  # the first one at once

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 65536
        return self._seq

    def receive(self, data: bytes, now: float) -> list[str]:
        notices: list[str] = []
        for line in self.splitter.feed(data):
            try:
                notices += self._frame(decode(line))
            except (FrameError, ValueError):
                self.garbage += 1
                continue
            self.heard_at = now
            if not self.connected:
                self.connected = True
                notices.append("daemon connected")
        self.garbage += self.splitter.overlong
        self.splitter.overlong = 0
        return notices

    def _frame(self, frame: Frame) -> list[str]:
        """Act on one frame; ValueError for a frame a panel never receives or cannot show."""
        if frame.kind == "S":
            self.shown = _shown(frame.fields)
        elif frame.kind == "A":
            return self._answer(int(frame.fields[0]), frame.fields[1])
        elif frame.kind == "V":
            version, sender = frame.fields
            if version != str(PROTOCOL_VERSION):
                return [f"{sender} speaks protocol {version}, this panel {PROTOCOL_VERSION}"]
            return [f"hello from {sender} (protocol {version})"]
        elif frame.kind != "H":
            raise ValueError(frame.kind)
        return []

    def _answer(self, seq: int, verdict: str) -> list[str]:
        pending = self.pending
        if pending is None or pending.seq != seq:
            return []  # an answer to a press already given up on
        self.pending = None
        self.last_answer = f"{pending.button} {verdict}"
        meaning = "done" if verdict == "OK" else "refused by the daemon"
        return [f"button {pending.button}: {verdict} ({meaning})"]

    def press(self, button: str, now: float) -> bytes:
        """The frame of a button press; a press replaces one still waiting for its answer."""
        seq = self._next_seq()
        frame = encode(Frame("B", seq, (button,)))
        self.pending = Pending(button, frame, seq, now)
        self.last_answer = ""
        return frame

    def tick(self, now: float) -> tuple[list[bytes], list[str]]:
        """What is due: the heartbeat, a resend of an unanswered button; and the notices of
        a daemon falling silent or a press given up on."""
        out: list[bytes] = []
        notices: list[str] = []
        if now - self._heartbeat_at >= HEARTBEAT_SECONDS:
            out.append(encode(Frame("H", self._next_seq())))
            self._heartbeat_at = now
        pending = self.pending
        if pending is not None and now - pending.sent_at >= ANSWER_WITHIN:
            if pending.tries < SEND_TRIES:
                out.append(pending.frame)
                pending.tries, pending.sent_at = pending.tries + 1, now
            else:
                self.pending = None
                self.last_answer = f"{pending.button}: no answer"
                notices.append(f"button {pending.button}: no answer from the daemon")
        if self.connected and self.heard_at is not None and now - self.heard_at > SILENT_AFTER:
            self.connected = False
            notices.append(f"daemon silent (nothing heard for {SILENT_AFTER:.0f} s)")
        return out, notices

    def link_text(self, now: float) -> str:
        if self.heard_at is None:
            return "waiting for the daemon to open the port"
        ago = now - self.heard_at
        if self.connected:
            return f"daemon connected, heard {ago:.0f} s ago"
        return f"daemon silent for {ago:.0f} s"

    def button_text(self) -> str:
        if self.pending is not None:
            return f"{self.pending.button} sent, waiting for the answer"
        return self.last_answer


def _shown(fields: tuple[str, ...]) -> Shown:
    """An `S` frame's fields; ValueError when they are out of the protocol's ranges."""
    waiting, longest, available, level, mode = fields
    if level not in LEVELS or mode not in MODES:
        raise ValueError(fields)
    return Shown(int(waiting), int(longest), int(available), level, mode)


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def summary(model: PanelModel) -> str:
    """One line for a log or a pipe; without the seconds since the last frame, so that it
    only changes when what the panel shows does."""
    shown = model.shown
    if model.heard_at is None:
        link = "waiting for the daemon"
    else:
        link = "daemon connected" if model.connected else "daemon silent"
    if shown is None:
        return f"panel: no state yet; {link}"
    return (
        f"panel: {shown.waiting} waiting, longest {_minutes(shown.longest)}, "
        f"{shown.available} staff free, {LEVEL_NAMES[shown.level]}, mode {shown.mode}; {link}"
    )


def _summary_key(model: PanelModel) -> tuple[object, ...]:
    """What a new summary line is printed for: the longest wait alone does not count (the
    level tells when it crosses a threshold), else a line would come with every heartbeat."""
    shown = model.shown
    state = None if shown is None else (shown.waiting, shown.available, shown.level, shown.mode)
    return state, model.connected, model.heard_at is None


# -- drawing -------------------------------------------------------------------------------

Segment = tuple[str, str]
"""Text and its SGR attributes ("" for plain)."""


def panel_rows(model: PanelModel, now: float, port: str) -> list[list[Segment]]:
    """The PANEL_ROWS rows of the panel, as segments to paint."""
    shown = model.shown
    title = [("-- desk panel (simulated) on ", "1"), (port, "1"), (" " + "-" * 200, "")]
    if shown is None:
        state: list[Segment] = [("  no state from the daemon yet", "2")]
    else:
        mode_style = "2" if shown.mode == "AUTO" else "1;7"
        state = [
            (f"  {shown.waiting} waiting", "1"),
            (f"   longest {_minutes(shown.longest)}", ""),
            (f"   {shown.available} staff free   ", ""),
            (f" {LEVEL_NAMES[shown.level]} ", LEVEL_STYLES[shown.level]),
            ("   mode ", ""),
            (shown.mode, mode_style),
        ]
    link_style = "32" if model.connected else ("33" if model.heard_at is None else "1;31")
    link: list[Segment] = [("  " + model.link_text(now), link_style)]
    if button := model.button_text():
        link.append((f"   last button: {button}", ""))
    keys = "  ".join(f"{key} {name.lower()}" for key, name in KEYS.items())
    return [title, state, link, [(f"  keys: {keys}  q quit", "2")]]


def paint(segments: list[Segment], width: int, colour: bool) -> str:
    """Segments cut to `width` characters, with their colours when `colour`."""
    text, room = [], width
    for chunk, style in segments:
        chunk = chunk[:room]
        room -= len(chunk)
        text.append(f"\x1b[{style}m{chunk}\x1b[0m" if colour and style and chunk else chunk)
    return "".join(text)


class Output(Protocol):
    def start(self, port: str) -> None: ...

    def notice(self, text: str) -> None: ...

    def show(self, model: PanelModel, now: float) -> None: ...

    def close(self) -> None: ...


class TerminalScreen:
    """The panel in the bottom rows of the terminal. A scroll region above it takes
    everything else written to the terminal (the simulator's notices, the daemon's logs when
    they share it), so the panel stays in place while they scroll."""

    def __init__(self, out: TextIO, *, colour: bool) -> None:
        self.out = out
        self.colour = colour
        self.port = ""
        self.size = (0, 0)
        self.drawn: list[str] = []

    def start(self, port: str) -> None:
        self.port = port
        self.out.write("\n" * PANEL_ROWS)  # room for the panel: what is there scrolls up
        self._set_region()

    def _set_region(self) -> None:
        self.size = columns, rows = terminal_size(self.out)
        top = max(rows - PANEL_ROWS, 1)
        # the region (which sends the cursor home), then the cursor back to its last row
        self.out.write(f"\x1b[1;{top}r\x1b[{top};1H")
        self.drawn = []
        self.out.flush()

    def notice(self, text: str) -> None:
        self.out.write(f"{time.strftime('%H:%M:%S')} panel: {text}\n")
        self.out.flush()

    def show(self, model: PanelModel, now: float) -> None:
        if terminal_size(self.out) != self.size:
            self._set_region()
        columns, rows = self.size
        lines = [paint(row, columns - 1, self.colour) for row in panel_rows(model, now, self.port)]
        if lines == self.drawn:
            return
        top = rows - PANEL_ROWS + 1
        drawing = "".join(f"\x1b[{top + i};1H\x1b[2K{line}" for i, line in enumerate(lines))
        self.out.write(f"\x1b7{drawing}\x1b8")  # saved and restored: the logs' cursor
        self.out.flush()
        self.drawn = lines

    def close(self) -> None:
        """The whole screen scrolls again; the cursor goes under the panel, which stays."""
        self.out.write(f"\x1b[r\x1b[{self.size[1]};1H\n")
        self.out.flush()


class LineOutput:
    """No terminal (CI, a pipe, a file): plain lines, no escape codes. Notices as they come,
    the panel as one summary line when what it shows changes, at most one every
    SUMMARY_EVERY seconds (the newest state is printed when that time has passed)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.printed_key: tuple[object, ...] | None = None
        self.printed_at = float("-inf")

    def start(self, port: str) -> None:
        pass

    def notice(self, text: str) -> None:
        self.out.write(f"panel: {text}\n")
        self.out.flush()

    def show(self, model: PanelModel, now: float) -> None:
        key = _summary_key(model)
        if key == self.printed_key or now - self.printed_at < SUMMARY_EVERY:
            return
        self.out.write(summary(model) + "\n")
        self.out.flush()
        self.printed_key, self.printed_at = key, now

    def close(self) -> None:
        pass


def output_for(out: TextIO) -> Output:
    """The drawn panel on a terminal that can take it, plain lines otherwise."""
    try:
        terminal = out.isatty()
    except ValueError:  # closed
        terminal = False
    if terminal and os.environ.get("TERM", "") != "dumb":
        if terminal_size(out)[1] >= MIN_TERMINAL_ROWS:
            return TerminalScreen(out, colour="NO_COLOR" not in os.environ)
    return LineOutput(out)


def terminal_size(out: TextIO) -> tuple[int, int]:
    """Columns and rows of the terminal `out` writes to."""
    try:
        columns, rows = os.get_terminal_size(out.fileno())
    except OSError:
        columns = rows = 0
    return (columns or 80, rows or 24)  # a fresh pty says 0 x 0


# -- the line and the keyboard -------------------------------------------------------------


class PtyPort:
    """The panel's end of the serial line: the master of a pseudo-terminal pair. `path` is
    the slave, for [panel] port; `link`, if given, a symlink to it that stays the same from
    one run to the next (as /dev/serial/by-id/… does for a USB adapter).

    The slave is kept open here too, in raw mode: without that, the line would echo our own
    frames back to us until the daemon opens it (pyserial then sets its own modes and flushes
    what waited), and reading the master would fail each time the daemon closes the port."""

    def __init__(self, link: Path | None = None) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.link = link
        if link is not None:
            try:
                _replace_link(link, self.path)
            except OSError:
                self.close()
                raise

    @property
    def name(self) -> str:
        """What to put in [panel] port."""
        return str(self.link) if self.link is not None else self.path

    def fileno(self) -> int:
        return self.master

    def read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        """Best effort, as on a wire: when nobody reads the slave and its buffer is full, the
        frame is lost."""
        try:
            os.write(self.master, data)
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self.link is not None and self.link.is_symlink():
            if os.readlink(self.link) == self.path:
                self.link.unlink()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


def _replace_link(link: Path, target: str) -> None:
    """`link` -> `target`, replacing an older symlink (never a file that is not one)."""
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink")
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    temporary.replace(link)  # atomic: the daemon never sees the name missing


class Keys:
    """The keyboard (stdin): a terminal in cbreak mode, a key as soon as it is typed
    (restored by `close`); a pipe, each byte a key."""

    def __init__(self, fd: int, saved: list | None) -> None:
        self.fd = fd
        self.saved = saved
        self.open = True

    @classmethod
    def of(cls, stream: TextIO) -> Keys | None:
        """Keys from `stream`; None when it cannot give any (closed, or a terminal this
        process is in the background of: reading it would stop us with SIGTTIN)."""
        try:
            fd = stream.fileno()
        except (AttributeError, ValueError, OSError):
            return None
        if not os.isatty(fd):
            return cls(fd, None)
        try:
            if os.tcgetpgrp(fd) != os.getpgrp():
                return None
        except OSError:  # not our controlling terminal: no job control to fear
            pass
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        return cls(fd, saved)

    def fileno(self) -> int:
        return self.fd

    def read(self) -> str:
        """The keys typed; at the end of a pipe, `open` becomes False. The escape sequences
        of arrows and function keys are dropped (their letters are not buttons)."""
        data = os.read(self.fd, 64).decode("ascii", "replace")
        if not data:
            self.open = False
        if "\x1b" in data:
            data = data[: data.index("\x1b")]
        return "".join(data.split())

    def close(self) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None


# -- the loop -------------------------------------------------------------------------------

Waiter = Callable[..., tuple[list, list, list]]


def run_panel(
    port: PtyPort,
    output: Output,
    keys: Keys | None,
    *,
    wait: Waiter = select.select,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Play the panel until a quit key. `wait` is select.select, or gevent's inside the
    daemon's process. The output is closed on the way out, whatever the way."""
    model = PanelModel(clock())
    output.start(port.name)
    try:
        while True:
            now = clock()
            frames, notices = model.tick(now)
            for data in frames:
                port.write(data)
            _tell(output, notices)
            output.show(model, now)
            watched = [port] + ([keys] if keys is not None and keys.open else [])
            ready = wait(watched, [], [], TICK)[0]
            if port in ready:
                _tell(output, model.receive(port.read(), clock()))
            if keys is not None and keys in ready:
                for key in keys.read():
                    if key in QUIT_KEYS:
                        return
                    if key in KEYS:
                        port.write(model.press(KEYS[key], clock()))
                    else:
                        output.notice(f"{key!r} is no button: l lunch, c closed, a away, q quit")
    finally:
        output.close()


def _tell(output: Output, notices: list[str]) -> None:
    for notice in notices:
        output.notice(notice)


@contextmanager
def _keyboard(stream: TextIO) -> Iterator[Keys | None]:
    keys = Keys.of(stream)
    try:
        yield keys
    finally:
        if keys is not None:
            keys.close()


def simulate(link: Path | None = None) -> int:
    """`frontdesk panel simulate`: the panel on this terminal until `q`, Ctrl-C or SIGTERM,
    with the terminal given back as it was."""
    try:
        port = PtyPort(link)
    except OSError as error:
        print(f"frontdesk panel simulate: {error}", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        print(f"simulated desk panel on {port.path}", flush=True)
        print(f'in the daemon\'s config: [panel] enabled = true, port = "{port.name}"', flush=True)
        with _keyboard(sys.stdin) as keys:
            run_panel(port, output_for(sys.stdout), keys)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        port.close()
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signum)  # the same way out as Ctrl-C: terminal restored


# -- inside the daemon's process: `frontdesk run --panel-simulator` -------------------------


class PanelInTerminal:
    """The simulated panel in the daemon's own process (a greenlet), its pty slave wired in
    as the [panel] port, drawn under the daemon's logs. `q` stops the daemon (as SIGTERM)."""

    def __init__(self) -> None:
        import gevent

        self.port = PtyPort()
        self.keys = Keys.of(sys.stdin)
        self.output = output_for(sys.stdout)
        self.greenlet: gevent.Greenlet | None = gevent.spawn(self._run)
        atexit.register(self.stop)  # the terminal restored even if the daemon ends otherwise

    def wire(self, config: Config) -> Config:
        """`config` with the panel on this pty, speaking our protocol. The away key logs out
        [panel] away_extension, or else the first desk phone, so every key does something."""
        settings = config.panel
        away = settings.away_extension or next(iter(config.frontdesk.extensions), None)
        panel = replace(
            settings,
            enabled=True,
            port=self.port.path,
            driver="frontdesk",
            bytesize=8,
            parity="N",
            stopbits=1,
            away_extension=away,
        )
        return replace(config, panel=panel)

    def _run(self) -> None:
        import gevent.select

        run_panel(self.port, self.output, self.keys, wait=gevent.select.select)
        os.kill(os.getpid(), signal.SIGTERM)

    def stop(self) -> None:
        """Idempotent (it runs again at exit)."""
        if self.greenlet is None:
            return
        self.greenlet.kill()  # its finally gives the terminal its scrolling back
        self.greenlet = None
        if self.keys is not None:
            self.keys.close()
        self.port.close()
