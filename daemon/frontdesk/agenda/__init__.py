"""The practice's agenda behind one interface: free slots, booking, moving, cancelling.

Three adapters implement `Agenda`:

- ``builtin`` (`frontdesk.agenda.builtin`): appointments in the daemon's own SQLite database;
- ``caldav`` (`frontdesk.agenda.caldav`): one calendar per practitioner on a CalDAV server;
- ``handoff`` (`frontdesk.agenda.handoff`): agendas with no API. Nothing is booked and there
  is no `Agenda` object: the caller's request is recorded as a `BookingRequest` for the staff
  (the inbox), who confirm by phone. The other adapters hand off too, for callers who may not
  book by phone (a new patient when only known patients may).

What every adapter shares is the practice's *directory*, kept in frontdesk's database and
managed with `frontdesk agenda …`: the practitioners, their weekly consultation hours, the
appointment types with their length, absences, and the patients (number, name, date of birth).
Free slots are always the practitioner's hours minus absences minus what is already booked
(`frontdesk.agenda.slots.free_slots`); only where the booked appointments live differs.

Times are timezone-aware `datetime` objects; hours and absences are local times of the
practice (`[practice] timezone`).

Errors: `SlotTaken` when a slot was booked by someone else between the offer and the write
(the caller is offered the next one); `AgendaUnavailable` when the agenda cannot be reached,
is too slow, or answers nonsense (the caller is told and sent to the desk). Nothing is left
half-written: a move books the new slot before it cancels the old one, and gives the new slot
back if the cancel fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import gevent
import structlog

if TYPE_CHECKING:
    from frontdesk.clock import Clock
    from frontdesk.config.model import Config
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ACTIVE = "booked"
STATES = ("booked", "confirmed", "cancelled")
"""An appointment's state: booked (by phone, by hand or synchronised), confirmed by the patient
(reminder call), cancelled (its slot is free again)."""


class AgendaError(Exception):
    """Base class of the agenda's errors."""


class AgendaUnavailable(AgendaError):
    """The agenda cannot be reached, was too slow, or answered something unreadable."""


class SlotTaken(AgendaError):
    """The slot was booked by someone else since it was offered."""


class PractitionerAbsent(SlotTaken):
    """The slot falls in an absence of the practitioner added since it was offered."""


class UnknownAppointment(AgendaError, KeyError):
    """No such appointment (or no longer: cancelled meanwhile)."""


@dataclass(frozen=True)
class Practitioner:
    id: str
    """Short name of letters, digits, '-' and '_' (``martin``): used in commands and URLs."""
    name: str
    """As the caller hears it: "Docteur Martin"."""
    calendar: str | None = None
    """CalDAV adapter: the practitioner's calendar (a URL, or a path under [agenda]
    caldav_url). Unused by the other adapters."""


@dataclass(frozen=True)
class ConsultationHours:
    """One range of a practitioner's weekly template: on `weekday` (0 = Monday), from `start`
    to `end`, local time."""

    practitioner: str
    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class AppointmentType:
    name: str
    """``consultation``, ``long``, …"""
    minutes: int
    label: str = ""
    """As the staff read it; the name when empty."""


@dataclass(frozen=True)
class Absence:
    practitioner: str
    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True)
class Patient:
    id: int
    name: str
    phone: str
    """Digits only, as dialled from the practice (``0612345678``)."""
    birth_date: date | None = None


@dataclass(frozen=True)
class Slot:
    """A free time for one appointment of `kind` with `practitioner`."""

    practitioner: str
    start: datetime
    end: datetime
    kind: str


@dataclass(frozen=True)
class Appointment:
    id: str
    """The adapter's own id (the built-in row id; CalDAV: ``<event UID>#<booking token>``)."""
    practitioner: str
    start: datetime
    end: datetime
    kind: str
    patient_id: int | None
    patient_name: str = ""
    phone: str = ""
    state: str = ACTIVE
    booked_by: str = ""
    """Who wrote it: ``phone`` (the caller), ``reminder``, ``cli:<user>``, … ; empty for an
    event another agenda wrote."""


@dataclass(frozen=True)
class OtherEvent:
    """A time another agenda made busy in a practitioner's calendar (CalDAV): what it is and
    who it is with are not frontdesk's to show."""

    practitioner: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BookingRequest:
    """What a caller asked for when the agenda cannot be booked by phone (hand-off adapter, or
    a new patient when only known patients may book): the staff confirm by calling back."""

    kind: str
    practitioner: str | None
    """None: the first available."""
    preferred_days: tuple[int, ...] = ()
    """Weekdays (0 = Monday); empty: any day."""
    preferred_times: str = "any"
    """``morning``, ``afternoon`` or ``any``."""
    callback_number: str = ""
    call_uuid: str | None = None
    patient_id: int | None = None
    action: str = "book"
    """``book``, ``move`` or ``cancel``."""
    appointment_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)


