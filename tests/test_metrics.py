"""``/metrics`` as a Prometheus server scrapes it: the real daemon against the simulator
(simulated time), its console's WSGI app (and once its real HTTP server), the answer parsed
with the Prometheus client's own parser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import gevent
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from callback_rig import ASKS_CALLBACK, QUEUE, busy_desk, desk_phones, events, hang_up, requested
from callback_rig import PATIENT as CALLBACK_PATIENT
from console_helpers import (
    PATIENT,
    RESULTS,
    TUESDAY_MORNING,
    Browser,
    console_rig,
    place,
    waiting,
)
from frontdesk.config import ConfigError, load_config
from frontdesk.config.model import Config
from frontdesk.console.app import ConsoleApp
from frontdesk.queue.staff import STATES
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript
from helpers import set_in_section

LAN_PROMETHEUS = {"REMOTE_ADDR": "192.168.1.30"}
TOKEN = "s3cret-scrape-token"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def rig(practice: Config, tmp_path: Path) -> Iterator[Rig]:
    with console_rig(practice, tmp_path) as running:
        yield running


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(rig: Rig, **headers: str) -> Samples:
    """/metrics, as Prometheus on this box reads it."""
    answer = Browser(rig.daemon.console._app).get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_a_caller_waiting_shows_in_the_gauges(rig: Rig) -> None:
    before = scrape(rig)
    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: waiting(rig, call))
    rig.clock.sleep(30)

    now = scrape(rig)

    assert value(before, "frontdesk_queue_callers_waiting") == 0
    assert value(now, "frontdesk_queue_callers_waiting") == 1
    assert 30 <= value(now, "frontdesk_queue_longest_wait_seconds") < 60
    assert value(now, "frontdesk_calls_in_progress") == 1
    assert value(now, "frontdesk_practice_open") == 1
    assert value(now, "frontdesk_freeswitch_connected") == 1
    assert value(now, "frontdesk_store_healthy") == 1
    phones = rig.daemon.queue.board.phones.values()
    assert value(now, "frontdesk_staff_logged_in") == sum(p.logged_in for p in phones) > 0
    assert {state: value(now, "frontdesk_staff_phones", state=state) for state in STATES} == {
        state: sum(p.state == state for p in phones) for state in STATES}


def test_a_caller_who_hangs_up_in_the_queue_is_counted_as_abandoned(rig: Rig) -> None:
    call, result = rig.call(CallerScript(keys=RESULTS.keys, patience=40), at=TUESDAY_MORNING,
                            caller_number=PATIENT)
    assert result is not None and result.outcome == "abandoned"

    samples = scrape(rig)

    assert value(samples, "frontdesk_calls_total", outcome="abandoned") == 1
    assert value(samples, "frontdesk_calls_total", outcome="answered") == 0
    assert value(samples, "frontdesk_queue_offered_total") == 1
    abandoned = {"result": "abandoned"}
    assert value(samples, "frontdesk_queue_wait_seconds_count", **abandoned) == 1
    assert 0 < value(samples, "frontdesk_queue_wait_seconds_sum", **abandoned) < 40
    assert value(samples, "frontdesk_queue_wait_seconds_bucket", le="5.0", **abandoned) == 0
    assert value(samples, "frontdesk_queue_wait_seconds_bucket", le="+Inf", **abandoned) == 1
    assert value(samples, "frontdesk_queue_wait_seconds_count", result="answered") == 0
    assert value(samples, "frontdesk_queue_callers_waiting") == 0


def test_an_answered_wait_and_its_conversation_fill_the_histograms(rig: Rig) -> None:
    for phone in rig.sim.phones.values():
        phone.answer_after, phone.talk_seconds = 12.0, 100.0
    call, result = rig.call(CallerScript(keys=RESULTS.keys), at=TUESDAY_MORNING,
                            caller_number=PATIENT)
    assert result is not None and result.outcome == "answered"
    assert rig.wait_for(lambda: value(scrape(rig), "frontdesk_handle_seconds_count") == 1)

    samples = scrape(rig)

    answered = {"result": "answered"}
    assert value(samples, "frontdesk_calls_total", outcome="answered") == 1
    assert value(samples, "frontdesk_queue_wait_seconds_count", **answered) == 1
    wait = value(samples, "frontdesk_queue_wait_seconds_sum", **answered)
    assert 12 <= wait < 20  # the phone rang 12 s
    assert value(samples, "frontdesk_queue_wait_seconds_bucket", le="10.0", **answered) == 0
    assert value(samples, "frontdesk_queue_wait_seconds_bucket", le="20.0", **answered) == 1
    assert value(samples, "frontdesk_handle_seconds_sum") == pytest.approx(100, abs=2)
    assert value(samples, "frontdesk_queue_wait_seconds_count", result="abandoned") == 0


def test_a_caller_refused_because_nobody_is_logged_in_counts_as_an_overflow(rig: Rig) -> None:
    for ext in rig.daemon.queue.board.phones:
        rig.daemon.set_staff_login(ext, False, by="test")
    rig.call(CallerScript(keys=RESULTS.keys, message_seconds=3), at=TUESDAY_MORNING)

    samples = scrape(rig)

    assert value(samples, "frontdesk_queue_overflows_total", rule="nobody") == 1
    assert value(samples, "frontdesk_queue_offered_total") == 1
    assert value(samples, "frontdesk_staff_logged_in") == 0
    assert value(samples, "frontdesk_queue_overflows_total", rule="max_wait") == 0


def test_nothing_in_the_metrics_names_a_patient(rig: Rig) -> None:
    name = "Jeanne Dupont"
    call = rig.sim.place_call(RESULTS, caller_number=PATIENT, caller_name=name)
    assert rig.wait_for(lambda: waiting(rig, call))
    rig.call(CallerScript(keys=RESULTS.keys, patience=20), at=TUESDAY_MORNING,
             caller_number="0611223344")

    text = Browser(rig.daemon.console._app).get("/metrics").text

    assert value(parse(text), "frontdesk_queue_callers_waiting") == 1
    for secret in (PATIENT, PATIENT[-4:], "0611223344", "3344", name, "Dupont", call.uuid):
        assert secret not in text


def test_the_real_server_answers_a_scrape_in_the_prometheus_text_format(rig: Rig) -> None:
    url = rig.daemon.console.url + "metrics"

    def get() -> tuple[str, str]:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.headers["Content-Type"], answer.read().decode()

    content_type, text = gevent.get_hub().threadpool.spawn(get).get()

    assert content_type.startswith("text/plain; version=")  # the text format
    samples = parse(text)
    assert value(samples, "frontdesk_freeswitch_connected") == 1
    assert ("process_start_time_seconds", frozenset()) in samples


# --- who may read it ---------------------------------------------------------------------------


def lan_console(rig: Rig, token_file: Path | None) -> Browser:
    """The console as configured to listen on the practice's LAN (its app only: this box has
    no such address), with `token_file`, seen from a Prometheus server on the LAN."""
    config = rig.daemon.config
    assert config.network is not None and "192.168.1.0/24" in config.network.lan_ranges
    rig.daemon.config = replace(
        config,
        console=replace(config.console, listen="192.168.1.10", metrics_token_file=token_file))
    return Browser(ConsoleApp(rig.daemon))


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics-token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def test_without_a_token_only_this_box_may_read_the_metrics(rig: Rig) -> None:
    lan = lan_console(rig, None)

    assert lan.get("/metrics", environ_base=LAN_PROMETHEUS).status_code == 403
    assert lan.get("/metrics").status_code == 200  # loopback


def test_with_a_token_a_scrape_needs_it(rig: Rig, tmp_path: Path) -> None:
    lan = lan_console(rig, token_file(tmp_path))

    def status(**headers: str) -> int:
        return lan.get("/metrics", environ_base=LAN_PROMETHEUS, headers=headers).status_code

    refused = lan.get("/metrics", environ_base=LAN_PROMETHEUS)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert status(Authorization="Bearer wrong-token") == 401
    assert status(Authorization=f"Basic {TOKEN}") == 401
    assert lan.get("/metrics", headers={}).status_code == 401  # loopback needs it too
    assert status(Authorization=f"Bearer {TOKEN}") == 200


def test_a_new_token_applies_without_a_restart(rig: Rig, tmp_path: Path) -> None:
    path = token_file(tmp_path)
    lan = lan_console(rig, path)
    path.write_text("the-next-token\n")

    assert lan.get("/metrics", environ_base=LAN_PROMETHEUS,
                   headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    assert lan.get("/metrics", environ_base=LAN_PROMETHEUS,
                   headers={"Authorization": "Bearer the-next-token"}).status_code == 200


def test_a_token_file_gone_or_emptied_lets_nobody_in(rig: Rig, tmp_path: Path) -> None:
    path = token_file(tmp_path)
    lan = lan_console(rig, path)

    def status() -> int:
        return lan.get("/metrics", headers={"Authorization": "Bearer "}).status_code

    path.write_text("\n")
    assert status() == 401
    path.unlink()
    assert status() == 401


def test_outside_the_lan_ranges_nothing_is_answered_even_with_the_token(
    rig: Rig, tmp_path: Path
) -> None:
    lan = lan_console(rig, token_file(tmp_path))

    answer = lan.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                     headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 403


def test_check_config_wants_the_token_file_readable_by_its_owner_only(practice_dir: Path) -> None:
    config_path = practice_dir / "frontdesk.toml"
    secret = practice_dir / "secrets" / "metrics-token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o644)
    text = set_in_section(config_path.read_text(), "console",
                          {"metrics_token_file": "secrets/metrics-token"})
    config_path.write_text(text)

    with pytest.raises(ConfigError) as refused:
        load_config(config_path)
    secret.chmod(0o600)

    (error,) = refused.value.errors
    assert "console.metrics_token_file" in error and str(secret) in error
    assert load_config(config_path).console.metrics_token_file == secret


# --- callbacks ---------------------------------------------------------------------------------


@pytest.fixture
def callbacks_rig(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    """The callback tests' practice: one desk phone, 1001; a caller keeps it busy."""
    with desk_phones(practice_dir, tmp_path, QUEUE) as running:
        yield running


