"""The CalDAV agenda against a real Radicale on loopback (no mocked HTTP): free slots are the
hours minus what any agenda wrote, bookings are read back, cancelled, moved and confirmed, two
callers never get one slot, and a server that is down, slow or answering garbage is an
unavailable agenda, nothing half-written."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest

from frontdesk.agenda import (
    Absence,
    AgendaUnavailable,
    Appointment,
    AppointmentType,
    ConsultationHours,
    Patient,
    Practitioner,
    Slot,
    SlotTaken,
    UnknownAppointment,
)
from frontdesk.agenda.caldav import CalDAVAgenda
from frontdesk.config.model import AgendaSettings
from radicale_rig import PASSWORD, USERNAME, Answering, Proxy, Radicale

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2027, 3, 1)
JEANNE = Patient(1, "Jeanne Dupont", "0612345678")
PAUL = Patient(2, "Paul Martin", "0698765432")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


@dataclass
class InTestDirectory:
    """The practice's directory (frontdesk's store stands in here until it has the agenda)."""

    doctors: list[Practitioner]
    away: list[Absence] = field(default_factory=list)

    def practitioners(self) -> list[Practitioner]:
        return list(self.doctors)

    def consultation_hours(self, practitioner: str) -> list[ConsultationHours]:
        return [
            ConsultationHours(practitioner, weekday, time(*start), time(*end))
            for weekday in range(5)
            for start, end in (((9, 0), (12, 0)), ((14, 0), (17, 0)))
        ]

    def appointment_types(self) -> list[AppointmentType]:
        return [AppointmentType("consultation", 15, "Consultation"), AppointmentType("long", 30)]

    def absences(self, practitioner: str, start: datetime, end: datetime) -> list[Absence]:
        return [
            a for a in self.away
            if a.practitioner == practitioner and start < a.end and a.start < end
        ]

    def patients_by_phone(self, phone: str) -> list[Patient]:
        return [p for p in (JEANNE, PAUL) if p.phone == phone]

    def patients_by_birth_date(self, birth_date: date) -> list[Patient]:
        return []

    def get_patient(self, patient_id: int) -> Patient | None:
        return {1: JEANNE, 2: PAUL}.get(patient_id)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@dataclass
class Practice:
    directory: InTestDirectory
    calendars: dict[str, str]
    """Practitioner id -> calendar URL."""
    server: Radicale

    def agenda(self, url: str | None = None, timeout: float = 5.0) -> CalDAVAgenda:
        settings = AgendaSettings(
            adapter="caldav",
            timeout=timeout,
            caldav_url=url or self.server.url,
            caldav_username=USERNAME,
            caldav_password_file=self.server.password_file,
        )
        return CalDAVAgenda(self.directory, settings, PARIS)

    def write_event(self, practitioner: str, start: datetime, end: datetime, *extra: str) -> str:
        """An event written by another agenda, straight to the calendar; its UID."""
        uid = f"other-{uuid.uuid4()}"
        lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//another agenda//EN", "BEGIN:VEVENT",
            f"UID:{uid}", "DTSTAMP:20270101T000000Z",
            f"DTSTART;TZID=Europe/Paris:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID=Europe/Paris:{end:%Y%m%dT%H%M%S}",
            "SUMMARY:Réunion", *extra, "END:VEVENT", "END:VCALENDAR",
        ]
        calendar = self.server.client().calendar(url=self.calendars[practitioner])
        calendar.add_event("\r\n".join(lines) + "\r\n")
        return uid

    def events(self, practitioner: str) -> list[str]:
        """The iCalendar text of every event in the practitioner's calendar."""
        calendar = self.server.client().calendar(url=self.calendars[practitioner])
        return [event.data for event in calendar.events()]


@pytest.fixture
def practice(radicale: Radicale) -> Practice:
    """Two practitioners, each with a new calendar on the Radicale."""
    prefix = uuid.uuid4().hex[:8]
    doctors = [
        Practitioner("martin", "Docteur Martin", f"{prefix}-martin"),
        Practitioner("durand", "Docteure Durand", f"{prefix}-durand"),
    ]
    calendars = {d.id: radicale.make_calendar(d.calendar or d.id) for d in doctors}
    return Practice(InTestDirectory(doctors), calendars, radicale)


def starts(slots: list[Slot]) -> list[tuple[str, datetime]]:
    return [(slot.practitioner, slot.start) for slot in slots]


