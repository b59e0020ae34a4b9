"""The CalDAV agenda against a real Radicale on loopback (no mocked HTTP): free slots are the
hours minus what any agenda wrote, bookings are read back, cancelled, moved and confirmed, two
callers never get one slot, and a server that is down, slow or answering garbage is an
unavailable agenda, nothing half-written. Last, a caller books by phone (the real daemon over
ESL) into the calendar."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest

from frontdesk.agenda import (
    Absence,
    Agenda,
    AgendaUnavailable,
    Appointment,
    AppointmentType,
    Patient,
    Practitioner,
    PractitionerAbsent,
    Slot,
    SlotTaken,
    UnknownAppointment,
    open_agenda,
)
from frontdesk.agenda.caldav import SEARCH_TRUSTED_S, CalDAVAgenda
from frontdesk.clock import VirtualClock
from frontdesk.config import load_config
from frontdesk.config.model import AgendaSettings
from frontdesk.rehearse import Rig, moment_for
from frontdesk.sim import CallerScript
from frontdesk.store import Store
from helpers import set_in_section
from radicale_rig import PASSWORD, USERNAME, Answering, Proxy, Radicale

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2027, 3, 1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


NINE = Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 15), "consultation")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    with Radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


def ical_time(moment: date) -> str:
    if isinstance(moment, datetime):
        return f";TZID=Europe/Paris:{moment:%Y%m%dT%H%M%S}"
    return f";VALUE=DATE:{moment:%Y%m%d}"


@dataclass
class Office:
    """frontdesk's store as the directory (two practitioners, each with a new calendar on the
    Radicale, working 9-12 and 14-17 on weekdays) and two patients."""

    store: Store
    server: Radicale
    jeanne: Patient
    paul: Patient

    def agenda(
        self, url: str | None = None, timeout: float = 5.0, clock: VirtualClock | None = None
    ) -> CalDAVAgenda:
        settings = AgendaSettings(
            adapter="caldav",
            timeout=timeout,
            caldav_url=url or self.server.url,
            caldav_username=USERNAME,
            caldav_password_file=self.server.password_file,
        )
        return CalDAVAgenda(self.store, settings, PARIS, clock=clock)

    def calendar_url(self, practitioner: str) -> str:
        [calendar] = [p.calendar for p in self.store.practitioners() if p.id == practitioner]
        return f"{self.server.url}{calendar}/"

    def write_event(self, practitioner: str, start: date, end: date, *extra: str,
                    uid: str | None = None) -> str:
        """An event written by another agenda, straight to the calendar (dates: an all-day
        event; `uid`: that event changed); its UID."""
        return self.write_event_to(self.calendar_url(practitioner), start, end, *extra, uid=uid)

    def write_event_to(self, url: str, start: date, end: date, *extra: str,
                       uid: str | None = None) -> str:
        """`write_event` to a calendar's `url` (from any thread: no store)."""
        uid = uid or f"other-{uuid.uuid4()}"
        lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//another agenda//EN", "BEGIN:VEVENT",
            f"UID:{uid}", "DTSTAMP:20270101T000000Z",
            f"DTSTART{ical_time(start)}", f"DTEND{ical_time(end)}",
            "SUMMARY:Réunion", *extra, "END:VEVENT", "END:VCALENDAR",
        ]
        calendar = self.server.client().calendar(url=url)
        calendar.add_event("\r\n".join(lines) + "\r\n")
        return uid

    def events(self, practitioner: str) -> list[str]:
        """The iCalendar text of every event in the practitioner's calendar."""
        calendar = self.server.client().calendar(url=self.calendar_url(practitioner))
        return [event.data for event in calendar.events()]


