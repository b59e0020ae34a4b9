"""The agenda on a CalDAV server: one calendar per practitioner. Only this module speaks CalDAV.

Free slots are the practitioner's hours (the directory) minus absences minus the calendar's
busy events: every VEVENT that is neither ``STATUS:CANCELLED`` nor ``TRANSP:TRANSPARENT``,
whoever wrote it, recurring ones expanded, all-day ones busy the whole local day.
What a slot search read of a calendar is reused by the searches of the next few seconds
(`SEARCH_TRUSTED_S`); a write of frontdesk's, or a booking that found its slot taken, forgets
it at once. The checks that decide a write always read the server.

A booking is a VEVENT whose UID is the practitioner and the start (`uid_of`), stored as
``<UID>.ics`` in the calendar with ``If-None-Match: *``: of two bookings of one slot at the same
moment the server stores one and refuses the other (412), which gets `SlotTaken`. The
appointment's id is that UID and a random token of the booking (`X_BOOKING`), ``<UID>#<token>``:
a slot cancelled and booked again is another appointment (reminders and call outcomes keep
one id per booking), and a cancel or confirm of the old one finds it gone. The slot's
time is read just before the write (an event written meanwhile: `SlotTaken`) and just after
it: an overlapping event that appeared between the two (another agenda, or a frontdesk
booking of an overlapping slot with another start, which the UID cannot catch) makes frontdesk
take its own event back and answer `SlotTaken`, so the practitioner never has two patients at
once. Should that last read fail, the booking stands: it was written.

Patient, type and author are X- properties of the event (`X_PATIENT_ID`, …), which is how
`upcoming` and `between` read frontdesk's appointments back; other events are busy times
only, and frontdesk changes only the events it wrote. Cancel deletes the event (the slot is
free at once); confirm sets `X_STATE`.

Every HTTP request runs in gevent's thread pool, each pool thread with its own client, whose
timeout is ``[agenda] timeout`` per request. Any failure (refused, timeout, HTTP error, XML or
iCalendar that cannot be read) is `AgendaUnavailable`, with the calendar and the reason.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar, cast
from urllib.parse import quote, urljoin
from zoneinfo import ZoneInfo

import gevent
import icalendar
import recurring_ical_events
import structlog
from caldav.davclient import DAVClient
from caldav.lib import error as caldav_error
from caldav.lib.http_sync import requests as http

from frontdesk.agenda import (
    ACTIVE,
    AgendaUnavailable,
    Appointment,
    Directory,
    OtherEvent,
    Patient,
    Practitioner,
    PractitionerAbsent,
    Slot,
    SlotTaken,
    UnknownAppointment,
)
from frontdesk.agenda._move import finish_move
from frontdesk.agenda._recent import RecentReads
from frontdesk.agenda.slots import free_slots, overlaps
from frontdesk.clock import Clock
from frontdesk.config.model import AgendaSettings

log = structlog.get_logger(__name__)

UID_PREFIX = "frontdesk-"
BOOKING_UID = re.compile(rf"{UID_PREFIX}(.+)-(\d{{8}}T\d{{6}}Z)")
"""A booking's UID (`uid_of`): the practitioner and the start."""
X_BOOKING = "X-FRONTDESK-BOOKING"
X_PATIENT_ID = "X-FRONTDESK-PATIENT-ID"
X_PATIENT_NAME = "X-FRONTDESK-PATIENT-NAME"
X_PHONE = "X-FRONTDESK-PHONE"
X_KIND = "X-FRONTDESK-KIND"
X_BOOKED_BY = "X-FRONTDESK-BOOKED-BY"
X_STATE = "X-FRONTDESK-STATE"
X_CONFIRMED_BY = "X-FRONTDESK-CONFIRMED-BY"
WINDOW = timedelta(days=7)
"""Free slots are searched a week of events at a time (one query per practitioner): the next
few are usually close. A day at a time costs more: Radicale, for one, reads every event of the
calendar for each query."""
SEARCH_TRUSTED_S = 10.0
"""Seconds a calendar read for a slot search is reused by the next searches, unasked. Radicale
answers a CTag (`getctag`) or a `sync-token` only after reading every event of the calendar,
nearly what a whole REPORT costs, so no freshness check would be cheaper than the read. A slot
offered from a read a few seconds old that another agenda took meanwhile is refused at the
booking, which reads the slot fresh (`SlotTaken`: the caller hears the next one); frontdesk's
own writes forget the calendar's reads at once."""
SEARCH_MARGIN = timedelta(days=1)
"""A search reads whole UTC days and a day more than it needs, so the searches that follow a
few seconds later, a little later in time, find their range read."""
CALENDARS_KEPT = 64
SEARCH_READS_KEPT = 8
"""Per calendar: the reads of different ranges trusted at once (a search beyond the first
weeks, searches from different days)."""
RESOURCES_KEPT = 50_000
"""Parsed calendar resources kept by ETag (all are forgotten when there are more)."""
UPCOMING = timedelta(days=366)
"""How far ahead a patient's appointments are looked for."""
ICALENDAR = {"Content-Type": "text/calendar; charset=utf-8"}
QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="{start:%Y%m%dT%H%M%SZ}" end="{end:%Y%m%dT%H%M%SZ}"/>
</C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
"""The events overlapping [start, end) (RFC 4791 calendar-query), with their data."""

