"""The systemd unit that runs the daemon (systemd/frontdesk.service)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "frontdesk.service"
EXEC = "/opt/frontdesk/venv/bin/frontdesk"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_the_unit_parses_as_ini_and_names_the_expected_settings() -> None:
    parsed = unit()
    assert parsed.sections() == ["Unit", "Service", "Install"]
    assert parsed["Unit"]["After"].split() == ["network.target", "freeswitch.service"]
    assert parsed["Unit"]["Wants"] == "freeswitch.service"
    service = parsed["Service"]
    assert service["Type"] == "simple"
    assert service["ExecStart"] == f"{EXEC} run --config /etc/frontdesk/frontdesk.toml"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    assert service["User"] == "frontdesk"
    assert service["StateDirectory"] == "frontdesk"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "yes"
    assert service["ReadWritePaths"] == "/var/lib/frontdesk"
    assert parsed["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_analyze_verify_accepts_the_unit() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Outside the appliance the daemon is not installed: that one complaint is expected.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and f"Command {EXEC} is not executable" not in line
    ]
    assert problems == []
