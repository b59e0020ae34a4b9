"""Booking, moving and cancelling by phone: what the flow's `booking` and `appointments` nodes
say and ask.

The caller is found by their number among the patients (`Directory.patients_by_phone`); an
unknown, hidden or shared number is asked for the date of birth on the keypad (from a number
no patient has, also the last four digits of the number on their file). They choose a
practitioner or the first available, hear `slots_offered` free slots read as a person says
them (`frontdesk.speech.appointment`), press one's number and confirm it; the slot is written
at once. A slot booked by someone else meanwhile is detected at write time (`SlotTaken`) and
the next ones are offered. Their upcoming appointments are read back one by one to be
cancelled (after a confirmation) or moved (a new slot chosen as for a booking, then
`Agenda.move`).

Without an agenda to write in (the hand-off adapter, or no [agenda]) nothing is booked: the
caller's wishes (practitioner, half-day, days) and the number to call back are stored as a
`BookingRequest` for the staff, and the caller hears that the desk will call back to confirm.

Every read of the agenda is bounded by ``[agenda] timeout`` (real time: it guards I/O); a
write (book, move, cancel, a request) is waited for, bounded by the adapter's own I/O, so
nothing is written behind a caller told otherwise. An agenda that fails or is too slow is told
to the caller, who is put through to the desk (the node's `then`); it is logged once when it
fails and once when it works again (`AgendaHealth`), not once per call. Sentences are
rendered by the flow's `say` (the queue's announcer); a caller who cannot be spoken to (no
speech synthesis) goes to the desk at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import gevent
import structlog

from frontdesk.agenda import (
    Agenda,
    AgendaError,
    AgendaHealth,
    Appointment,
    BookingRequest,
    Patient,
    Practitioner,
    Slot,
    SlotTaken,
    UnknownAppointment,
    within,
)
from frontdesk.agenda._phone_sentences import SENTENCES
from frontdesk.config.loader import CALLING_CODES
from frontdesk.config.model import AgendaSettings
from frontdesk.esl import CallSession
from frontdesk.queue.callbacks import callback_digits
from frontdesk.speech import appointment as spoken_appointment
from frontdesk.speech import practitioner as spoken_practitioner
from frontdesk.store import Store, StoreError

log = structlog.get_logger(__name__)

KEY_TIMEOUT_MS = 6000
TYPING_TIMEOUT_MS = 12000
INTER_DIGIT_MS = 4000
TRIES = 2
"""Tries of each question: after the second wrong key or silence the caller goes to the desk."""
MAX_PRACTITIONERS = 8
"""Practitioners offered by key (2 to 9; 1 is the first available)."""
NUMBER_ENDING = 4
"""Digits of the number on file that a caller from another number types after their date of
birth."""
FIRST_AVAILABLE = "1"
ANY_DAY = "9"
BY = "phone"
"""`by` of what a caller writes in the agenda."""

_T = TypeVar("_T")
_variables = itertools.count(1)

HALF_DAYS = {"1": "morning", "2": "afternoon", "3": "any"}


@dataclass(frozen=True)
class AgendaLine:
    """What the daemon gives each call for its agenda nodes (the config the call started
    with): the agenda (None: hand-off), the store (the directory, booking requests and the
    call's agenda actions), the settings and the agenda's health (shared by every call)."""

    agenda: Agenda | None
    store: Store
    settings: AgendaSettings
    health: AgendaHealth
    zone: ZoneInfo
    country: str


class _ToDesk(Exception):
    """The conversation ends at the desk (the node's `then`): the caller asked for someone,
    pressed nothing, cannot be served by phone, or the agenda failed."""


@dataclass
class AgendaCall:
    """One caller's conversation at an agenda node. `run_booking` and `run_appointments`
    return the call's outcome ("booked", "moved", "cancelled", "requested"), or None: the
    caller goes to the desk."""

    session: CallSession
    line: AgendaLine
    language: str
    say: Callable[[str], str | None]
    """Renders a sentence; its file, or None when it cannot be spoken."""
    invalid_uri: str
    operator_key: str
    step: Callable[[str, str | None], None]
    """Adds a step (event, key) to the call's path."""
    record: Callable[[str, str | None], None]
    """Stores an agenda action (action, appointment id) with the call."""
    confirm_callback_number: Callable[[], str | None]
    """`frontdesk.conversation.confirm_number` for this call."""
    record_name: Callable[[], str | None]
    """Records the caller saying their name (the call's message file); None: nothing said."""
    now: Callable[[], datetime]

    def __post_init__(self) -> None:
        self.sentences = SENTENCES[self.language]
        self._names: dict[str, str] | None = None
        self._born: date | None = None
        """The date of birth the caller typed, if asked."""

    # -- the nodes -------------------------------------------------------------------------

    def run_booking(self, kind: str) -> str | None:
        try:
            if self.line.agenda is None:
                return self._request(kind)
            return self._book(self.line.agenda, kind)
        except _ToDesk:
            return None

    def run_appointments(self) -> str | None:
        try:
            if self.line.agenda is None:
                return self._request_change()
            return self._change(self.line.agenda)
        except _ToDesk:
            return None

    # -- booking ---------------------------------------------------------------------------

    def _book(self, agenda: Agenda, kind: str) -> str:
        patient = self._identify()
        name_file = None
        if patient is None:
            if self.line.settings.who_may_book != "everyone" or not self._number():
                self._unknown_caller(kind)
            patient, name_file = self._new_patient(kind)
        practitioner = self._choose_practitioner()
        booked = self._settle(
            kind, practitioner, lambda slot: agenda.book(slot, patient, by=BY)
        )
        self.record("booked", booked.id)
        if name_file is not None:
            self._complete_patient(patient, booked, name_file)
        self._tell("booked", appointment=self._spoken(booked.start, booked.practitioner))
        return "booked"

    def _new_patient(self, kind: str) -> tuple[Patient, str]:
        """``who_may_book = "everyone"``: a caller not among the patients says their name;
        they are added with their number (and date of birth) and book like anyone."""
        self._tell("new_patient")
        name_file = self.record_name()
        if name_file is None:
            self._unknown_caller(kind)
        self.step("new_patient", None)
        entry = (self.sentences["placeholder"], self._number(), self._born)
        ((patient, _new),) = self._called(
            self.line.store.add_patients, ([entry],), {}, proves_up=False
        )
        return patient, name_file

    def _complete_patient(self, patient: Patient, booked: Appointment, name_file: str) -> None:
        """Ask the staff to complete a new patient's file (their name is in `name_file`). The
        appointment is written: a store that fails now loses only this reminder (logged)."""
        request = BookingRequest(
            kind=booked.kind, practitioner=booked.practitioner, callback_number=patient.phone,
            call_uuid=self.session.uuid, patient_id=patient.id, appointment_id=booked.id,
            details={"why": "new patient booked by phone: complete their file",
                     "name_recording": name_file},
        )
        try:
            self.line.store.booking_request(request, at=self.now())
        except StoreError as error:
            log.warning("agenda.new_patient_request_lost", call=self.session.uuid,
                        patient=patient.id, error=str(error))

    def _unknown_caller(self, kind: str) -> NoReturn:
        """A caller not found among the patients may not book by phone: the desk takes them,
        with a request in the inbox in case they hang up before anyone answers."""
        self.step("unknown_caller", None)
        number = callback_digits(self.session.caller_number)
        request = BookingRequest(kind=kind, practitioner=None, callback_number=number,
                                 details={"why": "caller not found among the patients"})
        self._store_request(request)
        self._tell("not_found")
        raise _ToDesk

    def _settle(
        self, kind: str, practitioner: str | None, write: Callable[[Slot], Appointment]
    ) -> Appointment:
        """Offer free slots until the caller confirms one that can be written. Slots the
        caller passed over ("other slots") are not offered again; a slot taken meanwhile is
        said, and the next free ones are offered."""
        passed: set[tuple[str, datetime]] = set()
        while True:
            slots = self._next_slots(kind, practitioner, passed)
            if not slots:
                self._tell("no_slots")
                raise _ToDesk
            slot = self._pick(slots)
            if slot is None:
                passed.update((s.practitioner, s.start) for s in slots)
                continue
            try:
                return self._written(write, slot)
            except SlotTaken:
                self.step("slot_taken", None)
                self._tell("taken")
                passed.add((slot.practitioner, slot.start))

    def _next_slots(
        self, kind: str, practitioner: str | None, passed: set[tuple[str, datetime]]
    ) -> list[Slot]:
        agenda, settings = self.line.agenda, self.line.settings
        assert agenda is not None
        after = self.now() + timedelta(minutes=settings.min_notice_minutes)
        wanted = settings.slots_offered
        slots = self._guarded(agenda.free_slots, kind, practitioner, after, len(passed) + wanted)
        return [s for s in slots if (s.practitioner, s.start) not in passed][:wanted]

    def _pick(self, slots: Sequence[Slot]) -> Slot | None:
        """The slot the caller chose and confirmed; None: they want other slots."""
        lines = [self.sentences["slots"]] + [
            self.sentences["slot"].format(
                appointment=self._spoken(slot.start, slot.practitioner), key=index
            )
            for index, slot in enumerate(slots, 1)
        ]
        key = self._choose(" ".join(lines), "".join(str(i) for i in range(1, len(slots) + 1)))
        slot = slots[int(key) - 1]
        chosen = self.sentences["chosen"].format(
            appointment=self._spoken(slot.start, slot.practitioner)
        )
        return slot if self._choose(chosen, "12") == "1" else None

    def _choose_practitioner(self) -> str | None:
        """The practitioner chosen, or None for the first available (also when there is only
        one to choose)."""
        practitioners = self._practitioners()[:MAX_PRACTITIONERS]
        if len(practitioners) < 2:
            return None
        lines = [self.sentences["practitioners"]] + [
            self.sentences["practitioner"].format(
                who=spoken_practitioner(p.name, self.language), key=index
            )
            for index, p in enumerate(practitioners, 2)
        ]
        keys = FIRST_AVAILABLE + "".join(str(i) for i in range(2, len(practitioners) + 2))
        key = self._choose(" ".join(lines), keys)
        return None if key == FIRST_AVAILABLE else practitioners[int(key) - 2].id

    # -- moving and cancelling ---------------------------------------------------------------

    def _change(self, agenda: Agenda) -> str:
        patient = self._identify()
        if patient is None:
            self.step("unknown_caller", None)
            self._tell("not_found")
            raise _ToDesk
        upcoming = self._guarded(agenda.upcoming, patient, self.now())
        if not upcoming:
            self._tell("no_appointments")
            raise _ToDesk
        index = 0
        while True:
            current = upcoming[index]
            spoken = self._spoken(current.start, current.practitioner)
            text = self.sentences["appointment"].format(appointment=spoken)
            keys = "12"
            if len(upcoming) > 1:
                text, keys = f"{text} {self.sentences['next']}", "123"
            key = self._choose(text, keys)
            if key == "1" and self._confirm_cancel(spoken):
                self._cancel(agenda, current)
                return "cancelled"
            if key == "2":
                return self._move(agenda, current)
            if key == "3":
                index = (index + 1) % len(upcoming)

    def _confirm_cancel(self, spoken: str) -> bool:
        return self._choose(self.sentences["cancel"].format(appointment=spoken), "12") == "1"

    def _cancel(self, agenda: Agenda, appointment: Appointment) -> None:
        try:
            self._written(agenda.cancel, appointment, by=BY)
        except UnknownAppointment:
            self._tell("gone")
            raise _ToDesk from None
        self.record("cancelled", appointment.id)
        self._tell("cancelled")

    def _move(self, agenda: Agenda, appointment: Appointment) -> str:
        practitioner = self._choose_practitioner()
        try:
            moved = self._settle(
                appointment.kind, practitioner, lambda slot: agenda.move(appointment, slot, by=BY)
            )
        except UnknownAppointment:
            self._tell("gone")
            raise _ToDesk from None
        self.record("moved", moved.id)
        self._tell("moved", appointment=self._spoken(moved.start, moved.practitioner))
        return "moved"

    # -- hand-off: a request for the staff ---------------------------------------------------

    def _request(self, kind: str) -> str:
        """Ask what the caller wishes (practitioner, half-day, days) and the number to call
        back, store it for the staff; nothing is booked."""
        practitioner = self._choose_practitioner()
        half_day = HALF_DAYS[self._choose(self.sentences["half_day"], "123")]
        days = self._days()
        number = self.confirm_callback_number()
        if number is None:
            raise _ToDesk
        self._store_request(
            BookingRequest(
                kind=kind,
                practitioner=practitioner,
                preferred_days=days,
                preferred_times=half_day,
                callback_number=number,
                patient_id=self._patient_by_number(),
            )
        )
        self._tell("requested")
        return "requested"

    def _request_change(self) -> str:
        action = {"1": "move", "2": "cancel"}[self._choose(self.sentences["change"], "12")]
        number = self.confirm_callback_number()
        if number is None:
            raise _ToDesk
        self._store_request(
            BookingRequest(kind="", practitioner=None, callback_number=number, action=action,
                           patient_id=self._patient_by_number())
        )
        self._tell("requested")
        return "requested"

    def _days(self) -> tuple[int, ...]:
        """Weekdays (0 = Monday) the caller typed; () for any day."""
        typed = self._type(self.sentences["days"], 1, 6, rf"^({ANY_DAY}|[1-6]+)$")
        if typed is None or typed == ANY_DAY:
            return ()
        return tuple(sorted({int(key) - 1 for key in typed}))

    def _patient_by_number(self) -> int | None:
        """The patient the caller's number belongs to, if exactly one (for the staff)."""
        patients = self._looked_up(self.line.store.patients_by_phone, self._number())
        return patients[0].id if len(patients) == 1 else None

    def _store_request(self, request: BookingRequest) -> None:
        request = replace(request, call_uuid=self.session.uuid)
        self._called(self.line.store.booking_request, (request,), {"at": self.now()},
                     proves_up=False)
        self.record("handed_off", None)

    # -- who is calling ----------------------------------------------------------------------

    def _identify(self) -> Patient | None:
        """The patient calling: by their number when it is theirs alone, else by their date
        of birth among those sharing the number. From a number no patient has (or a hidden
        one) a date of birth is not enough: anyone may know it, and the caller would hear
        and change that patient's appointments. The last four digits of the number on the
        patient's file must be typed too."""
        store = self.line.store
        number = self._number()
        by_number = self._looked_up(store.patients_by_phone, number) if number else []
        if len(by_number) == 1:
            self.step("identified", "number")
            return by_number[0]
        born = self._born = self._birth_date()
        if born is None:
            return None
        if by_number:
            matching = [p for p in by_number if p.birth_date == born]
        else:
            born_that_day = self._looked_up(store.patients_by_birth_date, born)
            matching = self._with_number_ending(born_that_day) if born_that_day else []
        if len(matching) != 1:
            return None
        self.step("identified", "birth_date")
        return matching[0]

    def _with_number_ending(self, patients: Sequence[Patient]) -> list[Patient]:
        """Those of `patients` whose number on file ends with the four digits the caller
        types (none when they type nothing)."""
        typed = self._type(self.sentences["number_ending"], NUMBER_ENDING, NUMBER_ENDING,
                           rf"^[0-9]{{{NUMBER_ENDING}}}$")
        if typed is None:
            return []
        return [p for p in patients if len(p.phone) >= NUMBER_ENDING and p.phone.endswith(typed)]

    def _number(self) -> str:
        """The caller's number as the practice dials it (``+33 6…`` -> ``06…`` in France)."""
        digits = callback_digits(self.session.caller_number)
        code = CALLING_CODES.get(self.line.country)
        if code and digits.startswith(f"+{code}"):
            national = digits[len(code) + 1:]
            return national if code == "1" else f"0{national}"
        return digits

    def _birth_date(self) -> date | None:
        for _ in range(TRIES):
            typed = self._type(self.sentences["birth_date"], 8, 8, r"^[0-9]{8}$")
            if typed is None:
                return None
            try:
                return date(int(typed[4:]), int(typed[2:4]), int(typed[:2]))
            except ValueError:
                self.session.execute("playback", self.invalid_uri)
        return None

    # -- speaking and asking -----------------------------------------------------------------

    def _spoken(self, start: datetime, practitioner: str) -> str:
        name = self._practitioner_names().get(practitioner, practitioner)
        return spoken_appointment(start.astimezone(self.line.zone), name, self.language)

    def _practitioners(self) -> list[Practitioner]:
        return self._looked_up(self.line.store.practitioners)

    def _practitioner_names(self) -> dict[str, str]:
        if self._names is None:
            self._names = {p.id: p.name for p in self._practitioners()}
        return self._names

    def _tell(self, sentence: str, **values: str) -> None:
        uri = self.say(self.sentences[sentence].format(**values))
        if uri is not None:
            self.session.execute("playback", uri)

    def _choose(self, text: str, keys: str) -> str:
        """The key the caller pressed among `keys`; the operator key, or no valid key after
        `TRIES` tries, ends the conversation at the desk."""
        uri = self.say(text)
        if uri is None:
            raise _ToDesk
        accepted = keys + self.operator_key
        for _ in range(TRIES):
            key, outcome = self.session.read_digits(
                uri, variable=_variable(), regex=f"^[{_escaped(accepted)}]$",
                timeout_ms=KEY_TIMEOUT_MS,
            )
            if key is not None:
                self.step("key", key)
                if key == self.operator_key and key not in keys:  # else the option wins
                    raise _ToDesk
                return key
            self.step(outcome, None)
            if outcome == "invalid":
                self.session.execute("playback", self.invalid_uri)
        raise _ToDesk

    def _type(self, text: str, least: int, most: int, regex: str) -> str | None:
        """Digits typed after `text` (ended by # or the last digit); None after silence."""
        uri = self.say(text)
        if uri is None:
            raise _ToDesk
        for _ in range(TRIES):
            typed, outcome = self.session.read_digits(
                uri, variable=_variable(), regex=regex, timeout_ms=TYPING_TIMEOUT_MS,
                min_digits=least, max_digits=most, inter_digit_ms=INTER_DIGIT_MS,
            )
            if typed is not None:
                self.step("typed", None)  # a date of birth is not kept in the path
                return typed
            self.step(outcome, None)
            if outcome == "invalid":
                self.session.execute("playback", self.invalid_uri)
        return None

    def _guarded(self, operation: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """A read of the agenda, within ``[agenda] timeout``."""
        with self._limit():
            return self._called(operation, args, kwargs, proves_up=True)

    def _looked_up(self, operation: Callable[..., _T], *args: Any) -> _T:
        """A read of the directory (practitioners, patients), within ``[agenda] timeout``.
        It may work while the agenda's appointments do not: it says nothing of the agenda's
        recovery."""
        with self._limit():
            return self._called(operation, args, {}, proves_up=False)

    def _written(self, operation: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """A write, waited for and never cut short (the adapter bounds its own I/O): a caller
        is never told "not booked" about an appointment written a moment later."""
        return self._called(operation, args, kwargs, proves_up=True)

    def _limit(self) -> gevent.Timeout:
        return within(self.line.settings.timeout)

    def _called(
        self, operation: Callable[..., _T], args: tuple, kwargs: dict[str, Any], *,
        proves_up: bool,
    ) -> _T:
        """`operation`; a failing agenda (or store) is said to the caller, who goes to the
        desk. SlotTaken and UnknownAppointment are the caller's business and pass through."""
        try:
            value = operation(*args, **kwargs)
        except (SlotTaken, UnknownAppointment):
            self.line.health.worked()
            raise
        except (AgendaError, StoreError) as error:
            self.line.health.failed(error)
            self.step("agenda_unavailable", None)
            self._tell("unreachable")
            raise _ToDesk from error
        if proves_up:
            self.line.health.worked()
        return value


def _variable() -> str:
    return f"fd_agenda_{next(_variables)}"


def _escaped(keys: str) -> str:
    return "".join("\\" + key if key in "*#" else key for key in keys)
