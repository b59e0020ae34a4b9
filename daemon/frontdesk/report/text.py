"""The figures as text: readable values, the terminal summary of `frontdesk report` (the
previous period beside), and the CSV files for spreadsheets (docs/report.md lists the columns)."""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from frontdesk.report.figures import FIGURE_NAMES, KINDS, Figures, Summary
from frontdesk.report.words import LABELS
from frontdesk.terminal import safe

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_UNIT = {"en": "d", "fr": "j"}


def value_text(name: str, value: float | None, language: str = "en") -> str:
    """A figure as a person reads it: 14, 33.3 %, 3 min 16 s, 4.5 h, 26.2 d."""
    if value is None:
        return "–"
    kind = KINDS[name]
    if kind == "count":
        return str(int(value))
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "score":
        return f"{value:.1f}"
    return duration_text(value, language)


def duration_text(seconds: float, language: str = "en") -> str:
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        whole = round(seconds)
        return f"{whole // 60} min {whole % 60:02d} s"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} {DAY_UNIT[language]}"


def terminal_summary(current: Figures, previous: Figures) -> str:
    """Every figure of `current` with `previous` beside it, each with its definition."""
    labels = LABELS["en"]
    head = (f"Figures for {current.period.label}, beside the previous period "
            f"({previous.period.label})")
    width = max(len(label) for label in labels.values())
    columns = f"  {'':<{width}}  {current.period.label:>12}  {previous.period.label:>12}"
    lines = [head, "", columns]
    for name in FIGURE_NAMES:
        now, before = (getattr(f.total, name) for f in (current, previous))
        lines.append(f"  {labels[name]:<{width}}  {value_text(name, now):>12}  "
                     f"{value_text(name, before):>12}")
        lines += textwrap.wrap(current.definitions[name], 92, initial_indent="      ",
                               subsequent_indent="      ")
    lines += ["", "Calls per contact reason:"]
    reasons = dict.fromkeys([*current.reasons, *previous.reasons])
    for reason in reasons:
        lines.append(f"  {safe(reason):<{width}}  {current.reasons.get(reason, 0):>12}  "
                     f"{previous.reasons.get(reason, 0):>12}")
    return "\n".join(lines)


def write_csv(current: Figures, previous: Figures, directory: Path) -> list[Path]:
    """One CSV file per table (UTF-8, comma-separated, a header row): summary, days, weeks,
    months, hours, reasons, outcomes, waits. Rates are fractions, times in seconds; an empty
    cell: nothing to compute. Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    labels = LABELS["en"]
    tables: dict[str, tuple[list[str], Iterable[list[object]]]] = {
        "summary": (
            ["figure", "label", "unit", "value", "previous_value", "definition"],
            ([name, labels[name], KINDS[name], _raw(getattr(current.total, name)),
              _raw(getattr(previous.total, name)), current.definitions[name]]
             for name in FIGURE_NAMES),
        ),
        "days": (["date", *FIGURE_NAMES], _rows(current.days)),
        "weeks": (["week_of", *FIGURE_NAMES], _rows(current.weeks)),
        "months": (["month", *FIGURE_NAMES], _rows(current.months)),
        "hours": (
            ["weekday", "hour", *FIGURE_NAMES],
            ([WEEKDAYS[day], hour, *_values(summary)]
             for (day, hour), summary in current.hours.items()),
        ),
        "reasons": (["reason", "calls"], ([r, n] for r, n in current.reasons.items())),
        "outcomes": (["outcome", "calls"], ([o, n] for o, n in current.outcomes.items())),
        "waits": (["wait_seconds"], ([_raw(wait)] for wait in current.waits)),
    }
    written = []
    for name, (header, rows) in tables.items():
        path = directory / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)
    return written


def _rows(buckets: Mapping[Any, Summary]) -> Iterable[list[object]]:
    for key, summary in buckets.items():
        yield [str(key), *_values(summary)]


def _values(summary: Summary) -> list[object]:
    return [_raw(getattr(summary, name)) for name in FIGURE_NAMES]


def _raw(value: float | None) -> object:
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    return round(value, 4)
