"""The HTML report: ONE self-contained file (styles and SVG charts inline, no script, nothing
fetched from anywhere) that opens offline and prints on A4, one section a page.

The charts are drawn here as SVG, from the `Figures`: calls per hour of the week (a heatmap),
the wait distribution with the answered-in-time threshold, the abandonment rate day by day
against the target, the contact reasons, and calls per day. Every text is escaped (Jinja2's
autoescape for the page, `escape` in the SVG); the page's words are the practice's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from frontdesk.config.model import PracticeSettings, ReportSettings
from frontdesk.console.texts import TEXTS as CONSOLE_TEXTS
from frontdesk.report.figures import FIGURE_NAMES, Figures, definitions
from frontdesk.report.text import value_text
from frontdesk.report.words import HTML_TEXTS, LABELS

WIDTH = 640
"""Width of every chart's drawing (a viewBox: the chart scales to the page)."""
INK, PALE, ACCENT, WARN = "#1f4e79", "#dbe7f3", "#9ec3e6", "#b3261e"
WAIT_STEP, WAIT_STEPS = 10, 18
"""The wait distribution: 10 s bars up to 3 min, then one bar for longer."""


def write_html(current: Figures, previous: Figures, path: Path, practice: PracticeSettings,
               settings: ReportSettings) -> None:
    path.write_text(render(current, previous, practice, settings), encoding="utf-8")


def render(current: Figures, previous: Figures, practice: PracticeSettings,
           settings: ReportSettings) -> str:
    language = practice.language
    words = HTML_TEXTS[language]
    labels = LABELS[language]
    meaning = definitions(settings, language)
    rows = [
        {"name": name, "label": labels[name],
         "value": value_text(name, getattr(current.total, name), language),
         "previous": value_text(name, getattr(previous.total, name), language),
         "definition": meaning[name]}
        for name in FIGURE_NAMES
    ]
    target = value_text("abandonment_rate", settings.abandonment_target, language)
    environment = Environment(loader=PackageLoader("frontdesk.report", "templates"),
                              autoescape=select_autoescape(default=True))
    return environment.get_template("report.html").render(
        language=language, practice=practice.name, t=words, rows=rows,
        label=current.period.label, previous_label=previous.period.label,
        empty=current.total.calls == 0,
        waits_note=words["waits_note"].format(within=settings.answered_within_seconds),
        abandonment_note=words["abandonment_note"].format(target=target),
        heatmap=heatmap(current, words),
        waits=wait_chart(current, settings, language),
        abandonment=abandonment_chart(current, settings, words),
        reasons=reasons_chart(current, language),
        trend=trend_chart(current),
    )


# --- charts ---------------------------------------------------------------------------------


def heatmap(figures: Figures, words: dict[str, str]) -> Markup:
    """7 rows (Monday first) of 24 hours; the darker, the more calls (the count written in)."""
    cell, left, top = 24, 40, 16
    most = max((s.calls for s in figures.hours.values()), default=0) or 1
    parts = []
    for hour in range(24):
        parts.append(_text(left + hour * cell + cell / 2, top - 4, f"{hour}", size=8))
    for day, name in enumerate(words["weekdays"].split()):
        y = top + day * cell
        parts.append(_text(left - 6, y + cell / 2 + 3, name, size=10, anchor="end"))
        for hour in range(24):
            calls = figures.hours[(day, hour)].calls
            x = left + hour * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{_shade(calls / most)}"><title>{escape(name)} {hour}h: {calls}'
                "</title></rect>")
            if calls:
                parts.append(_text(x + cell / 2, y + cell / 2 + 3, str(calls), size=8,
                                   fill="#fff" if calls / most > 0.5 else INK))
    return _svg(left + 24 * cell, top + 7 * cell, parts, "heatmap-chart")