def open_office(store: Store, server: Radicale) -> Office:
    prefix = uuid.uuid4().hex[:8]
    for practitioner in (Practitioner("martin", "Docteur Martin", f"{prefix}-martin"),
                         Practitioner("durand", "Docteure Durand", f"{prefix}-durand")):
        store.add_practitioner(practitioner)
        server.make_calendar(f"{prefix}-{practitioner.id}")
        for weekday in range(5):
            store.set_hours(practitioner.id, weekday,
                            [(time(9), time(12)), (time(14), time(17))])
    store.add_appointment_type(AppointmentType("consultation", 15, "Consultation"))
    store.add_appointment_type(AppointmentType("long", 30))
    (jeanne, _), (paul, _) = store.add_patients(
        [("Jeanne Dupont", "0612345678", None), ("Paul Martin", "0698765432", None)]
    )
    return Office(store, server, jeanne, paul)


@pytest.fixture
def office(radicale: Radicale, tmp_path: Path) -> Iterator[Office]:
    with Store(tmp_path / "frontdesk.db") as store:
        yield open_office(store, radicale)


@pytest.fixture
def virtual_clock() -> Iterator[VirtualClock]:
    """Time for the agenda's reuse of what it read: still unless a test sleeps."""
    clock = VirtualClock()
    yield clock
    clock.stop()


@contextmanager
def counting(office: Office, clock: VirtualClock) -> Iterator[tuple[CalDAVAgenda, Counter[str]]]:
    """An agenda reaching the Radicale through a proxy that counts its requests by method."""
    requests: Counter[str] = Counter()

    def count(method: str, path: str) -> None:
        requests[method] += 1

    proxy = Proxy(office.server.port, count)
    try:
        yield office.agenda(f"http://127.0.0.1:{proxy.port}/{USERNAME}/", clock=clock), requests
    finally:
        proxy.close()


def test_the_config_opens_the_caldav_agenda_on_the_store(
    office: Office, practice_dir: Path
) -> None:
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "agenda", {
        "adapter": "caldav", "caldav_url": office.server.url, "caldav_username": USERNAME,
        "caldav_password_file": str(office.server.password_file),
    }))
    agenda: Agenda | None = open_agenda(load_config(path), office.store)

    assert isinstance(agenda, CalDAVAgenda) and agenda.name == "caldav"
    assert agenda.directory is office.store
    assert agenda.free_slots("consultation", "durand", at(MONDAY, 8), 1)[0].start == at(MONDAY, 9)


def starts(slots: list[Slot]) -> list[tuple[str, datetime]]:
    return [(slot.practitioner, slot.start) for slot in slots]


def test_free_slots_are_the_hours_minus_what_any_agenda_wrote(office: Office) -> None:
    office.write_event("martin", at(MONDAY, 9), at(MONDAY, 9, 20))
    office.write_event("martin", at(MONDAY, 9, 30), at(MONDAY, 9, 45), "STATUS:CANCELLED")
    office.write_event("martin", at(MONDAY, 9, 45), at(MONDAY, 10), "TRANSP:TRANSPARENT")
    office.write_event(
        "martin", at(MONDAY, 10), at(MONDAY, 10, 30), "RRULE:FREQ=WEEKLY;COUNT=2"
    )
    office.store.add_absence(Absence("martin", at(MONDAY, 11), at(MONDAY, 12)))
    agenda = office.agenda()

    slots = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 6)
    assert [s.start for s in slots] == [
        at(MONDAY, 9, 20), at(MONDAY, 9, 35), at(MONDAY, 10, 30), at(MONDAY, 10, 45),
        at(MONDAY, 14), at(MONDAY, 14, 15),
    ]
    next_week = agenda.free_slots("consultation", "martin", at(MONDAY, 10) + timedelta(days=7), 1)
    assert next_week[0].start == at(MONDAY + timedelta(days=7), 10, 30)  # recurring: busy too


def test_an_all_day_event_makes_the_whole_day_busy(office: Office) -> None:
    office.write_event("martin", MONDAY, MONDAY + timedelta(days=2))  # Monday and Tuesday
    slots = office.agenda().free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert slots[0].start == at(MONDAY + timedelta(days=2), 9)


