"""The staff's inbox: every message a caller left and every booking request, with done marks.

Store-level tests for what is stored; the `frontdesk messages` command for what the staff see.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from frontdesk.agenda import BookingRequest
from frontdesk.store import MIGRATIONS, Store, StoreUnavailable, m011_inbox

T0 = datetime(2026, 12, 7, 9, 15, tzinfo=UTC)
CALL = "a1b2c3d4-0000-4000-8000-000000000001"

REQUEST = BookingRequest(
    kind="consultation",
    practitioner="martin",
    preferred_days=(1, 3),
    preferred_times="morning",
    callback_number="0639981234",
    call_uuid=CALL,
    patient_id=7,
    action="move",
    appointment_id="42",
    details={"note": "après 10 h", "spoken": "mardi"},
)


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "frontdesk.db") as opened:
        yield opened


def test_a_booking_request_is_stored_with_every_field_and_read_back(store: Store) -> None:
    request_id = store.booking_request(REQUEST, at=T0)

    (filed,) = store.booking_requests()
    assert filed.id == request_id
    assert filed.request == REQUEST
    assert filed.created_at == T0
    assert (filed.done_at, filed.done_by) == (None, None)
    assert store.get_booking_request(request_id) == filed


def test_booking_requests_are_listed_newest_first_and_the_first_available_stays_none(
    store: Store,
) -> None:
    any_doctor = BookingRequest(kind="consultation", practitioner=None)
    older = store.booking_request(any_doctor, at=T0)
    newer = store.booking_request(REQUEST, at=T0 + timedelta(minutes=5))

    assert [filed.id for filed in store.booking_requests()] == [newer, older]
    assert store.get_booking_request(older).request == any_doctor


@pytest.mark.parametrize(
    "wrong",
    [{"action": "postpone"}, {"preferred_times": "evening"}, {"preferred_days": (7,)}],
)
def test_a_booking_request_with_a_value_nobody_can_act_on_is_refused(
    store: Store, wrong: dict
) -> None:
    with pytest.raises(ValueError):
        store.booking_request(BookingRequest(kind="consultation", practitioner=None, **wrong),
                              at=T0)
    assert store.booking_requests() == []


def test_a_booking_request_the_database_cannot_take_is_not_reported_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "frontdesk.db"
    with Store(path) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreUnavailable):
                store.booking_request(REQUEST, at=T0)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.booking_requests() == []


def test_the_inbox_migration_keeps_the_calls_of_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "frontdesk.db"
    with Store(path, migrations=MIGRATIONS[: MIGRATIONS.index(m011_inbox)]) as old:
        old.call_started(
            CALL, caller_number="0639981234", caller_name="", destination="5000",
            started_at=T0, schedule_state="open", schedule_detail="", config_version="c0",
        )
    with Store(path) as new:
        assert new.get_call(CALL)["caller_number"] == "0639981234"
        assert new.booking_request(REQUEST, at=T0) == 1
