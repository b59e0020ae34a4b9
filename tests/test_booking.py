"""Booking, moving and cancelling by phone: the real daemon against the simulator (over ESL),
on virtual time, with the rig's seeded built-in agenda (frontdesk.rehearse.seed_agenda): the
rehearsal patient calls from their known number."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from frontdesk.agenda import AppointmentType, Practitioner, Slot, not_ready
from frontdesk.config import load_config
from frontdesk.config.model import Config
from frontdesk.rehearse import CALLERS, Rig, moment_for
from frontdesk.sim import CallerScript, SimCall
from frontdesk.store import Store
from helpers import set_in_section

KIND = "consultation"
BOOK = ["2", "1"]
"""Main menu: appointments; appointment menu: a new one."""
CHANGE = ["2", "2"]
"""Main menu: appointments; appointment menu: move or cancel."""
FIRST_AVAILABLE, FIRST_SLOT, CONFIRM = "1", "1", "1"
UNKNOWN = CALLERS["unknown"]
NUMBER_ENDING = CALLERS["patient"][-4:]
"""What the rehearsal patient types, calling from another number, after their date of
birth."""


@pytest.fixture
def at(rig: Rig) -> datetime:
    moment = moment_for("open", rig.config, rig.now)
    assert moment is not None
    return moment


def free(rig: Rig, at: datetime, count: int = 1) -> list[Slot]:
    """The first free slots a caller at `at` is offered (after the minimum notice)."""
    settings = rig.daemon.config.agenda
    assert settings is not None
    after = at + timedelta(minutes=settings.min_notice_minutes)
    return rig.seeded.free_slots(KIND, None, after, count)


def heard(rig: Rig, call: SimCall, words: str) -> bool:
    """Whether the caller heard a spoken sentence containing `words`."""
    texts = rig.daemon.announcer.texts
    return any(words in texts.get(Path(uri), "") for uri in call.prompts_heard)


def starts(rig: Rig, at: datetime) -> list[datetime]:
    return [a.start for a in rig.seeded.upcoming(rig.patient, at)]


def test_a_known_patient_books_the_first_slot_and_it_is_in_the_agenda(rig: Rig, at: datetime):
    (first,) = free(rig, at)

    call, result = rig.call(
        CallerScript(keys=[*BOOK, FIRST_AVAILABLE, FIRST_SLOT, CONFIRM]), at=at
    )

    assert result is not None
    assert (result.outcome, result.end_node, result.reason) == (
        "booked", "appointment_new", "appointment_new"
    )
    (booked,) = rig.seeded.upcoming(rig.patient, at)
    assert (booked.start, booked.practitioner, booked.kind, booked.booked_by) == (
        first.start, first.practitioner, KIND, "phone"
    )
    assert heard(rig, call, "Votre rendez-vous est enregistré")
    actions = rig.daemon.store.agenda_actions(call.uuid)
    assert [(a["action"], a["appointment_id"]) for a in actions] == [("booked", booked.id)]
    assert rig.daemon.store.get_call(call.uuid)["outcome"] == "booked"


def test_a_slot_taken_meanwhile_is_said_and_the_next_one_is_booked(rig: Rig, at: datetime):
    first, second = free(rig, at, 2)

    with rig.slot_taken_meanwhile():
        call, result = rig.call(
            CallerScript(keys=[*BOOK, FIRST_AVAILABLE, FIRST_SLOT, CONFIRM, FIRST_SLOT, CONFIRM]),
            at=at,
        )

    assert result is not None and result.outcome == "booked"
    assert heard(rig, call, "vient d'être pris")
    assert starts(rig, at) == [second.start]
    (taken,) = rig.seeded.upcoming(rig.other_patient, at)
    assert taken.start == first.start


def test_cancelling_frees_the_slot_for_the_next_caller_at_once(rig: Rig, at: datetime):
    (first,) = free(rig, at)
    appointment = rig.seeded.book(first, rig.patient, by="cli:test")

    call, result = rig.call(CallerScript(keys=[*CHANGE, "1", CONFIRM]), at=at)

    assert result is not None and result.outcome == "cancelled"
    assert heard(rig, call, "Votre rendez-vous est annulé")
    assert starts(rig, at) == []
    actions = rig.daemon.store.agenda_actions(call.uuid)
    assert [(a["action"], a["appointment_id"]) for a in actions] == [
        ("cancelled", appointment.id)
    ]
    again, result = rig.call(
        CallerScript(keys=[*BOOK, FIRST_AVAILABLE, FIRST_SLOT, CONFIRM]), at=at
    )
    assert result is not None and result.outcome == "booked"
    assert starts(rig, at) == [first.start]


def test_moving_books_the_new_slot_and_frees_the_old_one(rig: Rig, at: datetime):
    first, second = free(rig, at, 2)
    old = rig.seeded.book(first, rig.patient, by="cli:test")

    call, result = rig.call(
        CallerScript(keys=[*CHANGE, "2", FIRST_AVAILABLE, FIRST_SLOT, CONFIRM]), at=at
    )

    assert result is not None and result.outcome == "moved"
    (moved,) = rig.seeded.upcoming(rig.patient, at)
    assert moved.start == second.start and moved.id != old.id
    assert free(rig, at)[0].start == first.start
    actions = rig.daemon.store.agenda_actions(call.uuid)
    assert [(a["action"], a["appointment_id"]) for a in actions] == [("moved", moved.id)]


def test_an_unknown_caller_goes_to_the_desk_with_a_request_when_only_patients_may_book(
    rig: Rig, at: datetime
):
    assert rig.daemon.config.agenda is not None
    assert rig.daemon.config.agenda.who_may_book == "known"

    call, result = rig.call(CallerScript(keys=BOOK), at=at, caller_number=UNKNOWN)

    assert result is not None
    assert (result.end_node, result.outcome, result.reason) == (
        "desk", "answered", "appointment_new"
    )
    assert heard(rig, call, "Nous ne trouvons pas votre dossier")
    (filed,) = rig.daemon.store.booking_requests()
    request = filed.request
    assert (request.kind, request.callback_number, request.call_uuid, request.action) == (
        KIND, UNKNOWN, call.uuid, "book"
    )
    assert rig.seeded.between(at, at + timedelta(days=90)) == []
    actions = rig.daemon.store.agenda_actions(call.uuid)
    assert [a["action"] for a in actions] == ["handed_off"]


def test_a_caller_from_another_number_is_found_by_their_date_of_birth(rig: Rig, at: datetime):
    (first,) = free(rig, at)

    call, result = rig.call(
        CallerScript(keys=[*BOOK, "03031975", NUMBER_ENDING, FIRST_AVAILABLE, FIRST_SLOT,
                           CONFIRM]),
        at=at,
        caller_number=UNKNOWN,
    )

    assert result is not None and result.outcome == "booked"
    assert heard(rig, call, "date de naissance")
    assert heard(rig, call, "quatre derniers chiffres")
    assert starts(rig, at) == [first.start]


@pytest.mark.parametrize("ending", ["9999", ""])
def test_from_another_number_a_date_of_birth_alone_opens_no_patients_appointments(
    rig: Rig, at: datetime, ending: str
):
    """Anyone may know a patient's date of birth: without the end of the number on their file
    a caller from another number neither hears nor changes that patient's appointments."""
    before = starts(rig, at)

    call, result = rig.call(
        CallerScript(keys=[*CHANGE, "03031975", ending, ending, "1", "1"]),
        at=at,
        caller_number=UNKNOWN,
    )

    assert result is not None and result.outcome == "answered"  # the desk took the call
    assert heard(rig, call, "ne trouvons pas votre dossier")
    assert not heard(rig, call, "Votre rendez-vous du")
    assert starts(rig, at) == before