def test_free_slots_are_the_hours_minus_what_any_agenda_wrote(practice: Practice) -> None:
    practice.write_event("martin", at(MONDAY, 9), at(MONDAY, 9, 20))
    practice.write_event("martin", at(MONDAY, 9, 30), at(MONDAY, 9, 45), "STATUS:CANCELLED")
    practice.write_event("martin", at(MONDAY, 9, 45), at(MONDAY, 10), "TRANSP:TRANSPARENT")
    practice.write_event(
        "martin", at(MONDAY, 10), at(MONDAY, 10, 30), "RRULE:FREQ=WEEKLY;COUNT=2"
    )
    practice.directory.away.append(Absence("martin", at(MONDAY, 11), at(MONDAY, 12)))
    agenda = practice.agenda()

    slots = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 6)
    assert [s.start for s in slots] == [
        at(MONDAY, 9, 20), at(MONDAY, 9, 35), at(MONDAY, 10, 30), at(MONDAY, 10, 45),
        at(MONDAY, 14), at(MONDAY, 14, 15),
    ]
    next_week = agenda.free_slots("consultation", "martin", at(MONDAY, 10) + timedelta(days=7), 1)
    assert next_week[0].start == at(MONDAY + timedelta(days=7), 10, 30)  # recurring: busy too


def test_first_available_searches_every_practitioner_soonest_first(practice: Practice) -> None:
    practice.write_event("martin", at(MONDAY, 9), at(MONDAY, 12))
    slots = practice.agenda().free_slots("long", None, at(MONDAY, 8), 3)
    assert starts(slots) == [
        ("durand", at(MONDAY, 9)), ("durand", at(MONDAY, 9, 30)), ("durand", at(MONDAY, 10)),
    ]


def test_slots_are_found_beyond_the_first_weeks_when_those_are_full(practice: Practice) -> None:
    practice.write_event("martin", at(MONDAY, 0), at(MONDAY, 0) + timedelta(days=17))
    slots = practice.agenda().free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert starts(slots) == [("martin", at(MONDAY + timedelta(days=17), 9))]


def test_a_booking_is_an_event_read_back_and_its_slot_is_no_longer_free(
    practice: Practice,
) -> None:
    agenda = practice.agenda()
    slot = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0]
    booked = agenda.book(slot, JEANNE, by="phone")

    assert (booked.practitioner, booked.start, booked.end) == ("martin", at(MONDAY, 9), at(
        MONDAY, 9, 15))
    [event] = practice.events("martin")
    assert "SUMMARY:Consultation: Jeanne Dupont" in event
    assert agenda.upcoming(JEANNE, at(MONDAY, 8)) == [booked]
    assert agenda.upcoming(PAUL, at(MONDAY, 8)) == []
    assert agenda.between(at(MONDAY, 0), at(MONDAY, 23)) == [booked]
    assert booked.phone == JEANNE.phone and booked.booked_by == "phone"
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0].start == at(
        MONDAY, 9, 15)
    # another agenda reading the calendar sees the practitioner busy
    assert "DTSTART:20270301T080000Z" in event


def test_a_slot_booked_by_someone_else_since_it_was_offered_is_refused(
    practice: Practice,
) -> None:
    agenda = practice.agenda()
    slot = agenda.free_slots("long", "martin", at(MONDAY, 8), 1)[0]
    practice.write_event("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 45))
    with pytest.raises(SlotTaken):
        agenda.book(slot, JEANNE, by="phone")
    assert len(practice.events("martin")) == 1


def test_cancel_frees_the_slot_at_once(practice: Practice) -> None:
    agenda = practice.agenda()
    slot = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0]
    booked = agenda.book(slot, JEANNE, by="phone")
    agenda.cancel(booked, by="phone")

    assert agenda.upcoming(JEANNE, at(MONDAY, 8)) == []
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1) == [slot]
    pauls = agenda.book(slot, PAUL, by="phone")  # same slot, same UID
    with pytest.raises(UnknownAppointment):
        agenda.cancel(booked, by="phone")  # Jeanne's, cancelled already: Paul's stays
    assert agenda.upcoming(PAUL, at(MONDAY, 8)) == [pauls]


