"""The built-in agenda: appointments in frontdesk's own database, next to the directory.

Booking is atomic in the store (`Store.book_appointment`): the overlap check and the write are
one transaction holding SQLite's write lock, so two callers, or a caller and the desk's
`frontdesk agenda book`, cannot both get the same time. Reads give up after `[agenda]
timeout` (the caller is sent to the desk); writes are waited for, however long SQLite's own
lock wait takes, so a caller is never told "not booked" about an appointment written a moment
later.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import gevent

from frontdesk.agenda import (
    AgendaUnavailable,
    Appointment,
    Directory,
    OtherEvent,
    Patient,
    Slot,
    UnknownAppointment,
)
from frontdesk.agenda._move import finish_move
from frontdesk.agenda.slots import free_slots
from frontdesk.clock import Clock
from frontdesk.config.model import AgendaSettings
from frontdesk.store import Store, StoreError


class BuiltinAgenda:
    """`frontdesk.agenda.Agenda` on the store; `directory` is the store itself."""

    name = "builtin"

    def __init__(
        self, store: Store, settings: AgendaSettings, zone: ZoneInfo, *, clock: Clock | None = None
    ) -> None:
        """`clock`: whose `wall()` stamps bookings and cancellations (the daemon's, so a
        rehearsal on virtual time stamps virtual times); None: the real time."""
        self.directory: Directory = store
        self._store = store
        self._settings = settings
        self._zone = zone
        self._wall: Callable[[], datetime] = (
            clock.wall if clock is not None else lambda: datetime.now(UTC)
        )

    def free_slots(
        self, kind: str, practitioner: str | None, after: datetime, count: int
    ) -> list[Slot]:
        with self._reading():
            minutes = self._minutes(kind)
            until = after + timedelta(days=self._settings.horizon_days)
            chosen = [
                doctor.id
                for doctor in self._store.practitioners()
                if practitioner is None or doctor.id == practitioner
            ]
            streams = [self._slots_of(doctor, kind, minutes, after, until) for doctor in chosen]
            merged = heapq.merge(*streams, key=lambda slot: (slot.start, slot.practitioner))
            return list(itertools.islice(merged, count))

    def _slots_of(
        self, practitioner: str, kind: str, minutes: int, after: datetime, until: datetime
    ) -> Iterator[Slot]:
        busy = self._store.booked_times(practitioner, after, until)
        busy += [(a.start, a.end) for a in self._store.absences(practitioner, after, until)]
        hours = self._store.consultation_hours(practitioner)
        return free_slots(
            practitioner, kind, minutes, hours, busy, after=after, until=until, zone=self._zone
        )

    def _minutes(self, kind: str) -> int:
        for known in self._store.appointment_types():
            if known.name == kind:
                return known.minutes
        raise AgendaUnavailable(f"no appointment type {kind!r} in the directory")

    def book(self, slot: Slot, patient: Patient, *, by: str) -> Appointment:
        with self._writing():
            return self._store.book_appointment(
                slot.practitioner, slot.start, slot.end, slot.kind, patient.id,
                by=by, at=self._wall(),
            )

    def upcoming(self, patient: Patient, after: datetime) -> list[Appointment]:
        with self._reading():
            return self._store.upcoming_appointments(patient.id, after)

    def between(self, start: datetime, end: datetime) -> list[Appointment]:
        with self._reading():
            return self._store.appointments_between(start, end)

    def other_events(self, start: datetime, end: datetime) -> list[OtherEvent]:
        return []

    def appointment(self, appointment_id: str) -> Appointment:
        with self._reading():
            found = self._store.get_appointment(_row_id(appointment_id))
        if found is None or found.state == "cancelled":
            raise UnknownAppointment(f"no appointment {appointment_id} (or it was cancelled)")
        return found

    def cancel(self, appointment: Appointment, *, by: str) -> None:
        with self._writing():
            self._store.cancel_appointment(_row_id(appointment.id), by=by, at=self._wall())

    def move(self, appointment: Appointment, slot: Slot, *, by: str) -> Appointment:
        if appointment.patient_id is None:
            raise UnknownAppointment(f"appointment {appointment.id} has no patient to move")
        with self._writing():
            moved = self._store.book_appointment(
                slot.practitioner, slot.start, slot.end, slot.kind, appointment.patient_id,
                by=by, at=self._wall(),
            )
        return finish_move(self, appointment, moved, by=by)

    def confirm(self, appointment: Appointment, *, by: str) -> None:
        with self._writing():
            self._store.confirm_appointment(_row_id(appointment.id), by=by, at=self._wall())

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A read: at most `[agenda] timeout`; a database in trouble is an unavailable
        agenda."""
        late = AgendaUnavailable(f"the agenda did not answer within {self._settings.timeout} s")
        with gevent.Timeout(self._settings.timeout, late), self._writing():
            yield

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except (StoreError, sqlite3.Error) as error:
            raise AgendaUnavailable(f"the built-in agenda cannot be used: {error}") from error


def _row_id(appointment_id: str) -> int:
    try:
        return int(appointment_id)
    except ValueError:
        raise UnknownAppointment(f"no appointment {appointment_id!r}") from None