class Directory(Protocol):
    """The practice's directory (frontdesk's database, through `frontdesk.store`)."""

    def practitioners(self) -> list[Practitioner]: ...

    def consultation_hours(self, practitioner: str) -> list[ConsultationHours]: ...

    def appointment_types(self) -> list[AppointmentType]: ...

    def absences(self, practitioner: str, start: datetime, end: datetime) -> list[Absence]: ...

    def patients_by_phone(self, phone: str) -> list[Patient]: ...

    def patients_by_birth_date(self, birth_date: date) -> list[Patient]: ...

    def get_patient(self, patient_id: int) -> Patient | None: ...


class Agenda(Protocol):
    """Where appointments are booked. Every method may raise `AgendaUnavailable`."""

    name: str
    """``builtin`` or ``caldav``."""
    directory: Directory

    def free_slots(
        self, kind: str, practitioner: str | None, after: datetime, count: int
    ) -> list[Slot]:
        """The first `count` free slots of `kind` starting at or after `after`, soonest
        first; `practitioner` None: any practitioner (the first available)."""
        ...

    def book(self, slot: Slot, patient: Patient, *, by: str) -> Appointment:
        """Write the appointment now. `SlotTaken` if `slot` is no longer free."""
        ...

    def upcoming(self, patient: Patient, after: datetime) -> list[Appointment]:
        """The patient's appointments (not cancelled) starting after `after`, soonest
        first."""
        ...

    def between(self, start: datetime, end: datetime) -> list[Appointment]:
        """Every appointment (not cancelled) starting in [start, end), soonest first."""
        ...

    def other_events(self, start: datetime, end: datetime) -> list[OtherEvent]:
        """The busy times overlapping [start, end) that are no appointment of frontdesk's
        (events another agenda wrote), soonest first; the built-in agenda has none."""
        ...

    def appointment(self, appointment_id: str) -> Appointment:
        """The appointment (not cancelled) of that id. `UnknownAppointment` if there is none
        (or it was cancelled)."""
        ...

    def cancel(self, appointment: Appointment, *, by: str) -> None:
        """Cancel it; its slot is free at once. `UnknownAppointment` if it is gone."""
        ...

    def move(self, appointment: Appointment, slot: Slot, *, by: str) -> Appointment:
        """Book `slot` for the same patient, then cancel `appointment`. `SlotTaken`: nothing
        changed."""
        ...

    def confirm(self, appointment: Appointment, *, by: str) -> None:
        """The patient confirmed they will come (a reminder call's answer)."""
        ...


class AgendaHealth:
    """Whether the agenda worked last time, shared by the calls and the reminder calls: its
    first failure and its recovery are logged, not every call that meets it down."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, error: Exception) -> None:
        if not self.down:
            self.down = True
            log.error("agenda.unavailable", error=str(error))

    def worked(self) -> None:
        if self.down:
            self.down = False
            log.info("agenda.recovered")


def within(seconds: float) -> gevent.Timeout:
    """Bounds a read of the agenda by ``[agenda] timeout`` (real time: it waits for I/O). A
    write is never cut short: nobody is told "not written" about what is written a moment
    later; the adapter bounds its own I/O."""
    return gevent.Timeout(seconds, AgendaUnavailable(f"no answer within {seconds:g} s"))


def not_ready(config: Config, directory: Directory) -> list[str]:
    """What keeps every caller from booking by phone although the flow has agenda nodes: an
    appointment type of a booking node missing from the directory, no practitioner, or none
    with consultation hours. Each problem says the command that fixes it."""
    from frontdesk.config.model import AppointmentsNode, BookingNode

    settings = config.agenda
    nodes = config.flow.nodes.values()
    if settings is None or settings.adapter == "handoff":
        return []
    if not any(isinstance(node, BookingNode | AppointmentsNode) for node in nodes):
        return []
    kinds = {node.kind for node in nodes if isinstance(node, BookingNode)}
    known = {kind.name for kind in directory.appointment_types()}
    problems = [
        f"appointment type {kind!r} of a booking node is not in the directory: "
        f"frontdesk agenda type add {kind} MINUTES"
        for kind in sorted(kinds - known)
    ]
    practitioners = directory.practitioners()
    if not practitioners:
        problems.append("no practitioner in the directory: frontdesk agenda practitioner add")
    elif not any(directory.consultation_hours(p.id) for p in practitioners):
        problems.append("no practitioner has consultation hours: frontdesk agenda hours")
    return problems


def open_agenda(config: Config, store: Store, clock: Clock | None = None) -> Agenda | None:
    """The agenda the config names; None without [agenda] or with the hand-off adapter (the
    flow then records requests for the staff). `clock`: the daemon's (when a booking was made,
    how long a CalDAV search may reuse what it read). The store is the directory, and the built-in
    agenda's appointments. Opening connects to nothing: an unreachable
    CalDAV server shows on the first call that needs it."""
    settings = config.agenda
    if settings is None or settings.adapter == "handoff":
        return None
    zone = ZoneInfo(config.practice.timezone)
    if settings.adapter == "caldav":
        from frontdesk.agenda.caldav import CalDAVAgenda

        return CalDAVAgenda(store, settings, zone, clock=clock)
    from frontdesk.agenda.builtin import BuiltinAgenda

    return BuiltinAgenda(store, settings, zone, clock=clock)