def test_patients_born_the_same_day_are_told_apart_by_the_end_of_their_number(
    rig: Rig, at: datetime
):
    """From another number, patients sharing a birthday are told apart by the last four
    digits of the number on their file."""
    ((twin, _new),) = rig.daemon.store.add_patients(
        [("Jumeau de répétition", "0639980222", date(1975, 3, 3))]
    )
    (first,) = free(rig, at)

    _call, result = rig.call(
        CallerScript(keys=[*BOOK, "03031975", "0222", FIRST_AVAILABLE, FIRST_SLOT, CONFIRM]),
        at=at,
        caller_number=UNKNOWN,
    )

    assert result is not None and result.outcome == "booked"
    booked = [a for a in rig.seeded.between(at, at + timedelta(days=90)) if a.start == first.start]
    assert [a.patient_id for a in booked] == [twin.id]


def test_on_a_shared_number_the_date_of_birth_tells_who_is_calling(rig: Rig, at: datetime):
    number = CALLERS["patient"]
    ((child, _new),) = rig.daemon.store.add_patients(
        [("Enfant de répétition", number, date(2012, 6, 1))]
    )

    _call, result = rig.call(
        CallerScript(keys=[*BOOK, "01062012", FIRST_AVAILABLE, FIRST_SLOT, CONFIRM]), at=at
    )

    assert result is not None and result.outcome == "booked"
    assert [a.patient_id for a in rig.seeded.between(at, at + timedelta(days=90))] == [child.id]