def callback_counts(rig: Rig) -> dict[str, float]:
    samples = parse(Browser(ConsoleApp(rig.daemon)).get("/metrics").text)
    counts = {event: value(samples, "frontdesk_callbacks_total", event=event)
              for event in ("requested", "missed", "completed", "failed")}
    return {**counts, "pending": value(samples, "frontdesk_callbacks_pending")}


def test_a_callback_is_counted_asked_then_completed(callbacks_rig: Rig) -> None:
    rig = callbacks_rig
    rig.sim.add_outside(CALLBACK_PATIENT, answer_after=2.0, talk_seconds=20.0)
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=CALLBACK_PATIENT)
    assert rig.wait_for(requested(rig, asker))

    assert callback_counts(rig) == {"requested": 1, "missed": 0, "completed": 0, "failed": 0,
                                    "pending": 1}
    hang_up(rig, busy)
    assert rig.wait_for(lambda: "callback_completed" in events(rig, asker), timeout=1000)

    assert callback_counts(rig) == {"requested": 1, "missed": 0, "completed": 1, "failed": 0,
                                    "pending": 0}


def test_each_failed_callback_attempt_is_counted(callbacks_rig: Rig) -> None:
    rig = callbacks_rig
    rig.sim.add_outside(CALLBACK_PATIENT, answer_after=None)  # never answers
    busy = busy_desk(rig)
    asker = rig.place(ASKS_CALLBACK, at=TUESDAY_MORNING, caller_number=CALLBACK_PATIENT)
    assert rig.wait_for(requested(rig, asker))
    hang_up(rig, busy)

    assert rig.wait_for(lambda: events(rig, asker).count("callback_failed") == 2, timeout=1500)

    assert callback_counts(rig) == {"requested": 1, "missed": 0, "completed": 0, "failed": 2,
                                    "pending": 0}  # 1 + 1 retry, then given up to the staff


