"""The HTML report as the practice manager opens it: `frontdesk report --html FILE` on the
fixed month of tests/report_records.py, opened in headless Chromium (tests/browser.py) with
no network. It asks for nothing but its own file, shows the key figures, and a screenshot of
it (and a PDF print on A4) is kept in the artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request

from browser import artifacts, headless_chromium
from frontdesk.cli import main
from frontdesk.config import load_config
from frontdesk.store import Store
from helpers import set_in_section
from report_records import seed_month


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture
def report(practice_dir: Path, tmp_path: Path) -> Path:
    """The report of November 2026 for a practice that speaks English, with a name of its
    own that would be markup if it were not escaped."""
    path = practice_dir / "frontdesk.toml"
    text = set_in_section(path.read_text(), "practice",
                          {"language": "en", "name": "Cabinet <b>du Parc</b>"})
    path.write_text(text)
    with Store(load_config(path).storage.database) as store:
        seed_month(store)
    html = tmp_path / "november.html"
    assert main(["report", "--month", "2026-11", "--html", str(html), "--config", str(path)]) == 0
    return html


def opened(browser: Browser, html: Path) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []

    def seen(request: Request) -> None:
        requests.append(request.url)

    page.on("request", seen)
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page, requests


def test_the_report_opens_offline_and_asks_for_nothing_but_itself(browser, report):
    page, requests = opened(browser, report)

    assert requests == [report.as_uri()]
    assert page.locator("script").count() == 0
    page.close()


def test_the_report_shows_the_key_figures_with_their_definitions(browser, report):
    page, _ = opened(browser, report)

    def figure(name: str) -> str:
        return page.locator(f'tr[data-figure="{name}"] td.value').inner_text()

    assert page.locator("h1").inner_text() == "Telephone reception: figures for 2026-11"
    assert page.locator("header p").inner_text() == "Cabinet <b>du Parc</b>"
    assert figure("calls") == "14"
    assert figure("answered_in_time_rate") == "33.3 %"
    assert figure("abandonment_rate") == "16.7 %"
    assert figure("wait_p90") == "40 s"
    assert figure("booking_conversion") == "50.0 %"
    assert page.locator('tr[data-figure="calls"] td.previous').inner_text() == "1"
    assert "within 20 s of waiting" in page.locator(
        'tr[data-figure="answered_in_time_rate"] td.definition').inner_text()
    for chart in ("heatmap-chart", "waits-chart", "abandonment-chart", "reasons-chart",
                  "trend-chart"):
        assert page.locator(f"svg#{chart}").is_visible(), chart
    assert page.locator("#heatmap-chart title").filter(has_text="Mon 9h: 2").count() == 1
    assert page.locator("#reasons-chart text").filter(has_text="speak to someone").count() == 1
    page.screenshot(path=artifacts() / "report-november.png", full_page=True)
    page.pdf(path=artifacts() / "report-november.pdf", format="A4")
    page.close()


def test_the_report_prints_on_a4_one_section_a_page(browser, report):
    page, _ = opened(browser, report)

    page.emulate_media(media="print")
    breaks = page.eval_on_selector_all(
        "section", "sections => sections.map(s => getComputedStyle(s).breakBefore)")
    assert breaks == ["avoid", "page", "page", "page", "page", "page"]
    pages = re.findall(rb"/Type\s*/Page(?!s)", page.pdf(format="A4"))
    assert len(pages) >= 6  # the figures (maybe two pages), then a chart a page
    page.close()