def test_an_unreachable_agenda_is_said_and_the_caller_put_through_logged_once(
    rig: Rig, at: datetime
):
    database = rig.daemon.config.storage.database
    with sqlite3.connect(database) as broken:  # the agenda's table is gone: every read fails
        broken.execute("ALTER TABLE appointments RENAME TO appointments_away")
    script = [*BOOK, FIRST_AVAILABLE, FIRST_SLOT, CONFIRM]

    with structlog.testing.capture_logs() as logs:
        calls = [rig.call(CallerScript(keys=script), at=at) for _ in range(2)]
        with sqlite3.connect(database) as repaired:
            repaired.execute("ALTER TABLE appointments_away RENAME TO appointments")
        _call, recovered = rig.call(CallerScript(keys=script), at=at)

    for call, result in calls:
        assert result is not None
        assert (result.end_node, result.outcome, result.reason) == (
            "desk", "answered", "appointment_new"
        )
        assert heard(rig, call, "Notre agenda ne peut pas être consulté")
        assert rig.daemon.store.agenda_actions(call.uuid) == []
    assert recovered is not None and recovered.outcome == "booked"
    events = [entry["event"] for entry in logs if entry["event"].startswith("agenda.")]
    assert events == ["agenda.unavailable", "agenda.recovered"]


@pytest.fixture
def handoff(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "agenda", {"adapter": "handoff"}))
    config: Config = load_config(path)
    with Rig(config, tmp_path) as running:
        yield running


def test_the_handoff_agenda_stores_the_callers_wishes_and_books_nothing(handoff: Rig):
    at = moment_for("open", handoff.config, handoff.now)
    assert at is not None and handoff.daemon.agenda is None
    durand, morning, monday_wednesday_friday, this_number = "2", "1", "135#", "1"

    call, result = handoff.call(
        CallerScript(keys=[*BOOK, durand, morning, monday_wednesday_friday, this_number]), at=at
    )

    assert result is not None
    assert (result.outcome, result.end_node) == ("requested", "appointment_new")
    assert heard(handoff, call, "le secrétariat vous rappellera")
    (filed,) = handoff.daemon.store.booking_requests()
    request = filed.request
    assert (request.kind, request.practitioner, request.preferred_times,
            request.preferred_days, request.callback_number, request.patient_id) == (
        KIND, "durand", "morning", (0, 2, 4), CALLERS["patient"], handoff.patient.id
    )
    assert handoff.seeded.between(at, at + timedelta(days=365)) == []
    assert [a["action"] for a in handoff.daemon.store.agenda_actions(call.uuid)] == [
        "handed_off"
    ]


@pytest.fixture
def everyone(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "agenda", {"who_may_book": "everyone"}))
    with Rig(load_config(path), tmp_path) as running:
        yield running


def test_a_new_patient_says_their_name_books_and_the_staff_are_asked_to_complete_the_file(
    everyone: Rig,
):
    at = moment_for("open", everyone.config, everyone.now)
    assert at is not None
    (first,) = free(everyone, at)
    no_birth_date = ["", ""]

    call, result = everyone.call(
        CallerScript(keys=[*BOOK, *no_birth_date, FIRST_AVAILABLE, FIRST_SLOT, CONFIRM],
                     message_seconds=None),  # says their name, stays on the line
        at=at,
        caller_number=UNKNOWN,
    )

    assert result is not None and result.outcome == "booked"
    assert heard(everyone, call, "dites votre nom")
    (patient,) = everyone.daemon.store.patients_by_phone(UNKNOWN)
    (booked,) = everyone.seeded.upcoming(patient, at)
    assert booked.start == first.start
    (filed,) = everyone.daemon.store.booking_requests()
    assert (filed.request.patient_id, filed.request.appointment_id) == (patient.id, booked.id)
    assert filed.request.details["name_recording"] == result.message_file == call.recorded[0]
    assert everyone.daemon.store.get_call(call.uuid)["message_file"] == result.message_file


