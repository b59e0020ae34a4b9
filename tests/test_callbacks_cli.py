"""`frontdesk callbacks`, as the front desk uses it at the end of a busy morning."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from frontdesk.cli import main
from frontdesk.config import load_config
from frontdesk.store import Store


def seed(config_path) -> tuple[int, str]:
    """One patient waiting for a callback that failed, one who gave up after 5 minutes."""
    config = load_config(config_path)
    now = datetime.now(UTC)
    with Store(config.storage.database) as store:
        for uuid, number, outcome in (
            ("a1b2c3d4-0000-4000-8000-000000000001", "0639981111", "callback"),
            ("70374070-0000-4000-8000-000000000002", "0639982222", "abandoned"),
        ):
            started = now - timedelta(hours=1)
            store.call_started(
                uuid, caller_number=number, caller_name="", destination="5000",
                started_at=started, schedule_state="open", schedule_detail="",
                config_version=config.version,
            )
            store.queue_event(uuid, "entered", at=started, wait=0.0)
            if outcome == "abandoned":
                store.queue_event(uuid, "abandoned", at=started + timedelta(minutes=5),
                                  wait=300.0)
            store.call_finished(
                uuid, ended_at=started + timedelta(minutes=5), answered_at=None, path=[],
                reason="speak_to_someone", outcome=outcome, hangup_cause="NORMAL_CLEARING",
            )
        callback = store.callback_requested(
            "a1b2c3d4-0000-4000-8000-000000000001", number="0639981111",
            call_started_at=now - timedelta(hours=1), requested_at=now - timedelta(hours=1),
            extensions=("1001",),
        )
        store.callback_attempted(callback, at=now, result="NO_ANSWER", state="failed")
    return callback, "70374070"  # a reference made of digits only is still a missed call


def test_the_desk_sees_whom_to_call_back_and_marks_them_done(practice_dir, capsys):
    config = str(practice_dir / "frontdesk.toml")
    callback, missed = seed(practice_dir / "frontdesk.toml")

    assert main(["callbacks", "--config", config]) == 0
    listing = capsys.readouterr().out
    assert "0639981111" in listing and "call them yourself" in listing
    assert "0639982222" in listing and "5 min" in listing

    assert main(["callbacks", "done", str(callback), "--config", config]) == 0
    assert main(["callbacks", "done", missed, "--config", config]) == 0
    capsys.readouterr()
    assert main(["callbacks", "--config", config]) == 0
    assert capsys.readouterr().out.splitlines() == ["Callbacks: none", "Missed patients: none"]


def test_marking_something_unknown_done_says_so(practice_dir, capsys):
    config = str(practice_dir / "frontdesk.toml")

    assert main(["callbacks", "done", "999", "--config", config]) == 1
    assert "nothing matches '999'" in capsys.readouterr().err
    assert main(["callbacks", "done", "--config", config]) == 2


def test_a_caller_name_with_escape_sequences_cannot_write_on_the_desk_terminal(practice_dir):
    """The name a caller chose (caller ID) is printed escaped: no screen clearing, no fake
    line."""
    config = practice_dir / "frontdesk.toml"
    seed(config)
    hostile = "Dupont\x1b[2J\x1b[H\r\nFAKE  all callbacks done\u202e\x9b31m\x07"
    with Store(load_config(config).storage.database) as store:
        store.call_started(
            "b0b0b0b0-0000-4000-8000-000000000003", caller_number="0639983333",
            caller_name=hostile, destination="5000",
            started_at=datetime.now(UTC) - timedelta(minutes=30), schedule_state="open",
            schedule_detail="", config_version="test",
        )
        store.queue_event("b0b0b0b0-0000-4000-8000-000000000003", "entered",
                          at=datetime.now(UTC) - timedelta(minutes=30), wait=0.0)
        store.call_finished(
            "b0b0b0b0-0000-4000-8000-000000000003",
            ended_at=datetime.now(UTC) - timedelta(minutes=20), answered_at=None, path=[],
            reason="speak_to_someone", outcome="abandoned", hangup_cause="NORMAL_CLEARING",
        )
        store.queue_event("b0b0b0b0-0000-4000-8000-000000000003", "abandoned",
                          at=datetime.now(UTC) - timedelta(minutes=20), wait=600.0)

    done = subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", "callbacks", "--config", str(config)],
        capture_output=True, timeout=60,
    )

    assert done.returncode == 0, done.stderr
    listing = done.stdout.decode("utf-8")
    assert "0639983333" in listing
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", listing)
    line = next(line for line in listing.splitlines() if "0639983333" in line)
    assert "Dupont\\x1b[2J\\x1b[H\\x0d\\x0aFAKE  all callbacks done\\u202e\\x9b31m\\x07" in line
    assert not any(line.startswith("FAKE") for line in listing.splitlines())