T = TypeVar("T")


@dataclass(frozen=True)
class _Resource:
    """A calendar resource as read: the busy times of one single event (`fixed`), or a
    recurring one's, computed for each range (`expand`)."""

    fixed: tuple[_Busy, ...]
    expand: Callable[[datetime, datetime], list[_Busy]] | None = None

    def busy(self, start: datetime, end: datetime) -> list[_Busy]:
        if self.expand is not None:
            return self.expand(start, end)
        return [b for b in self.fixed if b.start < end and start < b.end]


@dataclass(frozen=True)
class _Busy:
    """One busy occurrence of a calendar; `appointment` when frontdesk wrote it."""

    uid: str
    start: datetime
    end: datetime
    appointment: Appointment | None


class CalDAVAgenda:
    """`frontdesk.agenda.Agenda` on a CalDAV server; the directory is frontdesk's store."""

    name = "caldav"

    def __init__(
        self,
        directory: Directory,
        settings: AgendaSettings,
        zone: ZoneInfo,
        *,
        clock: Clock | None = None,
    ) -> None:
        """Reads the password file now (`AgendaUnavailable` if it cannot); connects to
        nothing. `clock`: whose `wall()` stamps the events (None: the real time)."""
        if not settings.caldav_url:
            raise AgendaUnavailable("[agenda] caldav_url is not set")
        self.directory = directory
        self._settings = settings
        self._zone = zone
        self._base = settings.caldav_url.rstrip("/") + "/"
        self._password = _read_password(settings.caldav_password_file)
        self._wall: Callable[[], datetime] = (
            clock.wall if clock is not None else lambda: datetime.now(UTC)
        )
        self._clients = threading.local()
        self._resources: dict[tuple[str, str], _Resource] = {}
        self._searched: RecentReads[list[_Resource]] = RecentReads(
            clock.now if clock is not None else monotonic,
            SEARCH_TRUSTED_S,
            CALENDARS_KEPT,
            SEARCH_READS_KEPT,
        )

    def free_slots(
        self, kind: str, practitioner: str | None, after: datetime, count: int
    ) -> list[Slot]:
        minutes = self._minutes(kind)
        chosen = [p for p in self.directory.practitioners() if practitioner in (None, p.id)]
        until = after + timedelta(days=self._settings.horizon_days)
        found: list[Slot] = []
        start = after
        while start < until and len(found) < count:
            end = min(start + WINDOW, until)
            slots = [s for p in chosen for s in self._slots_of(p, kind, minutes, start, end)]
            found += sorted(slots, key=lambda slot: (slot.start, slot.practitioner))
            start = end
        return found[:count]

    def _slots_of(
        self, practitioner: Practitioner, kind: str, minutes: int, start: datetime, end: datetime
    ) -> list[Slot]:
        """Slots starting in [start, end); busy times are read to the end of the last one."""
        reach = end + timedelta(minutes=minutes)
        busy = [(b.start, b.end) for b in self._searched_busy(practitioner, start, reach)]
        busy += [(a.start, a.end) for a in self.directory.absences(practitioner.id, start, reach)]
        hours = self.directory.consultation_hours(practitioner.id)
        return list(
            free_slots(
                practitioner.id, kind, minutes, hours, busy, after=start, until=end, zone=self._zone
            )
        )

    def _searched_busy(
        self, practitioner: Practitioner, start: datetime, end: datetime
    ) -> list[_Busy]:
        """For a search only (never for a write's check): the busy occurrences in [start, end)
        as a read of the last `SEARCH_TRUSTED_S` seconds found them, else read now."""
        url = self._calendar_url(practitioner)
        resources = self._searched.covering(url, start, end)
        if resources is None:
            first = _midnight(start)
            last = _midnight(end) + timedelta(days=1) + SEARCH_MARGIN
            ticket = self._searched.ticket(url)
            resources = self._call(
                f"reading {url}", self._resources_in, practitioner, url, first, last
            )
            self._searched.keep(url, ticket, first, last, resources)
        return [busy for resource in resources for busy in resource.busy(start, end)]

    def _minutes(self, kind: str) -> int:
        for known in self.directory.appointment_types():
            if known.name == kind:
                return known.minutes
        raise AgendaUnavailable(f"no appointment type {kind!r} in the directory")

    def book(self, slot: Slot, patient: Patient, *, by: str) -> Appointment:
        return self._book(slot, patient, by, replacing=None)

    def _book(self, slot: Slot, patient: Patient, by: str, replacing: str | None) -> Appointment:
        """Check, write with ``If-None-Match: *``, check again (see the module's doc).
        `replacing`: the appointment a move gives up, which does not make the slot busy."""
        practitioner = self._practitioner(slot.practitioner)
        uid = uid_of(slot.practitioner, slot.start)
        appointment = Appointment(
            id=f"{uid}#{secrets.token_hex(4)}",
            practitioner=slot.practitioner,
            start=slot.start,
            end=slot.end,
            kind=slot.kind,
            patient_id=patient.id,
            patient_name=patient.name,
            phone=patient.phone,
            booked_by=by,
        )
        if self.directory.absences(slot.practitioner, slot.start, slot.end):
            raise PractitionerAbsent(f"{slot.practitioner} is absent at {slot.start}")
        mine = {uid} if replacing is None else {uid, _uid(replacing)}
        if self._clashes(practitioner, slot, mine):
            raise SlotTaken(f"{slot.practitioner} is no longer free at {slot.start}")
        href = self._href(practitioner, appointment.id)
        body = booking_event(appointment, self._label(appointment.kind), self._wall())
        etag = self._write(practitioner, f"writing to {href}", self._create, href, body)
        try:
            clash = self._clashes(practitioner, slot, mine)
        except AgendaUnavailable as problem:
            log.warning("agenda.booking_unverified", appointment=appointment.id, error=str(problem))
            return appointment
        if clash:
            self._write(practitioner, f"taking back {href}", self._delete, href, etag)
            raise SlotTaken(f"{slot.practitioner}: another event was written at {slot.start}")
        return appointment

    def _clashes(self, practitioner: Practitioner, slot: Slot, mine: set[str]) -> bool:
        """Whether another event overlaps the slot, read fresh; when one does, the searches'
        reads of the calendar are forgotten (they offered the slot: the next one is read)."""
        busy = self._busy(practitioner, slot.start, slot.end)
        clash = overlaps(slot, [(b.start, b.end) for b in busy if b.uid not in mine])
        if clash:
            self._searched.forget(self._calendar_url(practitioner))
        return clash

    def upcoming(self, patient: Patient, after: datetime) -> list[Appointment]:
        found = self._appointments(after, after + UPCOMING)
        return [a for a in found if a.patient_id == patient.id and a.start >= after]

    def between(self, start: datetime, end: datetime) -> list[Appointment]:
        return [a for a in self._appointments(start, end) if a.start >= start]

    def _appointments(self, start: datetime, end: datetime) -> list[Appointment]:
        found = [
            busy.appointment
            for practitioner in self.directory.practitioners()
            for busy in self._busy(practitioner, start, end)
            if busy.appointment is not None and busy.appointment.start < end
        ]
        return sorted(found, key=lambda a: (a.start, a.practitioner))

    def other_events(self, start: datetime, end: datetime) -> list[OtherEvent]:
        found = [
            OtherEvent(practitioner.id, busy.start, busy.end)
            for practitioner in self.directory.practitioners()
            for busy in self._busy(practitioner, start, end)
            if busy.appointment is None
        ]
        return sorted(found, key=lambda e: (e.start, e.practitioner))

    def appointment(self, appointment_id: str) -> Appointment:
        """Read where its UID says: the practitioner's calendar at its start."""
        booking = BOOKING_UID.fullmatch(_uid(appointment_id))
        practitioner = next((p for p in self.directory.practitioners()
                             if booking is not None and p.id == booking[1]), None)
        if booking is not None and practitioner is not None:
            start = datetime.strptime(booking[2], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            for busy in self._busy(practitioner, start, start + timedelta(minutes=1)):
                if busy.appointment is not None and busy.appointment.id == appointment_id:
                    return busy.appointment
        raise UnknownAppointment(f"no appointment {appointment_id} (or it was cancelled)")

    def cancel(self, appointment: Appointment, *, by: str) -> None:
        practitioner = self._practitioner(appointment.practitioner)
        href = self._href(practitioner, appointment.id)
        self._write(practitioner, f"deleting {href}", self._remove, href, appointment)
        log.info("agenda.cancelled", appointment=appointment.id, by=by)

    def move(self, appointment: Appointment, slot: Slot, *, by: str) -> Appointment:
        if appointment.patient_id is None:
            raise UnknownAppointment(f"appointment {appointment.id} has no patient to move")
        patient = Patient(appointment.patient_id, appointment.patient_name, appointment.phone)
        moved = self._book(slot, patient, by, replacing=appointment.id)
        return finish_move(self, appointment, moved, by=by)

    def confirm(self, appointment: Appointment, *, by: str) -> None:
        practitioner = self._practitioner(appointment.practitioner)
        href = self._href(practitioner, appointment.id)
        self._write(practitioner, f"confirming {href}", self._set_confirmed, href, appointment, by)

    def _practitioner(self, practitioner_id: str) -> Practitioner:
        for practitioner in self.directory.practitioners():
            if practitioner.id == practitioner_id:
                return practitioner
        raise AgendaUnavailable(f"no practitioner {practitioner_id!r} in the directory")

    def _calendar_url(self, practitioner: Practitioner) -> str:
        """`Practitioner.calendar` as a URL, or a path under caldav_url; by default the
        practitioner's id."""
        calendar = practitioner.calendar or practitioner.id
        return urljoin(self._base, calendar.rstrip("/") + "/")

    def _href(self, practitioner: Practitioner, appointment_id: str) -> str:
        return self._calendar_url(practitioner) + quote(_uid(appointment_id), safe="") + ".ics"

    def _busy(self, practitioner: Practitioner, start: datetime, end: datetime) -> list[_Busy]:
        url = self._calendar_url(practitioner)
        return self._call(f"reading {url}", self._read, practitioner, url, start, end)

    def _label(self, kind: str) -> str:
        for known in self.directory.appointment_types():
            if known.name == kind:
                return known.label or known.name
        return kind

    def _write(
        self, practitioner: Practitioner, what: str, work: Callable[..., T], *args: Any
    ) -> T:
        """`_call` of a write to the practitioner's calendar, whose reads for searches are
        forgotten then, whatever came of it (a write that failed may have been done)."""
        try:
            return self._call(what, work, *args)
        finally:
            self._searched.forget(self._calendar_url(practitioner))

    # What runs in the thread pool: HTTP and the parsing of what the server answered.

    def _call(self, what: str, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in gevent's thread pool; a failure is `AgendaUnavailable` naming
        `what` (`SlotTaken` and `UnknownAppointment` go through as they are)."""
        outcome = gevent.get_hub().threadpool.spawn(_attempt, work, *args).get()
        result, problem = cast(tuple[T, Exception | None], outcome)
        if problem is None:
            return result
        if isinstance(problem, SlotTaken | UnknownAppointment | AgendaUnavailable):
            raise problem
        raise AgendaUnavailable(f"CalDAV agenda, {what}: {self._reason(problem)}") from problem

    def _reason(self, problem: Exception) -> str:
        if isinstance(problem, http.exceptions.Timeout):
            return f"no answer within {self._settings.timeout:g} s"
        if isinstance(problem, http.exceptions.ConnectionError):
            errno = re.search(r"\[Errno -?\d+\][^'\")]*", str(problem))
            return f"the connection failed ({errno.group(0) if errno else problem})"
        if isinstance(problem, caldav_error.AuthorizationError):
            return "the server refused the login (caldav_username, caldav_password_file)"
        if isinstance(problem, caldav_error.NotFoundError):
            return "no such calendar on the server"
        if isinstance(problem, caldav_error.DAVError):
            return f"the server answered an error ({problem})"
        return f"the server answered something unreadable ({type(problem).__name__}: {problem})"

    def _client(self) -> DAVClient:
        """This pool thread's client (a client is not shared between threads)."""
        client = getattr(self._clients, "client", None)
        if client is None:
            client = DAVClient(
                url=self._base,
                username=self._settings.caldav_username,
                password=self._password,
                timeout=self._settings.timeout,  # type: ignore[arg-type]  # any float works
                auth_type="basic",  # at once: Radicale makes a request without it wait 1 s
                enable_rfc6764=False,
            )
            self._clients.client = client
        return client

    def _read(
        self, practitioner: Practitioner, url: str, start: datetime, end: datetime
    ) -> list[_Busy]:
        """The busy occurrences in [start, end) of the calendar at `url`: one REPORT."""
        resources = self._resources_in(practitioner, url, start, end)
        return [busy for resource in resources for busy in resource.busy(start, end)]

    def _resources_in(
        self, practitioner: Practitioner, url: str, start: datetime, end: datetime
    ) -> list[_Resource]:
        """The resources of the calendar at `url` with an occurrence in [start, end): one
        REPORT."""
        query = QUERY.format(start=start.astimezone(UTC), end=end.astimezone(UTC))
        response = self._client().report(url, query, depth=1)
        if response.status == 404:
            raise caldav_error.NotFoundError(url)
        _check(response, url)
        if response.status != 207 or response.tree is None:
            raise ValueError(f"HTTP {response.status} without a multistatus body")
        found: list[_Resource] = []
        for result in response.parse_calendar_query():
            if result.calendar_data is None:
                raise ValueError(f"no calendar data for {result.href}")
            found.append(
                self._parsed(practitioner, result.href, result.etag, result.calendar_data)
            )
        return found

    def _parsed(
        self, practitioner: Practitioner, href: str, etag: str | None, data: str
    ) -> _Resource:
        """The resource parsed, once per version (ETag): parsing is most of a search's work."""
        key = (href, etag or "")
        resource = self._resources.get(key) if etag else None
        if resource is None:
            resource = self._parse(practitioner, data)
            if len(self._resources) >= RESOURCES_KEPT:
                self._resources.clear()
            if etag:
                self._resources[key] = resource
        return resource

    def _parse(self, practitioner: Practitioner, data: str) -> _Resource:
        calendar = icalendar.Calendar.from_ical(data)
        events = calendar.events
        if len(events) == 1 and not {"RRULE", "RDATE"} & set(events[0]):
            return _Resource(tuple(self._busy_of(practitioner, e) for e in events if _opaque(e)))
        return _Resource((), lambda start, end: [
            self._busy_of(practitioner, occurrence)
            for occurrence in recurring_ical_events.of(calendar).between(start, end)
            if _opaque(occurrence)
        ])

    def _busy_of(self, practitioner: Practitioner, event: icalendar.Event) -> _Busy:
        uid = str(event["UID"])
        start, end = self._moment(event.start), self._moment(event.end)
        appointment = None
        if X_PATIENT_ID in event:
            appointment = self._appointment(practitioner, uid, start, end, event)
        return _Busy(uid, start, end, appointment)

    def _moment(self, value: date | datetime) -> datetime:
        """A DTSTART/DTEND as an aware datetime: a date is local midnight, a floating time
        is local time."""
        if not isinstance(value, datetime):
            return datetime.combine(value, time(), self._zone)
        return value if value.tzinfo is not None else value.replace(tzinfo=self._zone)

    def _appointment(
        self,
        practitioner: Practitioner,
        uid: str,
        start: datetime,
        end: datetime,
        event: icalendar.Event,
    ) -> Appointment:
        return Appointment(
            id=f"{uid}#{_text(event, X_BOOKING)}",
            practitioner=practitioner.id,
            start=start,
            end=end,
            kind=_text(event, X_KIND),
            patient_id=int(_text(event, X_PATIENT_ID)),
            patient_name=_text(event, X_PATIENT_NAME),
            phone=_text(event, X_PHONE),
            state=_text(event, X_STATE) or ACTIVE,
            booked_by=_text(event, X_BOOKED_BY),
        )

    def _create(self, href: str, body: str) -> str | None:
        """PUT a new event; its ETag. `SlotTaken` if the UID exists (412)."""
        response = self._client().put(href, body, {"If-None-Match": "*", **ICALENDAR})
        if response.status == 412:
            raise SlotTaken(f"{href} exists: the slot was booked meanwhile")
        _check(response, href)
        return response.headers.get("ETag")

    def _delete(self, href: str, etag: str | None) -> None:
        """DELETE an event (only the version `etag` when given)."""
        headers = {"If-Match": etag} if etag else {}
        response = self._client().delete(href, headers)
        if response.status in (404, 412):
            raise UnknownAppointment(f"no appointment at {href} (HTTP {response.status})")
        _check(response, href)

    def _fetch(self, href: str, appointment: Appointment) -> tuple[icalendar.Calendar, str]:
        """The event of `appointment` and its ETag. `UnknownAppointment` if it is gone, or is
        another booking (the slot was cancelled and booked again since)."""
        response = self._client().request(href, "GET")
        if response.status == 404:
            raise UnknownAppointment(f"no appointment at {href}")
        _check(response, href)
        calendar = icalendar.Calendar.from_ical(response.raw)
        bookings = {f"{_uid(appointment.id)}#{_text(e, X_BOOKING)}" for e in calendar.events}
        if bookings != {appointment.id}:
            raise UnknownAppointment(f"{href} is another booking now")
        return calendar, response.headers["ETag"]

    def _remove(self, href: str, appointment: Appointment) -> None:
        self._delete(href, self._fetch(href, appointment)[1])

    def _set_confirmed(self, href: str, appointment: Appointment, by: str) -> None:
        calendar, etag = self._fetch(href, appointment)
        for event in calendar.events:
            for name, value in ((X_STATE, "confirmed"), (X_CONFIRMED_BY, by)):
                event.pop(name, None)
                event.add(name, icalendar.vText(value))
        headers = {"If-Match": etag, **ICALENDAR}
        _check(self._client().put(href, calendar.to_ical().decode("utf-8"), headers), href)


def booking_event(appointment: Appointment, label: str, stamp: datetime) -> str:
    """The iCalendar text of a booking (`appointment.id`: ``<UID>#<token>``); `label`: its
    type as the staff read it."""
    event = icalendar.Event()
    event.add("UID", _uid(appointment.id))
    event.add("DTSTAMP", stamp.astimezone(UTC))
    event.add("DTSTART", appointment.start.astimezone(UTC))
    event.add("DTEND", appointment.end.astimezone(UTC))
    event.add("SUMMARY", f"{label}: {appointment.patient_name}")
    event.add("DESCRIPTION", f"{appointment.phone} (frontdesk, {appointment.booked_by})")
    event.add("STATUS", "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    for name, value in (
        (X_BOOKING, appointment.id.partition("#")[2]),
        (X_PATIENT_ID, str(appointment.patient_id)),
        (X_PATIENT_NAME, appointment.patient_name),
        (X_PHONE, appointment.phone),
        (X_KIND, appointment.kind),
        (X_BOOKED_BY, appointment.booked_by),
        (X_STATE, ACTIVE),
    ):
        event.add(name, icalendar.vText(value))  # escaped: a bare comma would split the value
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//frontdesk//agenda//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def uid_of(practitioner: str, start: datetime) -> str:
    """The UID (and file name) of a booking: the same for every booking of one practitioner
    at one start, so the server can refuse the second (``If-None-Match: *``)."""
    return f"{UID_PREFIX}{practitioner}-{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _uid(appointment_id: str) -> str:
    """The event's UID in an appointment's id (``<UID>#<token>``)."""
    return appointment_id.partition("#")[0]


def _text(event: icalendar.Event, name: str) -> str:
    """An X- property's text, unescaped (icalendar leaves X- properties as it read them)."""
    raw = str(event.get(name, ""))
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m[1] in "nN" else m[1], raw)


def _midnight(moment: datetime) -> datetime:
    """The UTC midnight that begins `moment`'s UTC day."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def _opaque(event: icalendar.Event) -> bool:
    """Whether the event makes its time busy: not cancelled, not transparent."""
    return event.get("STATUS") != "CANCELLED" and event.get("TRANSP") != "TRANSPARENT"


def _attempt(work: Callable[..., T], *args: Any) -> tuple[T | None, Exception | None]:
    """In a pool thread: what `work` returned or raised, for the greenlet to judge (an
    exception raised in the pool would be printed as a crash)."""
    try:
        return work(*args), None
    except Exception as problem:
        return None, problem


def _check(response: Any, href: str) -> None:
    if response.status >= 300:
        raise caldav_error.DAVError(href, f"HTTP {response.status} {response.reason}")


def _read_password(file: Path | None) -> str | None:
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as problem:
        raise AgendaUnavailable(f"cannot read the CalDAV password file {file}: {problem}") from None