def test_an_event_another_agenda_moves_is_busy_at_its_new_time(
    office: Office, virtual_clock: VirtualClock
) -> None:
    agenda = office.agenda(clock=virtual_clock)
    uid = office.write_event("martin", at(MONDAY, 9), at(MONDAY, 9, 15))
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0].start == at(
        MONDAY, 9, 15)
    office.write_event("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 30), uid=uid)
    virtual_clock.sleep(SEARCH_TRUSTED_S)  # what the search read is trusted until then

    slots = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 2)
    assert [s.start for s in slots] == [at(MONDAY, 9), at(MONDAY, 9, 30)]
    assert len(office.events("martin")) == 1


def test_first_available_searches_every_practitioner_soonest_first(office: Office) -> None:
    office.write_event("martin", at(MONDAY, 9), at(MONDAY, 12))
    slots = office.agenda().free_slots("long", None, at(MONDAY, 8), 3)
    assert starts(slots) == [
        ("durand", at(MONDAY, 9)), ("durand", at(MONDAY, 9, 30)), ("durand", at(MONDAY, 10)),
    ]


def test_slots_are_found_beyond_the_first_weeks_when_those_are_full(office: Office) -> None:
    office.write_event("martin", at(MONDAY, 0), at(MONDAY, 0) + timedelta(days=17))
    slots = office.agenda().free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert starts(slots) == [("martin", at(MONDAY + timedelta(days=17), 9))]


def test_a_search_again_with_nothing_changed_asks_the_server_nothing(
    office: Office, virtual_clock: VirtualClock
) -> None:
    office.write_event("martin", at(MONDAY, 9), at(MONDAY, 10))
    with counting(office, virtual_clock) as (agenda, requests):
        first = agenda.free_slots("consultation", None, at(MONDAY, 8), 3)
        assert requests == Counter(REPORT=2)  # a week of each calendar
        requests.clear()
        again = agenda.free_slots("consultation", None, at(MONDAY, 8, 1), 3)  # another caller
        martins = agenda.free_slots("consultation", "martin", at(MONDAY, 8, 1), 1)
        assert requests == Counter()
    assert again == first and starts(first)[0] == ("durand", at(MONDAY, 9))
    assert starts(martins) == [("martin", at(MONDAY, 10))]


def test_an_event_another_agenda_writes_is_searched_around_seconds_later_and_refused_at_once(
    office: Office, virtual_clock: VirtualClock
) -> None:
    agenda = office.agenda(clock=virtual_clock)
    [nine] = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    office.write_event("martin", at(MONDAY, 9), at(MONDAY, 9, 15))

    with pytest.raises(SlotTaken):  # the booking reads the slot fresh
        agenda.book(nine, office.jeanne, by="phone")
    [next_one] = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert next_one.start == at(MONDAY, 9, 15)  # the refusal makes the search read again

    office.write_event("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 30))
    virtual_clock.sleep(SEARCH_TRUSTED_S)
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0].start == at(
        MONDAY, 9, 30)


def test_frontdesk_s_own_writes_are_seen_by_the_next_search_at_once(
    office: Office, virtual_clock: VirtualClock
) -> None:
    agenda = office.agenda(clock=virtual_clock)
    [nine] = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    booked = agenda.book(nine, office.jeanne, by="phone")
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0].start == at(
        MONDAY, 9, 15)
    moved = agenda.move(booked, replace(nine, practitioner="durand"), by="phone")
    assert agenda.free_slots("consultation", None, at(MONDAY, 8), 1) == [nine]
    agenda.cancel(moved, by="phone")
    assert agenda.free_slots("consultation", "durand", at(MONDAY, 8), 1) == [
        replace(nine, practitioner="durand")]


