"""Shared by the desk panel tests: the example config with the panel enabled, the daemon
started on it, and the panel's end of the line (a pty here, a socket or a terminal server's
serial port in test_panel_transports.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from frontdesk.config import load_config
from frontdesk.panel.frame import Frame, LineSplitter, decode, encode
from frontdesk.rehearse import Rig

TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


def enable_panel(
    practice_dir: Path,
    port: str,
    *,
    heartbeat_seconds: float = 0.5,
    away_extension: str | None = None,
    amber_waiting: int | None = None,
    red_waiting: int | None = None,
    extra: str = "",
) -> Path:
    """The example config in `practice_dir` with [panel] enabled on `port`: the settings given
    (and the `extra` lines, as written) go at the top of the section. Returns its path."""
    settings = f'enabled = true\nport = "{port}"\nheartbeat_seconds = {heartbeat_seconds}\n'
    if away_extension is not None:
        settings += f'away_extension = "{away_extension}"\n'
    if amber_waiting is not None:
        settings += f"amber_waiting = {amber_waiting}\n"
    if red_waiting is not None:
        settings += f"red_waiting = {red_waiting}\n"
    path = practice_dir / "frontdesk.toml"
    path.write_text(path.read_text().replace("\n[panel]\n", f"\n[panel]\n{settings}{extra}", 1))
    return path


@contextmanager
def started_rig(config: Path, tmp_path: Path) -> Iterator[Rig]:
    """The real daemon on `config` against the simulator (a simulated second in 10 ms), once
    it is connected to the simulator's ESL."""
    with Rig(load_config(config), tmp_path) as rig:
        assert rig.daemon.control.wait_connected(5)
        yield rig


class PanelEnd:
    """The panel's side of the protocol over a byte link. A variant provides `read` (the bytes
    that have arrived, b"" when none have) and `write` (send bytes)."""

    def __init__(self) -> None:
        self.splitter = LineSplitter()
        self.received: list[Frame] = []
        self.seq = 100

    def read(self) -> bytes:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def frames(self) -> list[Frame]:
        """Every frame received so far (reads what is waiting)."""
        while data := self.read():
            self.received += [decode(line) for line in self.splitter.feed(data)]
        return self.received

    def states(self) -> list[tuple[str, ...]]:
        return [frame.fields for frame in self.frames() if frame.kind == "S"]

    def shows(self, waiting: str, mode: str | None = None) -> bool:
        """Whether the last state shows `waiting` callers (and `mode`, if given)."""
        states = self.states()
        return bool(states) and states[-1][0] == waiting and mode in (None, states[-1][4])

    def press(self, button: str) -> int:
        """Sends a button frame; returns its sequence number."""
        self.seq += 1
        self.write(encode(Frame("B", self.seq, (button,))))
        return self.seq

    def acked(self, seq: int) -> str | None:
        """The last answer to the button frame `seq` ("OK" or "NO"), None before any."""
        acks = [f.fields[1] for f in self.frames() if f.kind == "A" and f.fields[0] == str(seq)]
        return acks[-1] if acks else None


class PtyPanel(PanelEnd):
    """The panel on the master of a pty, whose slave the other end opens: reached through the
    symlink `link` if given (as /dev/serial/by-id/… is), so it can be unplugged (the pty
    closed) and plugged in again (a new pty behind the same name)."""

    def __init__(self, link: Path | None = None) -> None:
        super().__init__()
        self.link = link
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        self.plugged = True
        if self.link is not None:
            self.link.unlink(missing_ok=True)
            self.link.symlink_to(self.device)

    @property
    def device(self) -> str:
        """The slave's path (/dev/pts/N)."""
        return os.ttyname(self.slave)

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)
        self.plugged = False
        if self.link is not None:
            self.link.unlink()

    def close(self) -> None:
        """Unplugged at the end of a test, unless the test did it."""
        if self.plugged:
            self.unplug()

    def read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def write(self, data: bytes) -> None:
        os.write(self.master, data)
