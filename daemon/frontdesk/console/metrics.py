"""``GET /metrics``: the daemon in the Prometheus text format, for a monitoring server
(docs/metrics.md lists every metric).

Each console has its own registry (no global one): the live state, read from the daemon at
each scrape (`DeskCollector`: callers waiting, staff phones, FreeSWITCH, the practice's
state, the store), the daemon's counters and histograms (`frontdesk.tally`), and the process's
own figures (`process_*`: memory, CPU, file descriptors, start time).

Who may read it: a machine, not a logged-in receptionist, so no session. With ``[console]
metrics_token_file`` set, a request must carry ``Authorization: Bearer <the file's token>``
(the token is read at each request: a new one needs no restart); without it, only requests
from this box (loopback) are answered. The console's own address rule comes first
(`frontdesk.console.peer_allowed`). Nothing exposed names a patient: counts, durations and
states only (callers' numbers and names stay in the console's pages).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.wrappers import Request, Response

from frontdesk.logs import Throttle
from frontdesk.queue.staff import STATES as PHONE_STATES

if TYPE_CHECKING:
    from frontdesk.console.app import Desk

log = structlog.get_logger(__name__)

REFUSALS_LOGGED_EVERY = 60.0
"""Seconds between two log lines of refused scrapes (a misconfigured server asks every few
seconds)."""


class DeskCollector(Collector):
    """The daemon's live state, read at each scrape, and its tally."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def collect(self) -> Iterator[Metric]:
        yield from self._queue()
        yield from self._staff()
        yield from self._health()
        yield from self.desk.tally.collect()

    def _queue(self) -> Iterator[Metric]:
        queue = self.desk.queue
        now = queue.now()
        waits = [entry.wait(now) for entry in list(queue.waiting.values()) if entry.on_the_line]
        yield _gauge("frontdesk_queue_callers_waiting",
                     "Callers on the line waiting in the front-desk queue.", len(waits))
        yield _gauge("frontdesk_queue_longest_wait_seconds",
                     "How long the caller waiting longest has waited (0: nobody waits).",
                     max(waits, default=0.0))
        yield _gauge("frontdesk_callbacks_pending",
                     "Callbacks to place: requested by callers, or missed calls to return.",
                     len(self.desk.callbacks.pending))
        yield _gauge("frontdesk_calls_in_progress",
                     "Patient calls the daemon serves now (menus, queue, conversations).",
                     len(self.desk.live_calls))

    def _staff(self) -> Iterator[Metric]:
        board = self.desk.queue.board
        phones = list(board.phones.values())
        by_state = GaugeMetricFamily(
            "frontdesk_staff_phones",
            "Staff phones of the queue by state: idle (available), ringing, on_call, wrapup, "
            "skipped, unregistered, logged_out.", labels=["state"])
        for state in PHONE_STATES:
            by_state.add_metric([state], sum(phone.state == state for phone in phones))
        yield by_state
        yield _gauge("frontdesk_staff_logged_in",
                     "Staff phones registered and logged in to the queue.",
                     board.counts()[1])

    def _health(self) -> Iterator[Metric]:
        desk = self.desk
        yield _gauge("frontdesk_freeswitch_connected",
                     "1 while the daemon's control connection to FreeSWITCH is up.",
                     desk.freeswitch_connected)
        yield _gauge("frontdesk_practice_open",
                     "1 while the practice is open (opening hours, holidays, closures and the "
                     "override).", self._practice_state() == "open")
        health = desk.store.health()
        yield _gauge("frontdesk_store_healthy",
                     "1 while call records are written to the database.", health.problem is None)
        yield _gauge("frontdesk_store_pending_writes",
                     "Writes kept in memory until the database takes them.", health.pending)
        yield CounterMetricFamily(
            "frontdesk_store_dropped_writes",
            "Writes dropped since the start: more were waiting than memory keeps.",
            value=health.dropped)

    def _practice_state(self) -> str:
        """As `frontdesk status` says it; a database that cannot be read gives the hours'
        state without the override."""
        now = self.desk.clock.wall()
        try:
            override = self.desk.store.get_override(now=now)
        except Exception:
            log.exception("metrics.override_unreadable")
            override = None
        return self.desk.schedule.state_at(now, override).state


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


class Metrics:
    """``/metrics`` of one console: its registry and its access rule."""

    def __init__(self, desk: Desk) -> None:
        self.token_file: Path | None = desk.config.console.metrics_token_file
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DeskCollector(desk))
        self.registry.register(ProcessCollector(registry=None))
        self._refusals = Throttle(REFUSALS_LOGGED_EVERY)

    def answer(self, request: Request) -> Response:
        self.check(request)
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)

    def check(self, request: Request) -> None:
        """Raise Unauthorized (no token, a wrong one) or Forbidden (not from this box, with
        no token configured)."""
        if self.token_file is None:
            if not _loopback(request.remote_addr or ""):
                self._refused(request, "not from this box: set [console] metrics_token_file")
                raise Forbidden("/metrics answers this box only")
            return
        expected = self._token()
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if expected is None:
            self._refused(request, f"{self.token_file} cannot be read, or is empty")
        elif scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(),
                                                                   expected.encode()):
            self._refused(request, "no token, or a wrong one")
        else:
            return
        raise Unauthorized("a bearer token is needed", www_authenticate=WWWAuthenticate(
            "bearer", {"realm": "frontdesk metrics"}))

    def _token(self) -> str | None:
        """The configured token; None (nobody is let in) when the file cannot be read or is
        empty."""
        assert self.token_file is not None
        try:
            return self.token_file.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    def _refused(self, request: Request, why: str) -> None:
        skipped = self._refusals.due()
        if skipped is not None:
            log.warning("metrics.refused", address=request.remote_addr, why=why,
                        not_logged=skipped)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
