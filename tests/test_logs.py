"""The daemon's log set-up (frontdesk.logs) as the journal sees it: one JSON object a line."""

import contextlib
import json

import gevent
import pytest
import structlog

from frontdesk.logs import configure_logging


@contextlib.contextmanager
def json_logging():
    """configure_logging for one test; structlog and gevent's hub as they were afterwards."""
    saved = structlog.get_config()
    hub = gevent.get_hub()
    hook = vars(hub).get("print_exception")
    try:
        configure_logging(json_lines=True)
        yield
    finally:
        structlog.configure(**saved)
        if hook is None:
            del hub.print_exception
        else:
            hub.print_exception = hook


def _fail_in_gevent_code():
    """gevent's own way of reporting an error: from inside the handler, giving no details."""
    try:
        {}["missing"]
    except KeyError:
        gevent.get_hub().print_exception("a callback", None, None, None)


def _fail_in_gevent_cython_code():
    """gevent's compiled parts may give the error's value as a plain string."""
    gevent.get_hub().print_exception("a callback", AttributeError, "no attribute 'x'", None)


@pytest.mark.parametrize(
    ("report", "error"),
    [
        (_fail_in_gevent_code, "KeyError: 'missing'"),
        (_fail_in_gevent_cython_code, "AttributeError: no attribute 'x'"),
    ],
)
def test_an_error_gevent_reports_in_its_short_forms_is_one_json_line_naming_it(
    report, error, capsys
):
    with json_logging():
        report()

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["greenlet.failed"]
    assert lines[0]["level"] == "error"
    assert error in lines[0]["exception"]
