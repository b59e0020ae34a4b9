"""Load on the real daemon: concurrent calls, call set-ups per second, decision latency, memory.

The daemon runs as a real process (`frontdesk run`, as systemd starts it) with the example
practice's config; the simulator runs in this process and places calls that go through the
greeting, one menu and an outcome (key 4: the practical information, then goodbye). Prints its
figures; asserts nothing. Usage: .venv/bin/python bench/bench_load.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gevent

from frontdesk.logs import configure_logging
from frontdesk.sim import CallerScript, SimCall, Simulator

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples"
PASSWORD = "bench-password"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
INFO_SCRIPT = CallerScript(keys=("4",))
REPEAT_SCRIPT = CallerScript(keys=("*", "*", "*", "*", "4"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def copy_practice(workdir: Path, edit: Callable[[str], str] | None = None) -> Path:
    """The example practice copied into workdir/practice (its config text passed through
    `edit` if given), with an ESL password and workdir/var/messages; returns its config."""
    practice = workdir / "practice"
    shutil.copytree(EXAMPLE, practice, ignore=shutil.ignore_patterns("secrets"))
    (practice / "secrets").mkdir()
    (practice / "secrets" / "esl-password").write_text(PASSWORD + "\n")
    (practice / "secrets" / "esl-password").chmod(0o600)
    (workdir / "var" / "messages").mkdir(parents=True)  # as the install does on the box
    config = practice / "frontdesk.toml"
    if edit is not None:
        config.write_text(edit(config.read_text(encoding="utf-8")), encoding="utf-8")
    return config


class DaemonProcess:
    def __init__(self, workdir: Path, sim: Simulator) -> None:
        """The example practice in `workdir`, run by `frontdesk run` against `sim`; the
        database is workdir/var/."""
        config = copy_practice(workdir)
        listen_port = free_port()
        text = config.read_text(encoding="utf-8")
        text = text.replace("esl_port = 8021", f"esl_port = {sim.esl_port}")
        text = text.replace("listen_port = 8084", f"listen_port = {listen_port}")
        config.write_text(text, encoding="utf-8")
        sim.daemon_address = ("127.0.0.1", listen_port)
        cli = [sys.executable, "-m", "frontdesk.cli"]
        # Callers must hear the open branch whatever the hour of the run.
        subprocess.run([*cli, "override", "open", "--config", str(config)], check=True,
                       stdout=subprocess.DEVNULL)
        self.process = subprocess.Popen(
            [*cli, "run", "--config", str(config), "--json-logs"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mib(self) -> float:
        resident_pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return resident_pages * PAGE_KIB / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def wait_until_serving(sim: Simulator) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        probe = sim.place_call(INFO_SCRIPT)
        probe.wait_done(30)
        if not probe.daemon_unreachable and not probe.daemon_closed_midcall:
            return
        gevent.sleep(0.2)
    raise SystemExit("the daemon did not start serving calls")


def went_well(call: SimCall) -> bool:
    """The caller heard the information and the goodbye, and the daemon hung up."""
    heard = [Path(p).stem for p in call.prompts_heard]
    return (
        call.done.is_set()
        and not call.daemon_unreachable
        and not call.daemon_closed_midcall
        and heard[-2:] == ["practical_info", "goodbye"]
    )


def place_at_rate(sim: Simulator, script: CallerScript, rate: float, count: int) -> list[SimCall]:
    calls = []
    start = time.perf_counter()
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        calls.append(sim.place_call(script))
    return calls


def in_progress(calls: list[SimCall]) -> int:
    return sum(1 for call in calls if call.answered_after is not None and not call.done.is_set())


def concurrency(sim: Simulator, daemon: DaemonProcess, target: int) -> dict:
    """Place `target` calls at 50/s while each lasts ~12 s: all of them overlap."""
    sim.time_scale = 0.5
    peak, peak_rss = 0, 0.0
    placing = gevent.spawn(place_at_rate, sim, INFO_SCRIPT, 50.0, target)
    while not placing.ready() or in_progress(placing.value or []) > 0:
        gevent.sleep(0.25)
        calls = placing.value if placing.ready() else []
        held = in_progress(calls) if calls else in_progress(sim.calls[-target:])
        if held > peak:
            peak, peak_rss = held, daemon.rss_mib()
    calls = placing.value
    for call in calls:
        call.wait_done(60)
    return {
        "calls": target,
        "peak held": peak,
        "went well": sum(went_well(call) for call in calls),
        "rss MiB at peak": peak_rss,
    }


def setup_rate(sim: Simulator, daemon: DaemonProcess, rate: float, seconds: float) -> dict:
    """Short calls (about 1.2 s) placed at `rate` per second for `seconds`."""
    sim.time_scale = 0.05
    cpu_before, started = daemon.cpu_seconds(), time.perf_counter()
    calls = place_at_rate(sim, INFO_SCRIPT, rate, int(rate * seconds))
    placed_in = time.perf_counter() - started
    for call in calls:
        call.wait_done(60)
    elapsed = time.perf_counter() - started
    setups = [call.answered_after for call in calls if call.answered_after is not None]
    return {
        "offered/s": rate,
        "answered/s": len(setups) / placed_in,
        "went well": f"{sum(went_well(call) for call in calls)}/{len(calls)}",
        "setup p50 ms": statistics.median(setups) * 1000 if setups else float("nan"),
        "setup p99 ms": percentile(setups, 0.99) * 1000 if setups else float("nan"),
        "daemon cpu %": 100 * (daemon.cpu_seconds() - cpu_before) / elapsed,
    }


def decision_latency(sim: Simulator, daemon: DaemonProcess, held: int, seconds: float) -> dict:
    """Keep about `held` calls in progress, each pressing five keys; time every decision."""
    sim.time_scale = 0.5
    call_seconds = 14.0  # greeting 7 s + 5 keys + information 14 s + goodbye, at half speed
    rate = held / call_seconds
    ramp = place_at_rate(sim, REPEAT_SCRIPT, rate, int(rate * call_seconds))
    cpu_before, started = daemon.cpu_seconds(), time.perf_counter()
    steady = place_at_rate(sim, REPEAT_SCRIPT, rate, int(rate * seconds))
    held_now = in_progress(ramp + steady)
    cpu = 100 * (daemon.cpu_seconds() - cpu_before) / (time.perf_counter() - started)
    for call in ramp + steady:
        call.wait_done(60)
    latencies = [lat for call in steady for lat in call.decision_latencies]
    return {
        "calls in progress": held_now,
        "decisions": len(latencies),
        "p50 ms": statistics.median(latencies) * 1000,
        "p99 ms": percentile(latencies, 0.99) * 1000,
        "max ms": max(latencies) * 1000,
        "daemon cpu %": cpu,
        "went well": f"{sum(went_well(call) for call in ramp + steady)}/{len(ramp + steady)}",
    }


def show(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    columns = list(rows[0])
    print("  ".join(f"{c:>15}" for c in columns))
    for row in rows:
        cells = [f"{v:>15.1f}" if isinstance(v, float) else f"{v!s:>15}" for v in row.values()]
        print("  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller run (a smoke test)")
    args = parser.parse_args()
    configure_logging("warning")
    levels = (50, 100) if args.quick else (100, 200, 300, 500)
    rates = (25.0, 50.0) if args.quick else (50.0, 75.0, 100.0)
    sim = Simulator(password=PASSWORD, daemon_address=("127.0.0.1", 1), heartbeat_interval=20)
    sim.start()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        daemon = DaemonProcess(Path(tmp), sim)
        try:
            wait_until_serving(sim)
            print(f"daemon pid {daemon.process.pid}, idle RSS {daemon.rss_mib():.1f} MiB; "
                  f"{os.cpu_count()} cores; simulator in the bench process")
            show("Concurrent calls held (placed at 50/s, each ~12 s long)",
                 [concurrency(sim, daemon, n) for n in levels])
            show("Call set-ups per second (5 s of arrivals, calls ~1.2 s long)",
                 [setup_rate(sim, daemon, r, 5.0) for r in rates])
            show("Decision latency: menu completion carrying a key -> daemon's next command",
                 [decision_latency(sim, daemon, 50 if args.quick else 100,
                                   10.0 if args.quick else 20.0)])
            usage = resource.getrusage(resource.RUSAGE_SELF)
            print(f"\nsimulator (this process) CPU: {usage.ru_utime + usage.ru_stime:.1f} s")
        finally:
            daemon.stop()
            sim.stop()


if __name__ == "__main__":
    main()
