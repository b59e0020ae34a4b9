"""The console's test rig: the real daemon with its console on, and a receptionist's browser
(Werkzeug's test client) — shared by tests/test_console_pages.py and test_console_live.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

from werkzeug.test import Client, TestResponse

from frontdesk.config.model import Config
from frontdesk.console.app import ConsoleApp
from frontdesk.console.passwords import hash_password
from frontdesk.console.texts import TEXTS
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
PATIENT = "0639981234"
RESULTS = CallerScript(keys=("3", "2"))
"""Renewals menu, then results: the front-desk queue (reason results)."""
EMERGENCY = CallerScript(keys=("1",))
PRESCRIPTION = CallerScript(keys=("3", "1"), message_seconds=4.0)
"""Renewals menu, then the prescription message: a recording for the staff."""
FR = TEXTS["fr"]
DESK_PC = {"REMOTE_ADDR": "127.0.0.1"}


class Browser(Client):
    """Werkzeug's test client as a browser on the desk's PC (the console checks the peer)."""

    def open(self, *args, **kwargs) -> TestResponse:
        kwargs.setdefault("environ_base", DESK_PC)
        return super().open(*args, **kwargs)


def with_console(config: Config) -> Config:
    return replace(config, console=replace(config.console, enabled=True, port=0))


@contextmanager
def console_rig(practice: Config, tmp_path: Path) -> Iterator[Rig]:
    """The example practice on a Tuesday morning, its console on, desk phones that ring
    without being answered (callers stay in the queue)."""
    with Rig(with_console(practice), tmp_path) as running:
        assert running.daemon.control.wait_connected(5)
        for phone in running.sim.phones.values():
            phone.answer_after = None
        running.moment = TUESDAY_MORNING
        yield running


class Receptionist:
    """A browser without scripts: cookies kept, forms posted with the page's CSRF token."""

    def __init__(self, rig: Rig, name: str = "alice", password: str = "correct horse") -> None:
        self.rig = rig
        self.app: ConsoleApp = rig.daemon.console._app  # type: ignore[assignment]
        rig.daemon.store.add_console_user(name, hash_password(password),
                                          at=rig.daemon.clock.wall())
        self.client = Browser(self.app)
        answer = self.client.post("/login", data={"name": name, "password": password})
        assert answer.status_code == 303, answer.text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', self.get("/")).group(1)

    def get(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.text

    def post(self, path: str, **form: str) -> TestResponse:
        return self.client.post(path, data={"csrf": self.csrf, **form})

    def act(self, path: str, **form: str) -> str:
        """Post a form as the browser does, follow the redirect: the page it lands on."""
        answer = self.post(path, **form)
        assert answer.status_code == 303, (path, answer.status_code, answer.text)
        return self.get(answer.headers["Location"])


def row(html: str, kind: str, key: str, value: str) -> str:
    """The `tr.<kind>` whose `data-<key>` is `value`, as HTML ("" when absent)."""
    found = re.search(rf'<tr class="{kind}[^"]*" data-{key}="{re.escape(value)}">.*?</tr>',
                      html, re.S)
    return found.group(0) if found else ""


def cell(html: str, name: str) -> str:
    found = re.search(rf'<td class="{name}"[^>]*>(.*?)</td>', html, re.S)
    assert found, name
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip())


def flash(html: str) -> str:
    found = re.search(r'<p id="flash" role="status">(.*?)</p>', html, re.S)
    return unescape(found.group(1)) if found else ""


def place(rig: Rig, script: CallerScript) -> SimCall:
    """A caller calls now (on Tuesday morning: the practice is open)."""
    return rig.place(script, at=TUESDAY_MORNING, caller_number=PATIENT)


def waiting(rig: Rig, call: SimCall) -> bool:
    entry = rig.daemon.queue.waiting.get(call.uuid)
    return entry is not None and entry.state == "waiting"