def test_a_caller_turned_away_then_queued_for_a_callback_is_offered_once(
    practice_dir: Path, tmp_path: Path
) -> None:
    with desk_phones(practice_dir, tmp_path, QUEUE | {"on_nobody": "callback"}) as rig:
        rig.daemon.set_staff_login("1001", False, by="test")
        asker = rig.place(CallerScript(keys=("0", "1")), at=TUESDAY_MORNING,
                          caller_number=CALLBACK_PATIENT)
        assert rig.wait_for(requested(rig, asker))
        assert events(rig, asker)[:3] == ["overflowed", "entered", "callback_requested"]

        samples = parse(Browser(ConsoleApp(rig.daemon)).get("/metrics").text)

    assert value(samples, "frontdesk_queue_offered_total") == 1
    assert value(samples, "frontdesk_queue_overflows_total", rule="nobody") == 1
    assert value(samples, "frontdesk_callbacks_total", event="requested") == 1


# --- the examples: Grafana dashboard, Prometheus alert rules -----------------------------------

EXAMPLES = Path(__file__).parent.parent / "examples"
ALERTS = EXAMPLES / "prometheus-alerts.yml"
DASHBOARD = EXAMPLES / "grafana-dashboard.json"
ALERT_TESTS = Path(__file__).parent / "data" / "prometheus-alerts-test.yml"


def alert_expressions() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_alert_rules_are_the_three_asked_for_and_more() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}

    assert {"FrontdeskAbandonmentHigh", "FrontdeskNobodyLoggedIn",
            "FrontdeskFreeswitchDisconnected"} <= names
    assert all(rule["labels"]["severity"] in ("warning", "critical")
               for group in rules["groups"] for rule in group["rules"])


def test_the_dashboard_shows_what_a_supervisor_watches() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    ids = [panel["id"] for panel in dashboard["panels"]]

    assert {"Callers waiting", "Longest wait", "Abandonment (last hour)",
            "Answered within 20 s (last hour)", "Staff logged in", "FreeSWITCH"} <= titles
    assert len(ids) == len(set(ids))
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"


def test_every_series_the_examples_use_is_in_a_real_scrape(rig: Rig) -> None:
    rig.call(CallerScript(keys=RESULTS.keys, patience=20), at=TUESDAY_MORNING)
    samples = scrape(rig)
    names = {name for name, _ in samples}
    buckets = {dict(labels).get("le") for name, labels in samples if name.endswith("_bucket")}

    for expr in alert_expressions() + dashboard_expressions():
        used = set(re.findall(r"\b(?:frontdesk|process)_[a-z_]+\b", expr))
        assert used or expr.startswith("up{"), expr  # up: Prometheus's own, per scrape
        for name in used:
            assert name in names, (name, expr)
        for bound in re.findall(r'le="([^"]+)"', expr):
            assert bound in buckets, (bound, expr)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool (Debian's prometheus package) is not installed")
def test_the_alert_rules_fire_when_they_should_by_promtool() -> None:
    for command in (["check", "rules", str(ALERTS)], ["test", "rules", str(ALERT_TESTS)]):
        done = subprocess.run(["promtool", *command], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
