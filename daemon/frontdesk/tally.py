"""What happened since the daemon started, counted for Prometheus (``/metrics``, served by
`frontdesk.console.metrics`): calls by outcome, calls offered to the desk, the queue's waits,
conversations, overflows, callbacks.

The daemon owns one `Tally`; the flow, the queue and its callback desk count into it as things
happen (the moments they store the queue events the report reads, with the same meanings:
"offered" is the report's, docs/metrics.md). The counts live in memory and start at zero with
each daemon start (a reload keeps them: they belong to the daemon, not to the console). That is
every instrumented process's contract with Prometheus: ``rate()`` and ``increase()`` see a
counter that went down as a restart and count on from there, and `process_start_time_seconds`
tells when it happened. Totals read back from the store at start would not be truer: the daily
purge removes old records, so they would go down too, and the store is the report's source
(``frontdesk report``), which counts every call whatever restarts happened.

The metric objects are `prometheus_client`'s, kept out of any registry: each console's
registry reads them through `collect()`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.metrics_core import Metric

from frontdesk.config.model import OUTCOMES

WAIT_BUCKETS = (5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800)
"""Seconds: 5 sets short abandons apart; 10 to 60 hold the "answered within" thresholds a
practice may choose ([report] answered_within_seconds)."""
HANDLE_BUCKETS = (30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600)
WAIT_RESULTS = ("answered", "abandoned", "overflow", "left")
"""How a wait in the queue ends: a staff member answered; the caller hung up; an overflow
rule sent them on (`max_wait`); the flow took them on otherwise (a callback offer declined
into voicemail)."""
COUNTED_OUTCOMES = tuple(outcome for outcome in OUTCOMES if outcome != "fallback")
"""The outcomes a call the daemon served can have ("fallback": FreeSWITCH's static fallback
took the call, the daemon never saw it)."""
OVERFLOW_RULES = ("max_wait", "max_length", "nobody")
CALLBACK_EVENTS = ("requested", "missed", "completed", "failed")


class Tally:
    """The daemon's counters and histograms (see the module docstring)."""

    def __init__(self) -> None:
        self.calls = Counter(
            "frontdesk_calls", "Patient calls ended since the daemon started, by outcome.",
            ["outcome"], registry=None)
        self.offered = Counter(
            "frontdesk_queue_offered",
            "Calls that asked for the desk, each once: they entered the queue, or an "
            "overflow rule turned them away (queue full, nobody logged in).",
            registry=None)
        self.waits = Histogram(
            "frontdesk_queue_wait_seconds",
            "Waits in the front-desk queue that ended, by how they ended (callbacks placed "
            "later are not waits on the line).",
            ["result"], buckets=WAIT_BUCKETS, registry=None)
        self.handle = Histogram(
            "frontdesk_handle_seconds",
            "Conversations with the staff that ended (queue and callbacks): from the staff "
            "phone's answer to its hang-up.",
            buckets=HANDLE_BUCKETS, registry=None)
        self.overflows = Counter(
            "frontdesk_queue_overflows",
            "Callers sent on by an overflow rule: max_wait (waited the maximum), max_length "
            "(the queue was full), nobody (no staff phone logged in).",
            ["rule"], registry=None)
        self.callbacks = Counter(
            "frontdesk_callbacks",
            "Callbacks: requested by a caller on hold, missed (a caller who hung up, to call "
            "back), completed (the patient answered and talks with the staff), failed (one "
            "attempt the patient did not answer).",
            ["event"], registry=None)
        for labels, metric in ((COUNTED_OUTCOMES, self.calls), (WAIT_RESULTS, self.waits),
                               (OVERFLOW_RULES, self.overflows),
                               (CALLBACK_EVENTS, self.callbacks)):
            for label in labels:  # every series exists from the start, at zero
                metric.labels(label)

    def call_ended(self, outcome: str) -> None:
        self.calls.labels(outcome).inc()

    def call_offered(self) -> None:
        self.offered.inc()

    def wait_ended(self, result: str, seconds: float) -> None:
        """A caller's wait on the line ended (`result`: one of WAIT_RESULTS)."""
        self.waits.labels(result).observe(seconds)

    def conversation_ended(self, seconds: float) -> None:
        self.handle.observe(seconds)

    def overflowed(self, rule: str) -> None:
        self.overflows.labels(rule).inc()

    def callback(self, event: str) -> None:
        self.callbacks.labels(event).inc()

    def collect(self) -> Iterator[Metric]:
        """Every metric, as a registry reads it (without the `_created` series: the start
        time is `process_start_time_seconds`)."""
        metrics = (self.calls, self.offered, self.waits, self.handle, self.overflows,
                   self.callbacks)
        for metric in metrics:
            for family in metric.collect():
                family.samples = [s for s in family.samples if not s.name.endswith("_created")]
                yield family
