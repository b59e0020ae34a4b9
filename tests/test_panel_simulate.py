"""The simulated desk panel as a technician uses it: `frontdesk panel simulate` in a child
process at the end of a real pseudo-terminal that the real daemon opens as its [panel] port,
and `frontdesk run --panel-simulator` (what `make run` shows). Each is seen as a user would:
through a pipe (plain lines, as in CI) or on a terminal (the slave of a pty, 24 x 100)."""

from __future__ import annotations

import fcntl
import io
import os
import re
import signal
import socket
import struct
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import gevent
import gevent.subprocess
import pytest

from frontdesk.config import load_config
from frontdesk.panel.frame import Frame, decode, encode
from frontdesk.panel.simulate import ANSWER_WITHIN, SEND_TRIES, LineOutput, PanelModel
from frontdesk.rehearse import RealTimeAt, Rig
from frontdesk.sim import CallerScript, ScaledClock
from helpers import wait_for
from panel_helpers import TUESDAY_MORNING, enable_panel

ESCAPES = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z]|[78])")
FRONTDESK = [sys.executable, "-m", "frontdesk.cli"]
PATIENT_CALLER = CallerScript(keys=("0",), patience=100)
"""Asks for the desk, nobody answers: hangs up 2 s (100 simulated s) after being answered."""


def with_panel(practice_dir: Path, port: str) -> Path:
    """The example config with the panel enabled on `port`, amber from the first caller."""
    return enable_panel(practice_dir, port, away_extension="1001", amber_waiting=1, red_waiting=3)


class PipedProcess:
    """A `frontdesk` command in a child process with pipes: stdout lines are collected as
    they come (stderr too, drained so the child never blocks), keys are typed on stdin."""

    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.process = gevent.subprocess.Popen(
            [*FRONTDESK, *args],
            stdin=gevent.subprocess.PIPE,
            stdout=gevent.subprocess.PIPE,
            stderr=gevent.subprocess.PIPE,
        )
        self._readers = [
            gevent.spawn(self._collect, self.process.stdout, self.lines),
            gevent.spawn(self._collect, self.process.stderr, self.errors),
        ]

    @staticmethod
    def _collect(stream, lines: list[str]) -> None:
        for raw in stream:
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def saw(self, pattern: str) -> str | None:
        """The last stdout line matching `pattern` (a regular expression)."""
        matching = [line for line in self.lines if re.search(pattern, line)]
        return matching[-1] if matching else None

    def type(self, keys: str) -> None:
        self.process.stdin.write(keys.encode())
        self.process.stdin.flush()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        gevent.joinall(self._readers, timeout=2)
        return code