def test_a_booking_is_an_event_read_back_and_its_slot_is_no_longer_free(
    office: Office,
) -> None:
    agenda = office.agenda()
    slot = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0]
    booked = agenda.book(slot, office.jeanne, by="phone")

    assert (booked.practitioner, booked.start, booked.end) == ("martin", at(MONDAY, 9), at(
        MONDAY, 9, 15))
    [event] = office.events("martin")
    assert "SUMMARY:Consultation: Jeanne Dupont" in event
    assert agenda.upcoming(office.jeanne, at(MONDAY, 8)) == [booked]
    assert agenda.upcoming(office.paul, at(MONDAY, 8)) == []
    assert agenda.between(at(MONDAY, 0), at(MONDAY, 23)) == [booked]
    assert booked.phone == office.jeanne.phone and booked.booked_by == "phone"
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0].start == at(
        MONDAY, 9, 15)
    # another agenda reading the calendar sees the practitioner busy
    assert "DTSTART:20270301T080000Z" in event


def test_a_patient_s_name_is_read_back_as_it_was_written(office: Office) -> None:
    ((zoe, _),) = office.store.add_patients([("Zoé L'Hôte, née Durand; \\ fille", "0611", None)])
    agenda = office.agenda()
    booked = agenda.book(NINE, zoe, by="phone")
    assert agenda.upcoming(zoe, at(MONDAY, 8)) == [booked]
    assert booked.patient_name == zoe.name


def test_an_unreadable_password_file_is_told_at_once(office: Office, tmp_path: Path) -> None:
    settings = AgendaSettings(adapter="caldav", caldav_url=office.server.url,
                              caldav_username=USERNAME, caldav_password_file=tmp_path / "none")
    with pytest.raises(AgendaUnavailable, match="cannot read the CalDAV password file"):
        CalDAVAgenda(office.store, settings, PARIS)


def test_a_slot_booked_by_someone_else_since_it_was_offered_is_refused(
    office: Office,
) -> None:
    agenda = office.agenda()
    slot = agenda.free_slots("long", "martin", at(MONDAY, 8), 1)[0]
    office.write_event("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 45))
    with pytest.raises(SlotTaken):
        agenda.book(slot, office.jeanne, by="phone")
    assert len(office.events("martin")) == 1


def test_a_slot_in_an_absence_added_after_it_was_offered_is_not_booked(office: Office) -> None:
    agenda = office.agenda()
    slot = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0]
    office.store.add_absence(Absence("martin", at(MONDAY, 0), at(MONDAY, 23)))

    with pytest.raises(PractitionerAbsent):
        agenda.book(slot, office.jeanne, by="phone")
    assert office.events("martin") == []


def test_cancel_frees_the_slot_at_once(office: Office) -> None:
    agenda = office.agenda()
    slot = agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)[0]
    booked = agenda.book(slot, office.jeanne, by="phone")
    agenda.cancel(booked, by="phone")

    assert agenda.upcoming(office.jeanne, at(MONDAY, 8)) == []
    assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1) == [slot]
    pauls = agenda.book(slot, office.paul, by="phone")  # same slot, same UID
    with pytest.raises(UnknownAppointment):
        agenda.cancel(booked, by="phone")  # Jeanne's, cancelled already: Paul's stays
    assert agenda.upcoming(office.paul, at(MONDAY, 8)) == [pauls]


def test_a_slot_booked_again_after_a_cancel_is_another_appointment(office: Office) -> None:
    """Another id (reminders and call outcomes keep one per booking), though the same
    event UID: cancelling or confirming the old one does not touch the new one."""
    agenda = office.agenda()
    first = agenda.book(NINE, office.jeanne, by="phone")
    agenda.cancel(first, by="phone")
    again = agenda.book(NINE, office.jeanne, by="phone")

    assert again.id != first.id
    with pytest.raises(UnknownAppointment):
        agenda.confirm(first, by="reminder")
    with pytest.raises(UnknownAppointment):
        agenda.cancel(first, by="phone")
    assert agenda.upcoming(office.jeanne, at(MONDAY, 8)) == [again]