def test_move_books_the_new_slot_and_frees_the_old_one(practice: Practice) -> None:
    agenda = practice.agenda()
    first = agenda.book(
        Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 30), "long"), JEANNE, by="phone"
    )
    overlapping = Slot("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 45), "long")
    moved = agenda.move(first, overlapping, by="phone")  # its own old time does not block it

    assert agenda.upcoming(JEANNE, at(MONDAY, 8)) == [moved]
    assert (moved.start, moved.patient_name, moved.phone) == (
        at(MONDAY, 9, 15), JEANNE.name, JEANNE.phone)
    assert len(practice.events("martin")) == 1


def test_a_move_whose_cancel_fails_gives_the_new_slot_back(practice: Practice) -> None:
    deletes: list[str] = []

    def first_delete_fails(method: str, path: str) -> int | None:
        if method == "DELETE":
            deletes.append(path)
            return 500 if len(deletes) == 1 else None
        return None

    proxy = Proxy(practice.server.port, first_delete_fails)
    try:
        agenda = practice.agenda(f"http://127.0.0.1:{proxy.port}/{USERNAME}/")
        first = agenda.book(Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 15), "consultation"),
                            JEANNE, by="phone")
        with pytest.raises(AgendaUnavailable, match="HTTP 500"):
            agenda.move(first, Slot("durand", at(MONDAY, 10), at(MONDAY, 10, 15),
                                    "consultation"), by="phone")
        assert agenda.upcoming(JEANNE, at(MONDAY, 8)) == [first]
        assert practice.events("durand") == []
    finally:
        proxy.close()


def test_confirm_marks_the_event_confirmed(practice: Practice) -> None:
    agenda = practice.agenda()
    slot = Slot("durand", at(MONDAY, 14), at(MONDAY, 14, 15), "consultation")
    booked = agenda.book(slot, PAUL, by="cli:alice")
    agenda.confirm(booked, by="reminder")

    [appointment] = agenda.between(at(MONDAY, 0), at(MONDAY + timedelta(days=1), 0))
    assert appointment.state == "confirmed"
    assert "X-FRONTDESK-CONFIRMED-BY:reminder" in practice.events("durand")[0]
    agenda.cancel(booked, by="phone")
    with pytest.raises(UnknownAppointment):
        agenda.confirm(booked, by="reminder")


def book_together(agendas: list[CalDAVAgenda], slots: list[Slot]) -> list[Appointment | str]:
    """Each agenda books its slot for its patient in its own greenlet; what each got."""

    def book(agenda: CalDAVAgenda, slot: Slot, patient: Patient) -> Appointment | str:
        try:
            return agenda.book(slot, patient, by="phone")
        except SlotTaken:
            return "taken"

    jobs = [gevent.spawn(book, *job) for job in zip(agendas, slots, (JEANNE, PAUL), strict=True)]
    gevent.joinall(jobs, raise_error=True)
    return [job.value for job in jobs]


def test_two_simultaneous_bookings_of_one_slot_exactly_one_wins(practice: Practice) -> None:
    """Both callers' checks find the slot free; the proxy holds their writes until both have
    come, then lets them go at once: the server's conditional create keeps one."""
    both_writing = threading.Barrier(2, timeout=20)

    def hold_writes(method: str, path: str) -> None:
        if method == "PUT":
            both_writing.wait()

    proxy = Proxy(practice.server.port, hold_writes)
    try:
        url = f"http://127.0.0.1:{proxy.port}/{USERNAME}/"
        agendas = [practice.agenda(url), practice.agenda(url)]
        slot = Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 15), "consultation")
        results = book_together(agendas, [slot, slot])
    finally:
        proxy.close()

    assert sorted(map(type, results), key=str) == [Appointment, str]
    [winner] = [r for r in results if isinstance(r, Appointment)]
    [event] = practice.events("martin")
    assert f"X-FRONTDESK-PATIENT-NAME:{winner.patient_name}" in event


def test_overlapping_bookings_at_the_same_moment_never_both_win(practice: Practice) -> None:
    """Different starts (different UIDs), same time: the check after the write catches it."""
    both_writing = threading.Barrier(2, timeout=20)

    def hold_writes(method: str, path: str) -> None:
        if method == "PUT":
            both_writing.wait()

    proxy = Proxy(practice.server.port, hold_writes)
    try:
        url = f"http://127.0.0.1:{proxy.port}/{USERNAME}/"
        agendas = [practice.agenda(url), practice.agenda(url)]
        slots = [
            Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 30), "long"),
            Slot("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 30), "consultation"),
        ]
        results = book_together(agendas, slots)
    finally:
        proxy.close()

    assert sum(isinstance(r, Appointment) for r in results) <= 1
    assert len(practice.events("martin")) == sum(isinstance(r, Appointment) for r in results)