def test_a_change_request_to_the_handoff_agenda_says_which_and_where_to_call_back(handoff: Rig):
    at = moment_for("open", handoff.config, handoff.now)
    cancel, this_number = "2", "1"

    call, result = handoff.call(CallerScript(keys=[*CHANGE, cancel, this_number]), at=at)

    assert result is not None
    assert (result.outcome, result.end_node) == ("requested", "appointment_change")
    (filed,) = handoff.daemon.store.booking_requests()
    assert (filed.request.action, filed.request.callback_number, filed.request.call_uuid) == (
        "cancel", CALLERS["patient"], call.uuid
    )


def test_a_caller_who_cannot_be_spoken_to_is_put_through_to_the_desk(
    practice_dir: Path, tmp_path: Path
):
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "prompts", {"voice": "zz-none"}))
    with Rig(load_config(path), tmp_path) as rig:  # espeak-ng has no such voice
        at = moment_for("open", rig.config, rig.now)
        _call, result = rig.call(CallerScript(keys=BOOK), at=at)

        assert result is not None
        assert (result.end_node, result.outcome, result.reason) == (
            "desk", "answered", "appointment_new"
        )
        assert rig.seeded.between(at, at + timedelta(days=90)) == []


def test_two_callers_confirming_the_same_slot_one_gets_it_the_other_the_next(
    rig: Rig, at: datetime
):
    first, second = free(rig, at, 2)
    script = [*BOOK, FIRST_AVAILABLE, FIRST_SLOT, CONFIRM, FIRST_SLOT, CONFIRM]

    calls = [rig.place(CallerScript(keys=script), at=at, caller_number=patient.phone)
             for patient in (rig.patient, rig.other_patient)]
    results = [rig.result(call) for call in calls]

    assert [r.outcome for r in results if r is not None] == ["booked", "booked"]
    assert sum(heard(rig, call, "vient d'être pris") for call in calls) == 1
    booked = rig.seeded.between(at, at + timedelta(days=90))
    assert sorted(a.start for a in booked) == [first.start, second.start]
    assert {a.patient_id for a in booked} == {rig.patient.id, rig.other_patient.id}


def test_at_most_eight_practitioners_are_offered_by_key(rig: Rig, at: datetime):
    for number in range(1, 10):
        rig.daemon.store.add_practitioner(Practitioner(f"dr{number}", f"Docteur Nom{number}"))

    call, _result = rig.call(CallerScript(keys=BOOK), at=at)

    texts = rig.daemon.announcer.texts
    (question,) = {texts[Path(uri)] for uri in call.prompts_heard
                   if "premier rendez-vous disponible" in texts.get(Path(uri), "")}
    assert question.startswith("Pour le premier rendez-vous disponible, tapez 1.")
    assert "tapez 9." in question and "tapez 10" not in question
    assert question.count("Pour le docteur") == 8


def test_the_technician_is_told_at_start_what_keeps_callers_from_booking(
    practice_dir: Path, tmp_path: Path
):
    """A directory with no consultation hours, and without the booking node's appointment
    type: callers would all be put through to the desk; the start says why, and how to fix
    it."""
    config = load_config(practice_dir / "frontdesk.toml")
    with Store(config.storage.database) as practice:
        practice.add_practitioner(Practitioner("martin", "Docteur Martin"))
        practice.add_appointment_type(AppointmentType("long", 40))

    with structlog.testing.capture_logs() as logs, Rig(config, tmp_path):
        pass

    problems = [entry["problem"] for entry in logs if entry["event"] == "agenda.not_ready"]
    assert problems == [
        "appointment type 'consultation' of a booking node is not in the directory: "
        "frontdesk agenda type add consultation MINUTES",
        "no practitioner has consultation hours: frontdesk agenda hours",
    ]


def test_a_ready_directory_starts_without_a_word_about_it(rig: Rig):
    assert not_ready(rig.daemon.config, rig.daemon.store) == []
