"""The receptionists' console as they use it: a real headless Chromium (Debian's, driven by
Playwright) on the console of the real daemon, which runs against the simulator in a child
process (tests/console_rig.py: real time, the browser being a real process). One rig and one
browser for the module; each test gets a fresh browser context (no cookies) whose calendar is
the daemon's (the rig's is set to a Tuesday morning), as the desk's PC and the box agree.

Selectors are the console's DOM contract (docs/internals.md, "The console")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from browser import SCREEN, launch
from conftest import copy_example_practice
from console_rig import RigProcess
from frontdesk.config import load_config
from frontdesk.console.texts import TEXTS

USER, PASSWORD = "claire", "a desk password"


@dataclass(frozen=True)
class Console:
    url: str
    offset: float
    """The daemon's calendar minus this machine's (seconds)."""
    texts: dict[str, str]
    """The console's words in the practice's language."""


@pytest.fixture(scope="module")
def practice_file(tmp_path_factory: pytest.TempPathFactory, hold_music: Path) -> Path:
    return copy_example_practice(tmp_path_factory.mktemp("console"), hold_music) / "frontdesk.toml"


@pytest.fixture(scope="module")
def rig(practice_file: Path) -> Iterator[RigProcess]:
    running = RigProcess(practice_file, practice_file.parent.parent / "rig")
    try:
        running.ask("user", name=USER, password=PASSWORD)
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def console(rig: RigProcess, practice_file: Path) -> Console:
    ready = rig.ask("ready")
    language = load_config(practice_file).practice.language
    return Console(ready["url"], ready["wall"] - time.time(), TEXTS[language])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(viewport=SCREEN, base_url=console.url)
    context.clock.install(time=time.time() + console.offset)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def log_in(page: Page, name: str, password: str) -> None:
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_queue(page, console):
    log_in(page, USER, "not the password")

    expect(page.locator(".error[role=alert]")).to_have_text(console.texts["login_wrong"])
    expect(page).to_have_url(console.url + "login")

    log_in(page, USER, PASSWORD)

    expect(page).to_have_url(console.url)
    expect(page.locator("h1")).to_have_text(console.texts["queue"])
