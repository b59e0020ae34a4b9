"""Headless Chromium for the console's browser tests and benchmark: Debian's `chromium`
driven by Playwright (no browser download; `.ci/run` installs the package)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright, sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # a closed network: nothing to fetch
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
SCREEN = {"width": 1366, "height": 768}
"""The desk's screen (issue 12): readable, no horizontal scroll."""


def launch(playwright: Playwright) -> Browser:
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"no browser at {CHROMIUM}: sudo apt install chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """One browser for a test module (a fixture's body)."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def artifacts() -> Path:
    """Where tests keep what a person looks at afterwards: $FRONTDESK_ARTIFACTS, else
    build/artifacts/ (not in git)."""
    directory = Path(os.environ.get("FRONTDESK_ARTIFACTS") or REPO / "build" / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