def wait_chart(figures: Figures, settings: ReportSettings, language: str) -> Markup:
    counts = [0] * (WAIT_STEPS + 1)
    for wait in figures.waits:
        counts[min(int(wait // WAIT_STEP), WAIT_STEPS)] += 1
    names = [f"{n * WAIT_STEP}" for n in range(WAIT_STEPS)] + [f"{WAIT_STEPS * WAIT_STEP}+"]
    threshold = settings.answered_within_seconds / WAIT_STEP
    return _columns(list(zip(names, counts, strict=True)), "waits-chart",
                    mark_x=threshold, mark_label=f"{settings.answered_within_seconds} s")


def abandonment_chart(figures: Figures, settings: ReportSettings,
                      words: dict[str, str]) -> Markup:
    days = [(f"{day:%d/%m}", summary.abandonment_rate)
            for day, summary in figures.days.items()]
    return _columns(days, "abandonment-chart", percent=True,
                    mark_y=settings.abandonment_target, mark_label=words["target"],
                    over=settings.abandonment_target)


def trend_chart(figures: Figures) -> Markup:
    days = [(f"{day:%d/%m}", summary.calls) for day, summary in figures.days.items()]
    alone = [
        round((s.without_staff_rate or 0) * s.calls) for s in figures.days.values()
    ]
    return _columns(days, "trend-chart", inner=alone)


def reasons_chart(figures: Figures, language: str) -> Markup:
    """One horizontal bar per contact reason, most frequent first."""
    texts = CONSOLE_TEXTS[language]
    row, left = 20, 190
    most = max(figures.reasons.values(), default=0) or 1
    parts = []
    for n, (reason, calls) in enumerate(figures.reasons.items()):
        y = n * row
        name = (HTML_TEXTS[language]["none"] if reason == "none"
                else texts.get(f"reason_{reason}", reason))
        length = (WIDTH - left - 50) * calls / most
        parts.append(_text(left - 8, y + row / 2 + 4, name, size=11, anchor="end"))
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
                     f'fill="{INK}"/>')
        parts.append(_text(left + length + 6, y + row / 2 + 4, str(calls), size=11,
                           anchor="start"))
    return _svg(WIDTH, max(len(figures.reasons), 1) * row, parts, "reasons-chart")


def _columns(
    values: Sequence[tuple[str, float | None]],
    name: str,
    *,
    percent: bool = False,
    mark_x: float | None = None,
    mark_y: float | None = None,
    mark_label: str = "",
    over: float | None = None,
    inner: Sequence[float] | None = None,
) -> Markup:
    """Vertical bars with their labels underneath (thinned out when many): `mark_x` a
    vertical line between bars (in bars from the left), `mark_y` a horizontal one (in
    values); bars above `over` are drawn in red; `inner` a darker part of each bar."""
    left, bottom, height = 44, 22, 170
    plot = WIDTH - left - 8
    top = max([v for _, v in values if v is not None] + [mark_y or 0, 0]) or 1
    top *= 1.1
    step = plot / max(len(values), 1)
    every = max(1, round(len(values) / 16))
    parts = [f'<line x1="{left}" y1="{height}" x2="{WIDTH - 8}" y2="{height}" stroke="{INK}"/>',
             _text(left - 6, 10, _scale(top, percent), size=9, anchor="end"),
             _text(left - 6, height, "0", size=9, anchor="end")]
    for n, (label, value) in enumerate(values):
        x = left + n * step
        if value:
            bar = (height - 10) * value / top
            colour = WARN if over is not None and value > over else ACCENT
            parts.append(f'<rect x="{x + step * 0.1:.1f}" y="{height - bar:.1f}" '
                         f'width="{step * 0.8:.1f}" height="{bar:.1f}" fill="{colour}">'
                         f"<title>{escape(label)}: {_scale(value, percent)}</title></rect>")
            if inner is not None and inner[n]:
                part = (height - 10) * inner[n] / top
                parts.append(f'<rect x="{x + step * 0.1:.1f}" y="{height - part:.1f}" '
                             f'width="{step * 0.8:.1f}" height="{part:.1f}" fill="{INK}"/>')
        if n % every == 0:
            parts.append(_text(x + step / 2, height + 14, label, size=9))
    if mark_y is not None:
        y = height - (height - 10) * mark_y / top
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" '
                     f'stroke="{WARN}" stroke-dasharray="5 3"/>')
        parts.append(_text(WIDTH - 10, y - 4, f"{mark_label} {_scale(mark_y, percent)}",
                           size=9, anchor="end", fill=WARN))
    if mark_x is not None:
        x = left + mark_x * step
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="{WARN}" '
                     'stroke-dasharray="5 3"/>')
        parts.append(_text(x + 4, 10, mark_label, size=9, anchor="start", fill=WARN))
    return _svg(WIDTH, height + bottom, parts, name)


def _scale(value: float, percent: bool) -> str:
    return f"{value * 100:.0f} %" if percent else f"{value:.0f}"


def _shade(share: float) -> str:
    """White for nothing, the ink colour for the most."""
    if share <= 0:
        return "#f4f6f8"
    start, end = (0xDB, 0xE7, 0xF3), (0x1F, 0x4E, 0x79)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(start, end,
                                                                              strict=True))


def _text(x: float, y: float, words: str, *, size: int, anchor: str = "middle",
          fill: str = INK) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}">{escape(words)}</text>')


def _svg(width: float, height: float, parts: list[str], name: str) -> Markup:
    return Markup(
        f'<svg class="chart" id="{name}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" role="img">'
        + "".join(parts) + "</svg>"
    )
