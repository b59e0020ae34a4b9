"""The daemon with its console, against the simulator, in a child process that the browser
tests (tests/test_console_browser.py) and the console's benchmark (bench/bench_console.py)
drive. Why a child: the tests use gevent without monkey-patching while Playwright's sync API
runs its own loop; the daemon must keep running while the test waits on the browser.

`frontdesk.rehearse.Rig` on real time (`RealTimeAt`: the browser is a real process) with the
calendar at `TUESDAY_MORNING` (the practice is open), [console] on 127.0.0.1 on a
free port, the simulator's callers and phones on `ScaledClock(SCALE)` (a greeting lasts a
fiftieth of its length). The desk as the tests find it: every phone registered and never
answering; 1001 (the receptionist's, for "call back now") and 1002 logged out of the queue,
1003 logged in (so callers queue: nobody logged in would overflow them). The practice's queue
as the example's, except that a caller is never overflowed for waiting (`max_wait` at its
maximum: the tests' callers wait as long as asked) and missed patients are listed without
being called back by the daemon (`call_back_missed = false`: the tests call them back).

Protocol: one JSON object a line on stdin, each answered by one line on stdout, in order;
``{"error": "..."}`` for a command that failed. EOF on stdin: the rig stops and exits.
- ``{"do": "ready"}`` -> ``{"url": console URL, "wall": the daemon's calendar, epoch s}``
- ``{"do": "user", "name": N, "password": P}`` -> ``{}`` (a console account)
- ``{"do": "call", "number": "0612345678", "keys": "0", "patience": 60}`` -> ``{"call":
  uuid, "entered": epoch s}``: a caller who asks for the desk (the keys, one a menu) and waits
  `patience` real seconds (null: until the rig stops); answered once they entered the queue,
  with the moment they did (real time, this machine's clock).
- ``{"do": "missed", "number": N}`` -> ``{"ref": missed call ref}``: a caller who waits in
  the queue, then hangs up: a missed patient, as `frontdesk callbacks` lists them.
- ``{"do": "message", "number": N}`` -> ``{"ref": inbox ref, "file": path}``: a caller who
  leaves a prescription message through the flow (the simulator records a WAV as
  FreeSWITCH does).
- ``{"do": "phone", "ext": "1001"}`` -> ``{"state": idle|ringing|talking}``: the simulated
  desk phone (`Simulator.phone_state`).
- ``{"do": "staff", "ext": "1002"}`` -> ``{"logged_in": bool}``: the queue's view.
- ``{"do": "override"}`` -> ``{"state": open|lunch|closed|...}``: what a caller gets now
  (a call placed to see it: the schedule state its record shows).
- ``{"do": "surge", "calls": 100, "rate": 10, "patience": 20}`` -> ``{"calls": n}``:
  `calls` callers asking for the desk at `rate` a second, each waiting at most `patience`
  seconds; every desk phone logged in, answering after `ANSWER_AFTER` and talking
  `TALK_SECONDS`; answered once every call ended.
- ``{"do": "stats", "reset_peak": false}`` -> ``{"cpu": CPU seconds of this process so far,
  "rss_kib": its resident memory now, "peak_rss_kib": its peak since it started, or since the
  last ``reset_peak``}`` (daemon and simulator: this one process).

Run: python tests/console_rig.py --config PRACTICE/frontdesk.toml --workdir DIR; from Python,
`RigProcess(config, workdir)` starts it and `.ask(verb, **arguments)` sends a command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import gevent
import gevent.fileobject

from console_helpers import TUESDAY_MORNING, with_console
from frontdesk.config import load_config
from frontdesk.config.model import Config
from frontdesk.console.passwords import hash_password
from frontdesk.flow import CallResult
from frontdesk.inbox import MESSAGE_REF_LENGTH
from frontdesk.logs import configure_logging
from frontdesk.queue.callbacks import MISSED_REF_LENGTH
from frontdesk.queue.feed import QueueState
from frontdesk.rehearse import RealTimeAt, Rig
from frontdesk.sim import CallerScript, ScaledClock, SimCall

SCALE = 0.02
"""Real seconds per simulated second of the simulator (callers' prompts, phones)."""
HEARTBEAT_S = 20.0
"""Real seconds between the simulator's heartbeats, as FreeSWITCH's (on real time the control
connection counts on them)."""
RECEPTIONIST, STAFF, QUEUE_PHONE = "1001", "1002", "1003"
DESK_KEY = "0"
MESSAGE_KEYS = ("3", "1")
"""Main menu: prescription or results; then a prescription renewal: the message node."""
MESSAGE_SECONDS = 5.0
ANSWER_AFTER, TALK_SECONDS = 3.0, 10.0
"""Real seconds a desk phone rings before it is answered, and talks, during a surge."""
GUARD_S = 60.0
"""Real seconds a command may wait on the daemon (a hang, not a figure)."""
MISSED_WAIT_S = 1.0
"""Real seconds a missed patient waits in the queue before hanging up."""


def rig_config(config: Config) -> Config:
    queue = replace(config.queue, max_wait=7200.0, call_back_missed=False)
    return with_console(replace(config, queue=queue))


class ConsoleRig:
    """The rig and the commands of the protocol."""

    def __init__(self, config: Config, workdir: Path) -> None:
        self.rig = Rig(rig_config(config), workdir, answer_after=None, clock=RealTimeAt(),
                       sim_clock=ScaledClock(SCALE), heartbeat_interval=HEARTBEAT_S / SCALE)
        self.rig.moment = TUESDAY_MORNING
        self.daemon = self.rig.daemon
        if not self.daemon.control.wait_connected(GUARD_S):
            raise RuntimeError("the daemon did not connect to the simulator")
        for ext in (RECEPTIONIST, STAFF):
            self.daemon.set_staff_login(ext, False, by="rig")
        self.daemon.set_staff_login(QUEUE_PHONE, True, by="rig")
        self.entered: dict[str, float] = {}
        """Call uuid -> when it entered the queue (epoch seconds), as the queue published it."""
        self.daemon.queue.feed.subscribe(self._queue_changed)

    def _queue_changed(self, _state: QueueState) -> None:
        now = time.time()
        for uuid in self.daemon.queue.waiting:
            self.entered.setdefault(uuid, now)

    def close(self) -> None:
        self.rig.close()

    # -- commands ------------------------------------------------------------------------

    def ready(self) -> dict[str, Any]:
        return {"url": self.daemon.console.url, "wall": self.rig.clock.wall().timestamp()}

    def user(self, name: str, password: str) -> dict[str, Any]:
        self.daemon.store.add_console_user(name, hash_password(password),
                                           at=self.rig.clock.wall())
        return {}

    def call(self, number: str = "0612345678", keys: str = DESK_KEY,
             patience: float | None = None) -> dict[str, Any]:
        call = self._queued(number, keys, patience)
        return {"call": call.uuid, "entered": self.entered[call.uuid]}

    def missed(self, number: str) -> dict[str, Any]:
        call = self._queued(number, DESK_KEY, MISSED_WAIT_S)
        self._result(call)
        return {"ref": call.uuid[:MISSED_REF_LENGTH]}

    def message(self, number: str) -> dict[str, Any]:
        script = CallerScript(keys=MESSAGE_KEYS, message_seconds=MESSAGE_SECONDS)
        call = self._place(script, number)
        result = self._result(call)
        if result.message_file is None:
            raise RuntimeError(f"no message recorded (outcome {result.outcome})")
        return {"ref": call.uuid[:MESSAGE_REF_LENGTH], "file": result.message_file}

    def phone(self, ext: str) -> dict[str, Any]:
        return {"state": self.rig.sim.phone_state(ext)}

    def staff(self, ext: str) -> dict[str, Any]:
        return {"logged_in": self.daemon.queue.board.phones[ext].logged_in}

    def override(self) -> dict[str, Any]:
        call = self._place(CallerScript(hangup_after=1.0), "0612000000")
        self._result(call)
        row = self.daemon.store.get_call(call.uuid)
        assert row is not None, "the call was recorded"
        return {"state": row["schedule_state"]}

    def surge(self, calls: int, rate: float, patience: float) -> dict[str, Any]:
        for phone in self.rig.sim.phones.values():
            phone.answer_after, phone.talk_seconds = ANSWER_AFTER / SCALE, TALK_SECONDS / SCALE
        for ext in self.daemon.queue.board.phones:
            self.daemon.set_staff_login(ext, True, by="rig")
        script = CallerScript(keys=(DESK_KEY,), patience=patience / SCALE)
        placed: list[SimCall] = []
        for n in range(calls):
            placed.append(self._place(script, f"06{n:08d}"))
            gevent.sleep(1 / rate)
        for call in placed:
            call.wait_done(GUARD_S + patience + TALK_SECONDS)
        return {"calls": sum(call.done.is_set() for call in placed)}

    def stats(self, reset_peak: bool = False) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        status = _status_kib()
        if reset_peak:  # the peak from now on (Linux: 5 to clear_refs resets VmHWM)
            Path("/proc/self/clear_refs").write_text("5")
        return {"cpu": usage.ru_utime + usage.ru_stime, "rss_kib": status["VmRSS"],
                "peak_rss_kib": status["VmHWM"]}

    # -- helpers -------------------------------------------------------------------------

    def _place(self, script: CallerScript, number: str) -> SimCall:
        return self.rig.place(script, at=self.rig.moment, caller_number=number)

    def _queued(self, number: str, keys: str, patience: float | None) -> SimCall:
        """A caller placed, once they entered the queue."""
        script = CallerScript(keys=tuple(keys),
                              patience=None if patience is None else patience / SCALE)
        call = self._place(script, number)
        if not self._wait(lambda: call.uuid in self.entered or call.done.is_set()):
            raise RuntimeError("the caller did not reach the queue")
        if call.uuid not in self.entered:
            raise RuntimeError(f"the caller hung up before the queue ({call.hangup_cause})")
        return call

    def _result(self, call: SimCall) -> CallResult:
        result = self.rig.result(call, timeout=GUARD_S)
        if result is None:
            raise RuntimeError("the daemon recorded no end for the call")
        return result

    def _wait(self, condition: Callable[[], bool]) -> bool:
        with gevent.Timeout(GUARD_S, False):
            while not condition():
                gevent.sleep(0.002)
            return True
        return False


def _status_kib() -> dict[str, int]:
    """The memory figures of /proc/self/status (kiB): VmRSS now, VmHWM its peak."""
    fields = (line.partition(":") for line in Path("/proc/self/status").read_text().splitlines())
    return {name: int(value.split()[0]) for name, _, value in fields
            if name in ("VmRSS", "VmHWM")}


def serve(rig: ConsoleRig, commands: Any, answers: TextIO) -> None:
    """Answer each command line until EOF."""
    for line in commands:
        request = json.loads(line)
        verb = request.pop("do")
        try:
            answer = getattr(rig, verb)(**request) if verb in VERBS else {"error": verb}
        except Exception as error:  # told to the test, which fails with it
            answer = {"error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


VERBS = frozenset({"ready", "user", "call", "missed", "message", "phone", "staff", "override",
                   "surge", "stats"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray output never mixes with answers
    configure_logging(args.log_level, json_lines=True)
    rig = ConsoleRig(load_config(args.config), args.workdir)
    try:
        serve(rig, gevent.fileobject.FileObject(sys.stdin.fileno(), "r"), answers)
    finally:
        rig.close()


class RigError(RuntimeError):
    """A command the rig answered with an error, or did not answer in time."""


class RigProcess:
    """The rig in a child process, driven through its protocol (module docstring). Its log
    (warnings and errors, JSON lines) is workdir/rig.log, quoted when a command fails."""

    def __init__(self, config: Path, workdir: Path, *, log_level: str = "warning") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "rig.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, __file__, "--config", str(config), "--workdir", str(workdir),
                 "--log-level", log_level],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            )

    def ask(self, verb: str, *, timeout: float = 2 * GUARD_S, **arguments: Any) -> dict[str, Any]:
        """Send one command and return its answer (RigError for an error or no answer)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"do": verb, **arguments}) + "\n")
        self.process.stdin.flush()
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if readable else ""
        answer = json.loads(line) if line else {"error": f"no answer to {verb!r}"}
        if "error" in answer:
            raise RigError(f"{verb}: {answer['error']}\n{self.log_tail()}")
        return answer

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """EOF: the rig stops the daemon and exits (killed if it does not, in time)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=GUARD_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    main()
