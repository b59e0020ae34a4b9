"""`frontdesk report` as the practice manager runs it at the start of a month, and the
[report] settings it takes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from frontdesk.cli import main
from frontdesk.config import ConfigError, load_config
from frontdesk.store import Store
from helpers import set_in_section
from report_records import seed_month


@pytest.fixture
def config(practice_dir: Path) -> str:
    path = practice_dir / "frontdesk.toml"
    with Store(load_config(path).storage.database) as store:
        seed_month(store)
    return str(path)


def test_the_month_is_printed_beside_the_month_before_with_each_definition(config, capsys):
    assert main(["report", "--month", "2026-11", "--config", config]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Figures for 2026-11, beside the previous period (2026-10)")
    lines = out.splitlines()
    assert lines[lines.index("  " + _row(lines, "Calls received").strip()) + 1].startswith(
        "      Every call that reached the practice's line")
    assert _row(lines, "Calls received").split()[-2:] == ["14", "1"]
    assert _row(lines, "Abandonment").split()[-3:] == ["16.7", "%", "–"]
    assert _row(lines, "Average handle time").split()[-5:] == ["3", "min", "16", "s", "–"]
    assert "within 20 s of waiting" in out
    assert _row(lines, "speak_to_someone").split()[-2:] == ["6", "0"]


def test_some_days_are_compared_with_as_many_days_before(config, capsys):
    assert main(["report", "--from", "2026-11-02", "--to", "2026-11-08",
                 "--config", config]) == 0

    out = capsys.readouterr().out
    assert ("Figures for 2026-11-02 – 2026-11-08, beside the previous period "
            "(2026-10-26 – 2026-11-01)") in out
    assert _row(out.splitlines(), "Calls received").split()[-2:] == ["12", "1"]  # c16


def test_the_tables_are_written_as_csv_files_for_a_spreadsheet(config, tmp_path, capsys):
    target = tmp_path / "november"
    assert main(["report", "--month", "2026-11", "--csv", str(target), "--config", config]) == 0

    assert sorted(p.name for p in target.iterdir()) == [
        "days.csv", "hours.csv", "months.csv", "outcomes.csv", "reasons.csv", "summary.csv",
        "waits.csv", "weeks.csv"]
    summary = {row["figure"]: row for row in _read(target / "summary.csv")}
    assert summary["abandonment_rate"]["value"] == "0.1667"
    assert summary["calls"]["previous_value"] == "1"
    assert summary["wait_average"]["unit"] == "seconds"
    assert summary["first_call_resolution"]["definition"].endswith("cannot be matched).")
    days = _read(target / "days.csv")
    assert len(days) == 30
    assert (days[1]["date"], days[1]["calls"], days[1]["wait_average"]) == ("2026-11-02", "4",
                                                                             "27.5")
    hours = _read(target / "hours.csv")
    assert len(hours) == 7 * 24
    assert [(h["weekday"], h["hour"], h["calls"]) for h in hours if h["calls"] == "2"] == [
        ("monday", "9", "2"), ("monday", "10", "2"), ("tuesday", "11", "2"), ("friday", "9", "2")]
    assert [row["wait_seconds"] for row in _read(target / "waits.csv")] == ["8.0", "15.0", "40.0"]
    assert "wrote " + str(target / "days.csv") in capsys.readouterr().out


def test_a_wrong_period_is_refused(config, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--month", "2026-13", "--config", config])
    assert stopped.value.code == 2
    assert "not a month like 2026-11" in capsys.readouterr().err
    assert main(["report", "--from", "2026-11-08", "--to", "2026-11-02",
                 "--config", config]) == 2
    assert "ends (2026-11-02) before it begins" in capsys.readouterr().err
    assert main(["report", "--to", "2026-11-08", "--config", config]) == 2


def test_check_config_names_a_report_threshold_out_of_range(practice_dir):
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "report",
                                   {"answered_within_seconds": 5, "abandonment_target": 0.03}))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "report.answered_within_seconds" in str(refused.value)
    assert "abandonment_target" not in str(refused.value)


def _row(lines: list[str], label: str) -> str:
    return next(line for line in lines if line.startswith(f"  {label} "))


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))