def test_an_event_written_between_the_check_and_the_write_keeps_the_slot(
    practice: Practice,
) -> None:
    written: list[str] = []

    def another_agenda_writes_first(method: str, path: str) -> None:
        if method == "PUT" and not written:
            written.append(practice.write_event("martin", at(MONDAY, 9, 10), at(MONDAY, 9, 40)))

    proxy = Proxy(practice.server.port, another_agenda_writes_first)
    try:
        agenda = practice.agenda(f"http://127.0.0.1:{proxy.port}/{USERNAME}/")
        with pytest.raises(SlotTaken):
            agenda.book(Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 15), "consultation"), JEANNE,
                        by="phone")
    finally:
        proxy.close()
    [event] = practice.events("martin")
    assert f"UID:{written[0]}" in event


def test_a_stopped_server_is_an_unavailable_agenda(practice: Practice, tmp_path: Path) -> None:
    server = Radicale(tmp_path / "radicale")
    server.make_calendar("martin")
    directory = InTestDirectory([Practitioner("martin", "Docteur Martin")])
    agenda = Practice(directory, {}, server).agenda()
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    server.stop()

    with pytest.raises(AgendaUnavailable, match="connection failed.*Connection refused") as refused:
        agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert "martin" in str(refused.value)
    with pytest.raises(AgendaUnavailable):
        agenda.book(Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 15), "consultation"), JEANNE,
                    by="phone")


GARBAGE = {
    "not HTTP": b"220 smtp.example ESMTP ready\r\n",
    "not XML": b"HTTP/1.1 207 Multi-Status\r\nContent-Type: text/xml\r\nContent-Length: 15\r\n\r\n"
    b"<multistatus><<",
    "not iCalendar": (
        b"HTTP/1.1 207 Multi-Status\r\nContent-Type: text/xml; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n%s"
    ),
}
NOT_ICALENDAR = (
    b'<?xml version="1.0"?><multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b"<response><href>/frontdesk/martin/x.ics</href><propstat><prop>"
    b"<getetag>\"1\"</getetag><C:calendar-data>BEGIN:VCALENDAR\nthis is no event\n"
    b"</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>"
    b"</multistatus>"
)


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_a_server_answering_garbage_is_an_unavailable_agenda(
    practice: Practice, kind: str
) -> None:
    answer = GARBAGE[kind]
    if kind == "not iCalendar":
        answer = answer % (len(NOT_ICALENDAR), NOT_ICALENDAR)
    server = Answering(answer)
    try:
        agenda = practice.agenda(server.url)
        with pytest.raises(AgendaUnavailable, match="CalDAV agenda, reading http.*martin"):
            agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    finally:
        server.close()


def test_a_server_that_does_not_answer_is_unavailable_after_the_timeout(
    practice: Practice,
) -> None:
    server = Answering(None)
    try:
        agenda = practice.agenda(server.url, timeout=0.5)
        with pytest.raises(AgendaUnavailable, match="no answer within 0.5 s"):
            agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
        with pytest.raises(AgendaUnavailable, match="no answer within 0.5 s"):
            agenda.book(Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 15), "consultation"), JEANNE,
                        by="phone")
    finally:
        server.close()


def test_a_refused_login_is_unavailable_and_the_password_is_not_told(
    practice: Practice, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    settings = AgendaSettings(
        adapter="caldav", caldav_url=practice.server.url, caldav_username=USERNAME,
        caldav_password_file=wrong,
    )
    agenda = CalDAVAgenda(practice.directory, settings, PARIS)
    with pytest.raises(AgendaUnavailable, match="refused the login") as refused:
        agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert "not-the-password" not in str(refused.value) and PASSWORD not in str(refused.value)


def test_a_calendar_missing_on_the_server_is_named(practice: Practice) -> None:
    practice.directory.doctors.append(Practitioner("leroy", "Docteur Leroy", "nobody-made-it"))
    with pytest.raises(AgendaUnavailable, match="nobody-made-it"):
        practice.agenda().free_slots("consultation", "leroy", at(MONDAY, 8), 1)
