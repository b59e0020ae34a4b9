"""The built-in agenda: free slots from the directory, booking that never double-books,
cancelling and moving, as the phone flow and the desk use them."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest

from frontdesk.agenda import (
    Absence,
    Agenda,
    AgendaUnavailable,
    AppointmentType,
    Directory,
    Patient,
    Practitioner,
    PractitionerAbsent,
    Slot,
    SlotTaken,
    UnknownAppointment,
)
from frontdesk.agenda.builtin import BuiltinAgenda
from frontdesk.config.model import AgendaSettings
from frontdesk.store import Store
from helpers import wait_for

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2026, 12, 7)


def local(day: date, hh_mm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hh_mm), PARIS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "frontdesk.db") as opened:
        opened.add_practitioner(Practitioner("martin", "Docteur Martin"))
        opened.add_practitioner(Practitioner("durand", "Docteure Durand"))
        opened.set_hours("martin", 0, [(time(8, 30), time(10, 0)), (time(14, 0), time(15, 0))])
        opened.set_hours("durand", 0, [(time(9, 0), time(10, 0))])
        opened.add_appointment_type(AppointmentType("consultation", 30, "Consultation"))
        opened.add_appointment_type(AppointmentType("long", 60))
        yield opened


@pytest.fixture
def agenda(store: Store) -> BuiltinAgenda:
    return BuiltinAgenda(store, AgendaSettings(horizon_days=7), PARIS)


@pytest.fixture
def patient(store: Store) -> Patient:
    ((added, _new),) = store.add_patients([("Marie Dupont", "0612345678", date(1970, 5, 1))])
    return added


def starts(slots: list[Slot]) -> list[str]:
    return [f"{s.practitioner} {s.start.astimezone(PARIS):%a %H:%M}" for s in slots]


def test_the_adapter_is_an_agenda_and_the_store_its_directory(agenda: BuiltinAgenda) -> None:
    as_agenda: Agenda = agenda
    directory: Directory = agenda.directory
    assert as_agenda.name == "builtin"
    assert [p.id for p in directory.practitioners()] == ["durand", "martin"]


def test_free_slots_are_the_hours_minus_absences_minus_appointments(
    agenda: BuiltinAgenda, store: Store, patient: Patient
) -> None:
    store.add_absence(Absence("martin", local(MONDAY, "09:00"), local(MONDAY, "09:30"), "meeting"))
    agenda.book(Slot("martin", local(MONDAY, "14:00"), local(MONDAY, "14:30"), "consultation"),
                patient, by="phone")

    slots = agenda.free_slots("consultation", "martin", local(MONDAY, "00:00"), 5)

    # the next Monday is beyond the horizon (7 days)
    assert starts(slots) == ["martin Mon 08:30", "martin Mon 09:30", "martin Mon 14:30"]
    assert [s.end - s.start for s in slots] == [timedelta(minutes=30)] * 3


def test_first_available_merges_every_practitioner_soonest_first(agenda: BuiltinAgenda) -> None:
    slots = agenda.free_slots("consultation", None, local(MONDAY, "08:45"), 4)
    assert starts(slots) == ["durand Mon 09:00", "martin Mon 09:00", "durand Mon 09:30",
                             "martin Mon 09:30"]


def test_slots_start_at_or_after_the_time_asked_and_within_the_horizon(
    agenda: BuiltinAgenda,
) -> None:
    slots = agenda.free_slots("long", "martin", local(MONDAY, "14:01"), 10)
    assert slots[0].start == local(MONDAY + timedelta(days=7), "08:30")
    assert all(s.start < local(MONDAY, "14:01") + timedelta(days=7) for s in slots)


def test_a_cancelled_appointment_frees_its_slot_at_once(
    agenda: BuiltinAgenda, patient: Patient
) -> None:
    after = local(MONDAY, "09:00")
    first = agenda.free_slots("consultation", "durand", after, 1)[0]
    booked = agenda.book(first, patient, by="phone")
    assert agenda.free_slots("consultation", "durand", after, 1)[0].start == local(MONDAY, "09:30")
    assert [a.id for a in agenda.upcoming(patient, after)] == [booked.id]

    agenda.cancel(booked, by="phone")

    assert agenda.free_slots("consultation", "durand", after, 1) == [first]
    assert agenda.upcoming(patient, after) == []
    with pytest.raises(UnknownAppointment):
        agenda.cancel(booked, by="phone")


def test_two_callers_choosing_the_same_slot_at_the_same_moment_only_one_gets_it(
    agenda: BuiltinAgenda, store: Store, patient: Patient
) -> None:
    ((other, _),) = store.add_patients([("Paul Martin", "0698765432", None)])
    slot = agenda.free_slots("consultation", "martin", local(MONDAY, "08:00"), 1)[0]
    # a slot overlapping it (a longer type from 08:30) is taken as well
    overlapping = Slot("martin", slot.start, slot.start + timedelta(hours=1), "long")

    callers = [gevent.spawn(agenda.book, chosen, who, by="phone")
               for chosen, who in ((slot, patient), (overlapping, other))]
    gevent.joinall(callers)

    outcomes = sorted(type(caller.exception or caller.value).__name__ for caller in callers)
    assert outcomes == ["Appointment", "SlotTaken"]
    assert len(agenda.between(local(MONDAY, "00:00"), local(MONDAY, "23:59"))) == 1


def test_a_slot_in_an_absence_added_after_it_was_offered_is_not_booked(
    agenda: BuiltinAgenda, store: Store, patient: Patient
) -> None:
    slot = agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1)[0]
    store.add_absence(Absence("durand", local(MONDAY, "00:00"), local(MONDAY, "23:59")))
    with pytest.raises(PractitionerAbsent):
        agenda.book(slot, patient, by="phone")


def test_moving_books_the_new_slot_and_frees_the_old_one(
    agenda: BuiltinAgenda, patient: Patient
) -> None:
    after = local(MONDAY, "08:00")
    old_slot, new_slot = agenda.free_slots("consultation", "martin", after, 2)
    old = agenda.book(old_slot, patient, by="phone")

    moved = agenda.move(old, new_slot, by="phone")

    assert (moved.start, moved.patient_id) == (new_slot.start, patient.id)
    assert [a.id for a in agenda.upcoming(patient, after)] == [moved.id]
    assert agenda.free_slots("consultation", "martin", after, 1) == [old_slot]


def test_moving_to_a_slot_taken_meanwhile_changes_nothing(
    agenda: BuiltinAgenda, store: Store, patient: Patient
) -> None:
    ((other, _),) = store.add_patients([("Paul Martin", "0698765432", None)])
    after = local(MONDAY, "08:00")
    old_slot, wanted = agenda.free_slots("consultation", "martin", after, 2)
    old = agenda.book(old_slot, patient, by="phone")
    agenda.book(wanted, other, by="cli:desk")

    with pytest.raises(SlotTaken):
        agenda.move(old, wanted, by="phone")
    assert [a.id for a in agenda.upcoming(patient, after)] == [old.id]


def test_a_move_whose_old_appointment_cannot_be_cancelled_gives_the_new_slot_back(
    agenda: BuiltinAgenda, patient: Patient
) -> None:
    after = local(MONDAY, "08:00")
    old_slot, new_slot = agenda.free_slots("consultation", "martin", after, 2)
    old = agenda.book(old_slot, patient, by="phone")
    agenda.cancel(old, by="cli:desk")  # the desk cancelled it while the caller chose

    with pytest.raises(UnknownAppointment):
        agenda.move(old, new_slot, by="phone")
    assert agenda.upcoming(patient, after) == []
    assert agenda.free_slots("consultation", "martin", after, 2) == [old_slot, new_slot]


def test_a_confirmed_appointment_stays_booked(agenda: BuiltinAgenda, store: Store,
                                              patient: Patient) -> None:
    slot = agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1)[0]
    booked = agenda.book(slot, patient, by="phone")
    agenda.confirm(booked, by="reminder")
    confirmed = store.get_appointment(int(booked.id))
    assert confirmed is not None and confirmed.state == "confirmed"
    assert agenda.free_slots("consultation", "durand", slot.start, 1)[0].start == slot.end


def test_a_database_that_cannot_be_used_is_an_unavailable_agenda(
    agenda: BuiltinAgenda, store: Store, patient: Patient
) -> None:
    slot = agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1)[0]
    store.close()
    with pytest.raises(AgendaUnavailable):
        agenda.free_slots("consultation", None, local(MONDAY, "08:00"), 1)
    with pytest.raises(AgendaUnavailable):
        agenda.book(slot, patient, by="phone")


def test_an_unknown_appointment_type_is_an_unavailable_agenda(agenda: BuiltinAgenda) -> None:
    with pytest.raises(AgendaUnavailable, match="no appointment type 'vaccine'"):
        agenda.free_slots("vaccine", None, local(MONDAY, "08:00"), 1)


def test_bookings_are_stamped_by_the_clock_given(
    store: Store, patient: Patient, tmp_path: Path
) -> None:
    class Fixed:
        def wall(self) -> datetime:
            return datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    agenda = BuiltinAgenda(store, AgendaSettings(), PARIS, clock=Fixed())  # type: ignore[arg-type]
    slot = agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1)[0]
    agenda.book(slot, patient, by="phone")
    with sqlite3.connect(tmp_path / "frontdesk.db") as db:
        assert db.execute("SELECT booked_at, booked_by FROM appointments").fetchall() == [
            ("2026-12-01T10:00:00.000Z", "phone")
        ]


# --- the directory ---------------------------------------------------------------------------


def test_patients_are_found_by_number_a_family_sharing_one_and_by_birth_date(
    store: Store,
) -> None:
    added = store.add_patients([
        ("Marie Dupont", "0612345678", date(1970, 5, 1)),
        ("Léa Dupont", "0612345678", date(2015, 2, 3)),
        ("Paul Martin", "0698765432", date(1970, 5, 1)),
    ])
    marie, lea, paul = (patient for patient, _ in added)

    assert store.patients_by_phone("0612345678") == [marie, lea]
    assert store.patients_by_birth_date(date(1970, 5, 1)) == [marie, paul]
    assert store.get_patient(lea.id) == lea
    assert store.patients_by_phone("0600000000") == []
    assert store.get_patient(999) is None


def test_adding_the_same_patients_again_adds_nobody(store: Store) -> None:
    entries = [("Marie Dupont", "0612345678", date(1970, 5, 1)),
               ("Paul Martin", "0698765432", None)]
    first = store.add_patients(entries)
    again = store.add_patients(entries)

    assert [new for _, new in first] == [True, True]
    assert [new for _, new in again] == [False, False]
    assert [p for p, _ in again] == [p for p, _ in first]
    with pytest.raises(ValueError, match="digits only"):
        store.add_patients([("Jean Petit", "06 12 34", None)])


def test_setting_a_day_s_hours_replaces_that_day_only(store: Store) -> None:
    store.set_hours("martin", 1, [(time(9, 0), time(12, 0))])
    store.set_hours("martin", 0, [(time(8, 0), time(9, 0))])
    assert [(h.weekday, f"{h.start:%H:%M}-{h.end:%H:%M}")
            for h in store.consultation_hours("martin")] == [(0, "08:00-09:00"), (1, "09:00-12:00")]

    store.set_hours("martin", 0, [])
    assert [h.weekday for h in store.consultation_hours("martin")] == [1]
    with pytest.raises(ValueError, match="overlap"):
        store.set_hours("martin", 2, [(time(8, 0), time(10, 0)), (time(9, 0), time(11, 0))])
    with pytest.raises(ValueError, match="no practitioner 'nobody'"):
        store.set_hours("nobody", 2, [(time(8, 0), time(10, 0))])


def test_a_removed_practitioner_is_offered_and_booked_no_more_but_their_appointments_stay(
    agenda: BuiltinAgenda, store: Store, patient: Patient
) -> None:
    slot = agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1)[0]
    booked = agenda.book(slot, patient, by="phone")

    assert store.remove_practitioner("durand")
    assert not store.remove_practitioner("durand")

    assert agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1) == []
    assert {s.practitioner for s in agenda.free_slots("consultation", None, slot.start, 5)} == {
        "martin"
    }
    assert agenda.upcoming(patient, local(MONDAY, "00:00")) == [booked]
    with pytest.raises(AgendaUnavailable, match="no practitioner 'durand'"):
        agenda.book(slot, patient, by="phone")
    store.add_practitioner(Practitioner("durand", "Docteure Durand"))  # back from leave
    assert agenda.free_slots("consultation", "durand", slot.start, 1)[0].start == slot.end


def test_a_database_too_slow_to_answer_is_an_unavailable_agenda_after_the_timeout(
    store: Store,
) -> None:
    """The database's one worker is busy (a long job before ours): the caller is not kept
    waiting beyond `[agenda] timeout`."""
    agenda = BuiltinAgenda(store, AgendaSettings(timeout=0.5), PARIS)
    release = threading.Event()
    gevent.spawn(store._run, lambda db: release.wait(10))
    assert wait_for(store.working)
    gevent.spawn_later(5, release.set)  # without the timeout, the slots would come then
    try:
        with pytest.raises(AgendaUnavailable, match="did not answer within 0.5 s"):
            agenda.free_slots("consultation", None, local(MONDAY, "08:00"), 1)
    finally:
        release.set()
    assert agenda.free_slots("consultation", "durand", local(MONDAY, "08:00"), 1)
