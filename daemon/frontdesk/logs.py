"""Logging set-up: structlog, readable on a terminal, JSON lines for journald and files.

Patient data is health data: phone numbers go through `mask_number` before they reach an
info-level log line.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from types import TracebackType

import gevent
import structlog
from structlog.typing import ExcInfo

from frontdesk.terminal import safe


def mask_number(number: str | None) -> str:
    """Keep the first two and last two digits of a phone number: enough to tell calls apart."""
    if not number:
        return "anonymous"
    if len(number) <= 4:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


_LONG_NUMBER = re.compile(r"\+?\d{7,}")


def mask_numbers_in(text: str | None) -> str | None:
    """`text` (a dial string, a channel name) with every phone number in it masked; short
    numbers (extensions, 15, 116117) are kept."""
    if text is None:
        return None
    return _LONG_NUMBER.sub(lambda match: mask_number(match.group()), text)


class Throttle:
    """For an event that may repeat quickly (connections refused, accept errors): log it at
    most once every `interval` seconds, saying how many were not logged in between."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._skipped = 0
        self._next = 0.0

    def due(self) -> int | None:
        """None: do not log this one. Otherwise log it now, with this number of occurrences
        left unlogged since the last line."""
        now = time.monotonic()
        if now < self._next:
            self._skipped += 1
            return None
        self._next = now + self.interval
        skipped, self._skipped = self._skipped, 0
        return skipped


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time of writing (it may be replaced after
    logging is configured, e.g. by a test runner), instead of the object seen at set-up."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_MULTILINE_FIELDS = ("exception", "stack")
"""Tracebacks: printed as lines, each line made safe."""


def _terminal_safe(_logger: object, _name: str, event: dict) -> dict:
    """Every text of a log line made safe for the console (a caller's name may carry escape
    sequences)."""
    for key, value in event.items():
        if isinstance(value, str):
            lines = value.split("\n") if key in _MULTILINE_FIELDS else [value]
            event[key] = "\n".join(safe(line) for line in lines)
    return event


def configure_logging(level: str = "info", *, json_lines: bool | None = None) -> None:
    """Console rendering on a TTY, JSON lines otherwise (or as forced by `json_lines`)."""
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    numeric_level = logging.getLevelName(level.upper())
    renderers = (
        [structlog.processors.JSONRenderer()]  # JSON escapes every control character
        if json_lines
        else [_terminal_safe, structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]  # PrintLogger needs only write, flush
        cache_logger_on_first_use=False,  # tests and reloads may reconfigure
    )
    # Libraries that use the standard logging module (greenswitch, gevent) go to the same place.
    logging.basicConfig(level=numeric_level, stream=sys.stderr, format="%(name)s: %(message)s")
    gevent.get_hub().print_exception = _log_greenlet_failure  # type: ignore[method-assign, assignment]  # a hook set per hub


def _log_greenlet_failure(
    context: object | None,
    kind: type[BaseException] | None,
    value: BaseException | str | None,
    tb: TracebackType | None,
) -> None:
    """What gevent's hub prints for an error nobody caught in a greenlet (or a callback), as
    one log line with the traceback in its ``exception`` field. Only the function's name is
    given: the greenlet's repr shows its arguments, which may be a caller's data."""
    function = getattr(context, "_run", context)
    structlog.get_logger("gevent").error(
        "greenlet.failed",
        greenlet=getattr(function, "__qualname__", type(context).__name__),
        exc_info=_exc_info(kind, value, tb),
    )


def _exc_info(
    kind: type[BaseException] | None, value: BaseException | str | None, tb: TracebackType | None
) -> ExcInfo | bool:
    """gevent's error report as structlog takes it: no type means "the exception being
    handled" (True: structlog reads it), and the value may be a plain string or None."""
    if kind is None:
        return True
    if not isinstance(value, BaseException):
        value = kind() if value is None else kind(value)
    return kind, value, tb
