"""The command line as a technician and a receptionist use it."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from frontdesk.cli import build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_has_help_and_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for name, parser in subcommands().items():
        assert parser.description, name
        assert f"frontdesk {name}" in readme, f"README does not document 'frontdesk {name}'"


def into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """`frontdesk ARGS | head -0`: its output goes to a pipe nobody reads any more."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "frontdesk.cli", *args],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [("--help",), ("status", "--help"), ("check-config",)])
def test_output_into_a_closed_pipe_ends_quietly_as_unix_tools_do(practice_dir, args):
    if args == ("check-config",):
        args = ("check-config", str(practice_dir / "frontdesk.toml"))

    done = into_a_closed_pipe(*args)

    assert done.stderr == ""
    assert done.returncode in (0, 128 + 13)  # argparse lets help go quietly; else as SIGPIPE


def test_check_config_accepts_the_example(practice_dir, capsys):
    assert main(["check-config", str(practice_dir / "frontdesk.toml")]) == 0


def test_check_config_names_file_line_and_key_for_each_error(practice_dir):
    config = practice_dir / "frontdesk.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("ring_timeout = 25", "ring_timout = 25", 1).replace(
        'language = "fr"', 'language = "de"'
    )
    config.write_text(text, encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", "check-config", str(config)],
        capture_output=True,
        text=True,
    )

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    for line in lines:
        assert re.match(rf"^{re.escape(str(config))}:\d+: [a-z_.]+: ", line), line
    assert "Did you mean 'ring_timeout'" in done.stderr
    assert "practice.language" in done.stderr


def test_override_set_show_and_back_to_the_schedule(practice_dir, capsys):
    config = str(practice_dir / "frontdesk.toml")

    assert main(["override", "closed", "--until", "23:59", "--config", config]) == 0
    assert "override: closed until" in capsys.readouterr().out
    assert main(["override", "auto", "--config", config]) == 0
    assert "following the schedule" in capsys.readouterr().out


@pytest.mark.parametrize("until", ["25:00", "2020-01-01T10:00", "tomorrow"])
def test_override_refuses_a_bad_end_time_with_a_clear_message(practice_dir, capsys, until):
    config = str(practice_dir / "frontdesk.toml")

    assert main(["override", "lunch", "--until", until, "--config", config]) == 2
    assert "--until" in capsys.readouterr().err