class TerminalProcess:
    """A `frontdesk` command whose stdin and stdout (stderr too, if asked) are a terminal:
    the slave of a pty of 24 rows by 100 columns. What it draws is read from the master."""

    def __init__(self, *args: str, stderr_too: bool = False) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.set_blocking(self.master, False)
        self.output = b""
        env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
        env["TERM"] = "xterm-256color"
        self.process = gevent.subprocess.Popen(
            [*FRONTDESK, *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave if stderr_too else gevent.subprocess.DEVNULL,
            env=env,
        )

    def raw(self) -> bytes:
        """Everything written to the terminal so far, escape codes and all."""
        try:
            while data := os.read(self.master, 65536):
                self.output += data
        except (BlockingIOError, OSError):
            pass
        return self.output

    def text(self) -> str:
        return ESCAPES.sub(b"", self.raw()).decode("utf-8", "replace")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def echoes(self) -> bool:
        """The terminal is back in its ordinary mode: keys echoed, lines edited."""
        lflag = termios.tcgetattr(self.slave)[3]
        return bool(lflag & termios.ECHO) and bool(lflag & termios.ICANON)

    def exited(self) -> int | None:
        self.raw()  # keep the terminal drained while it finishes
        return self.process.poll()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def piped_panel(tmp_path: Path) -> Iterator[PipedProcess]:
    link = tmp_path / "serial-by-id-simulated-panel"
    child = PipedProcess("panel", "simulate", "--link", str(link))
    assert wait_for(lambda: child.saw(r'port = "'), timeout=5), child.errors
    yield child
    child.stop()


def rig_on(config: Path, tmp_path: Path) -> Rig:
    rig = Rig(load_config(config), tmp_path, clock=RealTimeAt(), sim_clock=ScaledClock(0.02))
    assert rig.daemon.control.wait_connected(5)
    for phone in rig.sim.phones.values():  # nobody answers: callers stay in the queue
        phone.answer_after = None
    return rig


@pytest.fixture
def piped_rig(practice_dir: Path, tmp_path: Path, piped_panel: PipedProcess) -> Iterator[Rig]:
    port = re.search(r'port = "(.+)"', piped_panel.saw(r'port = "')).group(1)
    with rig_on(with_panel(practice_dir, port), tmp_path) as rig:
        yield rig


# -- frontdesk panel simulate --------------------------------------------------------------


def test_the_simulated_panel_prints_the_port_to_configure(piped_panel, tmp_path):
    link = tmp_path / "serial-by-id-simulated-panel"

    assert piped_panel.saw(r"simulated desk panel on /dev/pts/\d+")
    assert piped_panel.saw(rf'\[panel\] enabled = true, port = "{re.escape(str(link))}"')
    assert os.readlink(link).startswith("/dev/pts/")
    # printed after the port, by another process: waited for, not assumed already there
    assert wait_for(lambda: piped_panel.saw(r"^panel: no state yet; waiting for the daemon$"))


def test_through_a_pipe_the_panel_is_one_plain_line_per_change_showing_callers_waiting(
    piped_rig, piped_panel
):
    assert wait_for(lambda: piped_panel.saw(r"0 waiting.*GREEN, mode AUTO; daemon connected"))

    call = piped_rig.place(PATIENT_CALLER, at=TUESDAY_MORNING)

    assert wait_for(lambda: piped_panel.saw(r"^panel: 1 waiting, longest \d:\d\d, "), timeout=3)
    assert "AMBER" in piped_panel.saw(r"1 waiting")
    assert call.wait_done(3)  # tired of waiting: the caller hangs up
    assert wait_for(lambda: piped_panel.lines[-1].startswith("panel: 0 waiting"), timeout=2)
    assert not [line for line in piped_panel.lines if "\x1b" in line]


def test_through_a_pipe_a_wait_growing_alone_prints_no_new_line():
    model, out = PanelModel(now=0.0), io.StringIO()
    lines = LineOutput(out)

    for second in range(0, 20, 2):  # a heartbeat's state every 2 s, the wait growing
        model.receive(encode(Frame("S", second, ("1", str(second), "0", "A", "AUTO"))), second)
        lines.show(model, now=float(second))

    assert out.getvalue().splitlines() == [
        "panel: 1 waiting, longest 0:00, 0 staff free, AMBER, mode AUTO; daemon connected"
    ]


def test_pressing_l_on_the_simulated_panel_puts_the_practice_on_lunch(piped_rig, piped_panel):
    assert wait_for(lambda: piped_panel.saw(r"mode AUTO; daemon connected"))

    piped_panel.type("l\n")

    assert wait_for(lambda: piped_panel.saw(r"^panel: button LUNCH: OK \(done\)$"), timeout=2)
    assert wait_for(lambda: piped_panel.saw(r"mode LUNCH; daemon connected"), timeout=2)
    override = piped_rig.daemon.store.get_override(now=TUESDAY_MORNING)
    assert (override.mode, override.set_by) == ("lunch", "panel")

    piped_panel.type("l")  # again: back to the schedule

    assert wait_for(lambda: piped_panel.lines[-1].endswith("mode AUTO; daemon connected"), 3)


def test_on_a_terminal_the_panel_is_drawn_in_colour_and_q_gives_the_terminal_back(
    practice_dir, tmp_path
):
    link = tmp_path / "panel"
    terminal = TerminalProcess("panel", "simulate", "--link", str(link))
    try:
        assert wait_for(lambda: link.is_symlink() and "waiting for the daemon" in terminal.text())
        assert not terminal.echoes()  # cbreak: a key is a button press, not echoed
        with rig_on(with_panel(practice_dir, str(link)), tmp_path) as rig:
            call = rig.place(PATIENT_CALLER, at=TUESDAY_MORNING)
            assert wait_for(lambda: "1 waiting" in terminal.text(), timeout=3)
            assert b"\x1b[30;43m AMBER " in terminal.raw()
            assert "daemon connected, heard 0 s ago" in terminal.text()

            terminal.type("c")

            assert wait_for(lambda: "last button: CLOSED OK" in terminal.text(), timeout=2)
            assert rig.daemon.store.get_override(now=TUESDAY_MORNING).mode == "closed"
            assert call.wait_done(3)

            terminal.type("q")

            assert wait_for(lambda: terminal.exited() == 0, timeout=3)
        assert terminal.echoes()
        assert terminal.raw().endswith(b"\x1b[r\x1b[24;1H\r\n")  # scrolling whole again
        assert not link.exists()
    finally:
        terminal.close()


def test_the_simulator_refuses_to_replace_a_file_with_its_link(tmp_path):
    precious = tmp_path / "ttyUSB0"
    precious.write_text("not a link")

    done = gevent.subprocess.run(
        [*FRONTDESK, "panel", "simulate", "--link", str(precious)],
        capture_output=True,
        text=True,
        stdin=gevent.subprocess.DEVNULL,
    )

    assert done.returncode == 1
    assert "exists and is not a symlink" in done.stderr
    assert precious.read_text() == "not a link"


def test_a_button_the_daemon_does_not_answer_is_sent_again_then_reported():
    model = PanelModel(now=0.0)
    pressed = model.press("AWAY", now=0.0)
    sent, notices = [pressed], []

    for second in range(1, 10):
        frames, said = model.tick(now=float(second))
        sent += [frame for frame in frames if decode(frame).kind == "B"]
        notices += said

    assert sent == [pressed] * SEND_TRIES  # the same frame: the daemon acts on it once
    assert notices == ["button AWAY: no answer from the daemon"]
    assert model.button_text() == "AWAY: no answer"
    late = encode(Frame("A", 9, (str(decode(pressed).seq), "OK")))
    assert model.receive(late, now=ANSWER_WITHIN * 5) == ["daemon connected"]


# -- frontdesk run --panel-simulator: make run -----------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo_config(practice_dir: Path) -> Path:
    """The example as `make run` uses it, on free ports (the built-in simulator takes the
    ESL one)."""
    path = practice_dir / "frontdesk.toml"
    text = path.read_text()
    for key in ("esl_port", "listen_port"):
        text = re.sub(rf"(?m)^{key} = \d+$", f"{key} = {free_port()}", text, count=1)
    path.write_text(text)
    return path


def run_args(config: Path) -> list[str]:
    return ["run", "--config", str(config), "--simulator", "always", "--panel-simulator"]


def test_make_run_through_a_pipe_tells_the_panel_in_plain_lines_and_l_works(demo_config):
    daemon = PipedProcess(*run_args(demo_config))
    try:
        assert wait_for(lambda: daemon.saw(r"mode AUTO; daemon connected"), 5), daemon.errors

        daemon.type("l")

        assert wait_for(lambda: daemon.saw(r"^panel: button LUNCH: OK"), timeout=2)
        assert wait_for(lambda: daemon.saw(r"mode LUNCH; daemon connected"), timeout=2)
        assert not [line for line in daemon.lines if "\x1b" in line]
        assert any('"panel.override"' in line for line in daemon.errors)  # JSON logs
    finally:
        assert daemon.stop() == 0


def test_make_run_on_a_terminal_draws_the_panel_under_the_logs_and_q_stops(demo_config):
    terminal = TerminalProcess(*run_args(demo_config), stderr_too=True)
    try:
        assert wait_for(lambda: "daemon connected" in terminal.text(), timeout=5)
        raw = terminal.raw()
        assert b"\x1b[1;20r" in raw  # the logs scroll in rows 1-20, the panel holds 21-24
        assert "daemon.started" in terminal.text()

        terminal.type("a")

        assert wait_for(lambda: "last button: AWAY OK" in terminal.text(), timeout=2)
        terminal.type("q")
        assert wait_for(lambda: terminal.exited() == 0, timeout=5)
        assert "daemon.stopped" in terminal.text()
        assert terminal.echoes()
        assert terminal.raw().endswith(b"\r\n") and b"\x1b[r" in terminal.raw()
    finally:
        terminal.close()
