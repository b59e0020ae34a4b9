"""The console's figures: how soon a caller shows on the receptionists' screens, and what open
consoles cost the daemon during a surge of calls.

The daemon with its console runs against the simulator in a child process
(tests/console_rig.py, as for the browser tests: real time, the example practice on a Tuesday
morning, the simulated callers' prompts 50 times faster); the consoles are pages of one
headless Chromium (Debian's, driven by Playwright), each logged in as its own receptionist,
all on the same machine as the daemon.

1. Caller -> screens: callers placed one after another (--callers, default 50; --quick 10),
   each asking for the desk and hanging up after a few seconds; for each, from the moment the
   queue took them in (the rig's clock, taken as the queue published the change) to the
   moment their row (`tr.caller[data-call]`) appeared in each of the 5 pages (a
   MutationObserver in the page, the same machine's clock): p50, p99 and max over every
   (caller, console) pair. What the console adds to the queue's decision: the live fragment
   rendered, pushed as a Server-Sent Event, parsed and swapped in by the page.
2. A surge: --surge callers (default 100; --quick 30) arriving at 10 a second, asking for
   the desk, hanging up after 20 s unless served; every desk phone logged in, answering after
   3 s and talking 10 s; beyond the example's 10 callers on hold the queue overflows them (a
   callback offered, then the voicemail): every kind of change the console shows, many a
   second. Once with no console open, once with 5 consoles open (a fresh rig
   each): the rig process's CPU seconds and peak RSS during the surge. The rig process
   holds the simulator too: its share is the same in both runs, the difference is the
   console's.

Prints its figures; asserts nothing. Usage: .venv/bin/python bench/bench_console.py [--quick]
[--callers N] [--surge N] [--consoles N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench_load import copy_practice, percentile
from frontdesk.holdmusic import write_hold_music

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser import SCREEN, launch  # noqa: E402  (the tests' browser)
from console_rig import RigProcess  # noqa: E402  (the tests' rig)

PASSWORD = "bench password"
CALLER_PATIENCE = 3.0
"""Real seconds a caller of part 1 waits before hanging up: the queue stays short."""
SHOWN_WITHIN_MS = 10_000
"""How long a page may take to show a caller before the bench gives up (a hang)."""
SURGE_RATE, SURGE_PATIENCE = 10.0, 20.0
WATCH_CALLERS = """
window.__seen = {};
new MutationObserver(() => {
  for (const row of document.querySelectorAll("tr.caller[data-call]")) {
    if (!(row.dataset.call in window.__seen)) window.__seen[row.dataset.call] = Date.now();
  }
}).observe(document, {childList: true, subtree: true});
"""
"""In each page: when each caller's row first appeared (epoch milliseconds)."""


def start_rig(workdir: Path, users: int) -> tuple[RigProcess, str]:
    """A fresh rig on a copy of the example practice, with `users` console accounts."""
    config = copy_practice(workdir)
    write_hold_music(config.parent / "prompts" / "moh")
    rig = RigProcess(config, workdir / "rig")
    for n in range(users):
        rig.ask("user", name=f"desk{n}", password=PASSWORD)
    return rig, rig.ask("ready")["url"]


def open_consoles(browser: Browser, url: str, count: int) -> list[Page]:
    """`count` receptionists logged in, each in a context of their own, the live stream up."""
    pages = []
    for n in range(count):
        context = browser.new_context(viewport=SCREEN, base_url=url)
        context.add_init_script(WATCH_CALLERS)
        page = context.new_page()
        page.goto("/login")
        page.fill("#name", f"desk{n}")
        page.fill("#password", PASSWORD)
        with page.expect_response(lambda response: response.url.endswith("/events")):
            page.click("form.login button[type=submit]")
        pages.append(page)
    return pages


def caller_to_screens(rig: RigProcess, pages: list[Page], callers: int) -> list[float]:
    """Milliseconds from each caller entering the queue to each page showing them."""
    delays = []
    for n in range(callers):
        caller = rig.ask("call", number=f"07{n:08d}", patience=CALLER_PATIENCE)
        for page in pages:
            seen = page.wait_for_function("uuid => window.__seen[uuid]", arg=caller["call"],
                                          timeout=SHOWN_WITHIN_MS).json_value()
            delays.append(seen - caller["entered"] * 1000)
    return delays


def surge(rig: RigProcess, calls: int) -> dict[str, float]:
    before = rig.ask("stats", reset_peak=True)
    began = time.perf_counter()
    ended = rig.ask("surge", calls=calls, rate=SURGE_RATE, patience=SURGE_PATIENCE,
                    timeout=calls / SURGE_RATE + 600)["calls"]
    after = rig.ask("stats")
    return {"calls": ended, "seconds": time.perf_counter() - began,
            "cpu": after["cpu"] - before["cpu"], "peak_mib": after["peak_rss_kib"] / 1024,
            "rss_mib": after["rss_kib"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (a smoke test)")
    parser.add_argument("--callers", type=int, help="part 1's callers (50; --quick 10)")
    parser.add_argument("--surge", type=int, help="the surge's calls (100; --quick 30)")
    parser.add_argument("--consoles", type=int, default=5)
    args = parser.parse_args()
    callers = args.callers or (10 if args.quick else 50)
    calls = args.surge or (30 if args.quick else 100)
    consoles = args.consoles
    print(f"{os.cpu_count()} cores; daemon and simulator in one child process; "
          f"{consoles} consoles in one headless Chromium")
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp, \
            sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            rig, url = start_rig(Path(tmp) / "shown", consoles)
            try:
                pages = open_consoles(browser, url, consoles)
                delays = caller_to_screens(rig, pages, callers)
            finally:
                rig.close()
            for page in pages:
                page.context.close()
            print(f"\nCaller entering the queue -> shown on each of {consoles} consoles "
                  f"({callers} callers, {len(delays)} sightings), ms:")
            print(f"  p50 {statistics.median(delays):.0f}   p99 {percentile(delays, 0.99):.0f}"
                  f"   max {max(delays):.0f}")
            rows = []
            for open_count in (0, consoles):
                rig, url = start_rig(Path(tmp) / f"surge-{open_count}", open_count)
                try:
                    pages = open_consoles(browser, url, open_count)
                    rows.append((open_count, surge(rig, calls)))
                finally:
                    rig.close()
                for page in pages:
                    page.context.close()
        finally:
            browser.close()
    print(f"\nSurge of {calls} calls ({SURGE_RATE:g}/s, each waiting at most "
          f"{SURGE_PATIENCE:g} s), the rig process (daemon + simulator):")
    print(f"  {'consoles':>8}  {'calls ended':>11}  {'wall s':>6}  {'CPU s':>6}  "
          f"{'peak RSS MiB':>12}  {'RSS after MiB':>13}")
    for open_count, row in rows:
        print(f"  {open_count:>8}  {row['calls']:>11.0f}  {row['seconds']:>6.1f}  "
              f"{row['cpu']:>6.2f}  {row['peak_mib']:>12.1f}  {row['rss_mib']:>13.1f}")


if __name__ == "__main__":
    main()