def test_move_books_the_new_slot_and_frees_the_old_one(office: Office) -> None:
    agenda = office.agenda()
    first = agenda.book(
        Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 30), "long"), office.jeanne, by="phone"
    )
    overlapping = Slot("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 45), "long")
    moved = agenda.move(first, overlapping, by="phone")  # its own old time does not block it

    assert agenda.upcoming(office.jeanne, at(MONDAY, 8)) == [moved]
    assert (moved.start, moved.patient_name, moved.phone) == (
        at(MONDAY, 9, 15), office.jeanne.name, office.jeanne.phone)
    assert len(office.events("martin")) == 1


def test_a_move_whose_cancel_fails_gives_the_new_slot_back(office: Office) -> None:
    deletes: list[str] = []

    def first_delete_fails(method: str, path: str) -> int | None:
        if method == "DELETE":
            deletes.append(path)
            return 500 if len(deletes) == 1 else None
        return None

    proxy = Proxy(office.server.port, first_delete_fails)
    try:
        agenda = office.agenda(f"http://127.0.0.1:{proxy.port}/{USERNAME}/")
        first = agenda.book(NINE, office.jeanne, by="phone")
        with pytest.raises(AgendaUnavailable, match="HTTP 500"):
            agenda.move(first, Slot("durand", at(MONDAY, 10), at(MONDAY, 10, 15),
                                    "consultation"), by="phone")
        assert agenda.upcoming(office.jeanne, at(MONDAY, 8)) == [first]
        assert office.events("durand") == []
    finally:
        proxy.close()


def test_confirm_marks_the_event_confirmed(office: Office) -> None:
    agenda = office.agenda()
    slot = Slot("durand", at(MONDAY, 14), at(MONDAY, 14, 15), "consultation")
    booked = agenda.book(slot, office.paul, by="cli:alice")
    agenda.confirm(booked, by="reminder")

    [appointment] = agenda.between(at(MONDAY, 0), at(MONDAY + timedelta(days=1), 0))
    assert appointment.state == "confirmed"
    assert "X-FRONTDESK-CONFIRMED-BY:reminder" in office.events("durand")[0]
    agenda.cancel(booked, by="phone")
    with pytest.raises(UnknownAppointment):
        agenda.confirm(booked, by="reminder")


def book_together(
    agendas: list[CalDAVAgenda], slots: list[Slot], patients: tuple[Patient, Patient]
) -> list[Appointment | str]:
    """Each agenda books its slot for its patient in its own greenlet; what each got."""

    def book(agenda: CalDAVAgenda, slot: Slot, patient: Patient) -> Appointment | str:
        try:
            return agenda.book(slot, patient, by="phone")
        except SlotTaken:
            return "taken"

    jobs = [gevent.spawn(book, *job) for job in zip(agendas, slots, patients, strict=True)]
    gevent.joinall(jobs, raise_error=True)
    return [job.value for job in jobs]


def book_with_writes_held(office: Office, slots: list[Slot]) -> list[Appointment | str]:
    """Jeanne and Paul book `slots` through two agendas at once; a proxy holds both writes
    (PUT) until both have come, then lets them go together."""
    both_writing = threading.Barrier(2, timeout=20)

    def hold_writes(method: str, path: str) -> None:
        if method == "PUT":
            both_writing.wait()

    proxy = Proxy(office.server.port, hold_writes)
    try:
        url = f"http://127.0.0.1:{proxy.port}/{USERNAME}/"
        agendas = [office.agenda(url), office.agenda(url)]
        return book_together(agendas, slots, (office.jeanne, office.paul))
    finally:
        proxy.close()


def test_two_simultaneous_bookings_of_one_slot_exactly_one_wins(office: Office) -> None:
    """Both callers' checks find the slot free; the proxy holds their writes until both have
    come, then lets them go at once: the server's conditional create keeps one."""
    results = book_with_writes_held(office, [NINE, NINE])

    assert sorted(map(type, results), key=str) == [Appointment, str]
    [winner] = [r for r in results if isinstance(r, Appointment)]
    [event] = office.events("martin")
    assert f"X-FRONTDESK-PATIENT-NAME:{winner.patient_name}" in event


def test_overlapping_bookings_at_the_same_moment_never_both_win(office: Office) -> None:
    """Different starts (different UIDs), same time: the check after the write catches it."""
    slots = [
        Slot("martin", at(MONDAY, 9), at(MONDAY, 9, 30), "long"),
        Slot("martin", at(MONDAY, 9, 15), at(MONDAY, 9, 30), "consultation"),
    ]
    results = book_with_writes_held(office, slots)

    assert sum(isinstance(r, Appointment) for r in results) <= 1
    assert len(office.events("martin")) == sum(isinstance(r, Appointment) for r in results)


def test_an_event_written_between_the_check_and_the_write_keeps_the_slot(
    office: Office,
) -> None:
    written: list[str] = []
    martins = office.calendar_url("martin")

    def another_agenda_writes_first(method: str, path: str) -> None:
        if method == "PUT" and not written:
            written.append(office.write_event_to(martins, at(MONDAY, 9, 10), at(MONDAY, 9, 40)))

    proxy = Proxy(office.server.port, another_agenda_writes_first)
    try:
        agenda = office.agenda(f"http://127.0.0.1:{proxy.port}/{USERNAME}/")
        with pytest.raises(SlotTaken):
            agenda.book(NINE, office.jeanne, by="phone")
    finally:
        proxy.close()
    [event] = office.events("martin")
    assert f"UID:{written[0]}" in event


def test_a_stopped_server_is_an_unavailable_agenda(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    with Radicale(tmp_path / "radicale") as server, Store(tmp_path / "frontdesk.db") as store:
        office = open_office(store, server)
        agenda = office.agenda(clock=virtual_clock)
        assert agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
        server.stop()
        virtual_clock.sleep(SEARCH_TRUSTED_S)  # until then, searches reuse what they read

        with pytest.raises(
            AgendaUnavailable, match="connection failed.*Connection refused"
        ) as refused:
            agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
        assert "martin" in str(refused.value)
        with pytest.raises(AgendaUnavailable):
            agenda.book(NINE, office.jeanne, by="phone")


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
    office: Office, kind: str
) -> None:
    answer = GARBAGE[kind]
    if kind == "not iCalendar":
        answer = answer % (len(NOT_ICALENDAR), NOT_ICALENDAR)
    server = Answering(answer)
    try:
        agenda = office.agenda(server.url)
        with pytest.raises(AgendaUnavailable, match="CalDAV agenda, reading http.*martin"):
            agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    finally:
        server.close()


def test_a_server_that_does_not_answer_is_unavailable_after_the_timeout(
    office: Office,
) -> None:
    server = Answering(None)
    try:
        agenda = office.agenda(server.url, timeout=0.5)
        with pytest.raises(AgendaUnavailable, match="no answer within 0.5 s"):
            agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
        with pytest.raises(AgendaUnavailable, match="no answer within 0.5 s"):
            agenda.book(NINE, office.jeanne, by="phone")
    finally:
        server.close()


def test_a_refused_login_is_unavailable_and_the_password_is_not_told(
    office: Office, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    settings = AgendaSettings(
        adapter="caldav", caldav_url=office.server.url, caldav_username=USERNAME,
        caldav_password_file=wrong,
    )
    agenda = CalDAVAgenda(office.store, settings, PARIS)
    with pytest.raises(AgendaUnavailable, match="refused the login") as refused:
        agenda.free_slots("consultation", "martin", at(MONDAY, 8), 1)
    assert "not-the-password" not in str(refused.value) and PASSWORD not in str(refused.value)


def test_a_calendar_missing_on_the_server_is_named(office: Office) -> None:
    office.store.add_practitioner(Practitioner("leroy", "Docteur Leroy", "nobody-made-it"))
    office.store.set_hours("leroy", 0, [(time(9), time(12))])
    with pytest.raises(AgendaUnavailable, match="nobody-made-it"):
        office.agenda().free_slots("consultation", "leroy", at(MONDAY, 8), 1)


# By phone: the real daemon against the simulator (over ESL), on virtual time, booking in
# CalDAV calendars on the Radicale.

BOOK_FIRST_SLOT = ["2", "1", "1", "1", "1"]
"""Appointments, a new one, the first available, its first slot, confirm."""


@pytest.fixture
def phoning(rig: Rig, radicale: Radicale) -> Rig:
    """The rig's daemon with a CalDAV agenda: a new calendar for each of the rig's
    practitioners."""
    prefix = uuid.uuid4().hex[:8]
    for practitioner in rig.daemon.store.practitioners():
        calendar = f"{prefix}-{practitioner.id}"
        radicale.make_calendar(calendar)
        rig.daemon.store.add_practitioner(replace(practitioner, calendar=calendar))
    settings = rig.daemon.config.agenda
    assert settings is not None
    settings = replace(
        settings, adapter="caldav", caldav_url=radicale.url, caldav_username=USERNAME,
        caldav_password_file=radicale.password_file,
    )
    zone = ZoneInfo(rig.config.practice.timezone)
    rig.daemon.agenda = CalDAVAgenda(rig.daemon.store, settings, zone)
    return rig


def offered(rig: Rig, at: datetime, count: int) -> list[Slot]:
    """The first free slots a caller at `at` is offered (after the minimum notice)."""
    settings = rig.daemon.config.agenda
    assert settings is not None and rig.daemon.agenda is not None
    after = at + timedelta(minutes=settings.min_notice_minutes)
    return rig.daemon.agenda.free_slots("consultation", None, after, count)


def test_a_caller_books_by_phone_into_the_practitioner_s_calendar(
    phoning: Rig, radicale: Radicale
) -> None:
    at = moment_for("open", phoning.config, phoning.now)
    assert at is not None
    (first,) = offered(phoning, at, 1)

    call, result = phoning.call(CallerScript(keys=BOOK_FIRST_SLOT), at=at)

    assert result is not None and result.outcome == "booked"
    agenda = phoning.daemon.agenda
    assert agenda is not None
    (booked,) = agenda.upcoming(phoning.patient, at)
    assert (booked.start, booked.practitioner, booked.booked_by) == (
        first.start, first.practitioner, "phone")
    actions = phoning.daemon.store.agenda_actions(call.uuid)
    assert [(a["action"], a["appointment_id"]) for a in actions] == [("booked", booked.id)]
    [calendar_name] = [
        p.calendar for p in phoning.daemon.store.practitioners() if p.id == booked.practitioner
    ]
    calendar = radicale.client().calendar(url=f"{radicale.url}{calendar_name}/")
    [event] = [e.data for e in calendar.events()]
    assert phoning.patient.name in event


def test_by_phone_a_slot_booked_in_the_calendar_meanwhile_gives_the_next_one(
    phoning: Rig,
) -> None:
    at = moment_for("open", phoning.config, phoning.now)
    assert at is not None
    first, second = offered(phoning, at, 2)

    with phoning.slot_taken_meanwhile():
        _, result = phoning.call(CallerScript(keys=[*BOOK_FIRST_SLOT, "1", "1"]), at=at)

    assert result is not None and result.outcome == "booked"
    agenda = phoning.daemon.agenda
    assert agenda is not None
    assert [a.start for a in agenda.upcoming(phoning.patient, at)] == [second.start]
    assert [a.start for a in agenda.upcoming(phoning.other_patient, at)] == [first.start]
