"""The SQLite database: its schema, its migrations, and every read and write of it.

This is the only module that speaks SQL (a test keeps it that way).

Durability: the database runs in WAL mode with ``synchronous=FULL``, so a call record that was
committed survives a power cut on the SD card. Every statement runs in ONE dedicated worker OS
thread owned by the `Store` (a one-thread `gevent.threadpool.ThreadPool`), in the order the
methods were called: a write that records something is queued and the caller goes on (no
caller waits for the disk, a lock or a full card); a greenlet that reads blocks only itself,
and the gevent hub keeps serving the other calls. Writes the database cannot take now are kept
in memory, bounded, and written in order when it can (see `Store`). The same object works from
a plain CLI process (gevent then simply waits for the worker). Methods must be called from the
OS thread that created the Store.

Timestamps are stored as ISO-8601 UTC text with milliseconds and a ``Z`` suffix
(``2026-11-27T09:15:02.123Z``): fixed width, so text order is time order, readable in the
``sqlite3`` shell, and understood by SQLite's date functions (``julianday``, ``unixepoch``).
The Python API takes and returns timezone-aware `datetime` objects.

Migrations are named functions in `MIGRATIONS`, applied in order, each once, inside its own
transaction together with the row that records it in ``_migrations`` (name, applied_at). Append
new ones at the end; never edit or reorder one that has shipped.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import gevent.lock
import structlog
from gevent.threadpool import ThreadPool
from sqlite_utils import Database
from sqlite_utils.db import Table

from frontdesk.agenda import (
    ACTIVE,
    Absence,
    Appointment,
    AppointmentType,
    BookingRequest,
    ConsultationHours,
    Patient,
    Practitioner,
    PractitionerAbsent,
    SlotTaken,
    UnknownAppointment,
)
from frontdesk.clock import Clock
from frontdesk.config.model import OUTCOMES, OVERRIDE_MODES

log = structlog.get_logger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another process's write lock (the CLI, say) before failing."""
MAX_PENDING_WRITES = 20_000
"""Writes kept in memory while the database cannot take them (a busy day of calls, at most a
few tens of megabytes); beyond, the oldest are dropped."""
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
"""Seconds between two tries of the writes that failed: doubling from the first to the max."""

Migration = Callable[[Database], None]
_T = TypeVar("_T")


class StoreError(Exception):
    """Base class of the errors raised by the store."""


class StoreClosed(StoreError):
    """The store was used after `Store.close`."""


class StoreUnavailable(StoreError):
    """The database cannot do this now (it cannot be opened, or writes are failing); the
    message says why."""


class AlreadyRunning(StoreError):
    """Another frontdesk daemon holds the database's lock."""

    def __init__(self, pid: int | None) -> None:
        holder = f" (pid {pid})" if pid else ""
        super().__init__(f"another frontdesk is running with this database{holder}")
        self.pid = pid


class MigrationError(StoreError):
    """A migration failed; its changes were rolled back and it stays pending."""

    def __init__(self, name: str) -> None:
        super().__init__(f"migration {name!r} failed and was rolled back")
        self.name = name


class UnknownCallError(StoreError, KeyError):
    """No call with this uuid was started."""


class DuplicateCallError(StoreError):
    """A call with this uuid was already started."""


class UnknownPractitioner(StoreError, ValueError):
    """No active practitioner has this id."""


class UnknownPatient(StoreError, ValueError):
    """No patient has this id."""


STAFF_EVENTS = ("login", "logout")
AGENDA_ACTIONS = ("booked", "moved", "cancelled", "confirmed", "handed_off")
"""What a call did in the agenda (`Store.agenda_action`): ``handed_off`` is a request stored
for the staff (frontdesk.agenda.BookingRequest)."""
SHORT_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""What a practitioner's id and an appointment type's name may be: they are typed in commands
and used in URLs."""


@dataclass(frozen=True)
class StaffEvent:
    """A staff member logging in or out at a desk phone."""

    extension: str
    event: str
    """One of STAFF_EVENTS."""
    at: datetime


@dataclass(frozen=True)
class Override:
    """A manual schedule override set from the desk: in force until `until` (or until cleared)."""

    mode: str
    """One of OVERRIDE_MODES."""
    until: datetime | None
    set_at: datetime
    set_by: str


@dataclass(frozen=True)
class ConsoleUser:
    """An account of the web console (`frontdesk users`)."""

    name: str
    password_hash: str
    created_at: datetime
    changed_at: datetime


@dataclass(frozen=True)
class ConsoleSession:
    """A user logged in to the web console, found by the hash of their cookie's token."""

    token_hash: str
    user: str
    csrf: str
    """The token every form of this session must send back (frontdesk.console.auth)."""
    created_at: datetime
    expires_at: datetime
    extension: str | None
    """The desk phone the user said is theirs: "call back now" rings it."""


@dataclass(frozen=True)
class ConsoleAction:
    """Something a user did in the web console."""

    at: datetime
    user: str
    action: str
    target: str | None
    detail: str | None


REMINDER_STATES = (
    "pending", "calling", "confirmed", "cancelled", "answered", "no_answer", "failed", "skipped"
)
"""pending: to call (first time, or again after no answer); calling: a call is being placed or
under way; confirmed / cancelled: the patient's answer (written to the agenda); answered: the
patient heard the reminder and kept the appointment without confirming it; no_answer: every
attempt went unanswered; failed: the call could not be made (or was cut by a restart: never
placed twice); skipped: the appointment was cancelled or moved before the call."""


@dataclass(frozen=True)
class Reminder:
    """One appointment's reminder call (frontdesk.agenda.reminders)."""

    id: int
    appointment_id: str
    run_date: str
    """The local date (YYYY-MM-DD) of the run that calls it."""
    starts_at: datetime
    practitioner: str
    patient_name: str
    number: str
    state: str
    """One of REMINDER_STATES."""
    attempts: int
    next_attempt_at: datetime | None
    last_result: str | None
    """Why the last attempt ended (NO_ANSWER, USER_BUSY, the key pressed...)."""
    answer: str | None
    """The keys the patient pressed (``1``, ``2`` then ``1``...)."""
    last_attempt_at: datetime | None
    ended_at: datetime | None


CALLBACK_STATES = ("pending", "completed", "failed", "done")
"""pending: waiting for its turn or a retry; completed: staff and patient were connected;
failed: every attempt failed (the staff's list); done: marked done by the staff."""
SERVED_OUTCOMES = ("answered", "transferred", "emergency_answered")
"""Outcomes of a call in which the patient spoke to someone."""
CALLBACK_REASONS = ("requested", "missed")
"""requested: the patient asked for it on hold; missed: the patient hung up after waiting (or
left the voicemail without a message) and the practice calls them back (queue.call_back_missed)."""


@dataclass(frozen=True)
class CallbackRequest:
    """A patient waiting in the queue who asked to be called back instead."""

    id: int
    call_uuid: str
    number: str
    call_started_at: datetime
    """When their call began: their place in the queue."""
    requested_at: datetime
    extensions: tuple[str, ...]
    """The staff phones of the queue they were waiting for."""
    state: str
    """One of CALLBACK_STATES."""
    attempts: int
    next_attempt_at: datetime | None
    last_result: str | None
    """Cause of the last failed attempt (NO_ANSWER, USER_BUSY...), or the staff extension."""
    completed_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    """Who marked it done; for a completed one, the receptionist who called back now
    (``console:<user>``), None when the daemon placed it."""
    reason: str = "requested"
    """One of CALLBACK_REASONS."""


@dataclass(frozen=True)
class MissedCall:
    """A patient who hung up after waiting in the queue and was not served since."""

    call_uuid: str
    """Their latest such call."""
    caller_number: str
    caller_name: str
    started_at: datetime
    waited: float
    """Seconds they waited in the queue before hanging up (latest call)."""
    calls: int
    """How many such calls from this number."""


BOOKING_ACTIONS = ("book", "move", "cancel")
PREFERRED_TIMES = ("morning", "afternoon", "any")


@dataclass(frozen=True)
class FiledBookingRequest:
    """A caller's `BookingRequest` as the staff find it in the inbox."""

    id: int
    request: BookingRequest
    created_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None


# --- timestamps and JSON ------------------------------------------------------------------


def _ts(when: datetime) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {when!r}")
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _ts_or_none(when: datetime | None) -> str | None:
    return None if when is None else _ts(when)


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return _ts(value)
    raise TypeError(f"cannot store {type(value).__name__} in a call path")


def _encode_path(path: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(
        [dict(step) for step in path],
        default=_json_default,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _decode_call(row: dict[str, Any]) -> dict[str, Any]:
    call = dict(row)
    for column in ("started_at", "answered_at", "ended_at", "recording_purged_at", "last_seen_at"):
        call[column] = _dt(call[column])
    call["path"] = json.loads(call["path"])
    call["interrupted"] = bool(call["interrupted"])
    return call


def _check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}, must be one of {', '.join(OUTCOMES)}")


# --- migrations (each runs in the worker thread, inside a transaction) --------------------


def m001_calls(db: Database) -> None:
    """One row per call, created as the call arrives and completed when it ends."""
    calls = _table(db, "calls")
    calls.create(
        {
            "uuid": str,
            "caller_number": str,
            "caller_name": str,
            "destination": str,
            "started_at": str,
            "answered_at": str,
            "ended_at": str,
            "schedule_state": str,
            "schedule_detail": str,
            "config_version": str,
            "path": str,
            "reason": str,
            "outcome": str,
            "hangup_cause": str,
            "answered_by": str,
            "message_file": str,
            "interrupted": int,
        },
        pk="uuid",
        not_null={
            "caller_number",
            "caller_name",
            "destination",
            "started_at",
            "schedule_state",
            "schedule_detail",
            "config_version",
            "path",
            "interrupted",
        },
        defaults={"schedule_detail": "", "path": "[]", "interrupted": 0},
    )
    calls.create_index(["started_at"])


def m002_overrides(db: Database) -> None:
    """History of manual overrides; the latest row is the one in force (mode NULL = automatic)."""
    _table(db, "overrides").create(
        {"id": int, "set_at": str, "mode": str, "until": str, "set_by": str},
        pk="id",
        not_null={"set_at", "set_by"},
    )


def m003_queue_staff_states(db: Database) -> None:
    """Every change of a staff phone's state (frontdesk.queue), with its time."""
    states = _table(db, "staff_states")
    states.create(
        {"id": int, "at": str, "extension": str, "state": str, "registered": int,
         "logged_in": int},
        pk="id",
        not_null={"at", "extension", "state", "registered", "logged_in"},
    )
    states.create_index(["extension", "id"])


def m004_queue_events(db: Database) -> None:
    """What happened to a call in the front-desk queue (entered, offered, answered...), with
    the wait so far in seconds: waits and handle times can be recomputed from this alone."""
    events = _table(db, "queue_events")
    events.create(
        {"id": int, "call_uuid": str, "at": str, "event": str, "extension": str,
         "wait": float, "detail": str},
        pk="id",
        not_null={"call_uuid", "at", "event"},
    )
    events.create_index(["call_uuid"])
    events.create_index(["at"])


def m005_call_recordings(db: Database) -> None:
    """A call's recording (frontdesk.recording): its file, the purpose it was recorded for,
    and when the retention purge deleted it (the file name is then cleared)."""
    calls = _table(db, "calls")
    for column in ("recording_file", "recording_purpose", "recording_purged_at"):
        calls.add_column(column, str)


def m006_staff_events(db: Database) -> None:
    """Staff logins and logouts at the front desk (feature codes dialled from a desk phone)."""
    events = _table(db, "staff_events")
    events.create(
        {"id": int, "at": str, "extension": str, "event": str},
        pk="id",
        not_null={"at", "extension", "event"},
    )
    events.create_index(["extension", "id"])


def m007_callbacks(db: Database) -> None:
    """Callback requests (frontdesk.queue.callbacks): the number to call, the time the call
    began (its place in the queue), attempts and their last result, and the staff's follow-up
    marks; missed patients marked done by the staff (``missed_done``)."""
    callbacks = _table(db, "callbacks")
    callbacks.create(
        {"id": int, "call_uuid": str, "number": str, "call_started_at": str,
         "requested_at": str, "extensions": str, "state": str, "attempts": int,
         "next_attempt_at": str, "last_result": str, "completed_at": str, "done_at": str,
         "done_by": str},
        pk="id",
        not_null={"call_uuid", "number", "call_started_at", "requested_at", "extensions",
                  "state", "attempts"},
        defaults={"attempts": 0},
    )
    callbacks.create_index(["state"])
    _table(db, "missed_done").create(
        {"call_uuid": str, "done_at": str, "done_by": str},
        pk="call_uuid",
        not_null={"done_at", "done_by"},
    )


def m008_callback_reason(db: Database) -> None:
    """Why a callback is placed: asked for on hold, or a missed patient called back."""
    _table(db, "callbacks").add_column("reason", str, not_null_default="requested")


def m009_r_call_last_seen(db: Database) -> None:
    """The last moment the daemon knew a call was up (its start, each step of its path, the
    daemon's stop): the end of the call's record if the daemon loses it."""
    _table(db, "calls").add_column("last_seen_at", str)


def m010_agenda(db: Database) -> None:
    """The practice's directory (practitioners, their weekly hours, appointment types,
    absences, patients) and the built-in agenda's appointments (frontdesk.agenda). Hours are
    local "HH:MM" of the practice; absences and appointments are UTC timestamps."""
    _table(db, "practitioners").create(
        {"id": str, "name": str, "calendar": str, "active": int},
        pk="id", not_null={"name", "active"}, defaults={"active": 1},
    )
    hours = _table(db, "consultation_hours")
    hours.create(
        {"id": int, "practitioner": str, "weekday": int, "start": str, "end": str},
        pk="id", not_null={"practitioner", "weekday", "start", "end"},
    )
    hours.create_index(["practitioner", "weekday"])
    _table(db, "appointment_types").create(
        {"name": str, "minutes": int, "label": str},
        pk="name", not_null={"minutes", "label"}, defaults={"label": ""},
    )
    absences = _table(db, "absences")
    absences.create(
        {"id": int, "practitioner": str, "start": str, "end": str, "reason": str},
        pk="id", not_null={"practitioner", "start", "end", "reason"}, defaults={"reason": ""},
    )
    absences.create_index(["practitioner", "start"])
    patients = _table(db, "patients")
    patients.create(
        {"id": int, "name": str, "phone": str, "birth_date": str},
        pk="id", not_null={"name", "phone"},
    )
    patients.create_index(["phone"])
    patients.create_index(["birth_date"])
    appointments = _table(db, "appointments")
    appointments.create(
        {"id": int, "practitioner": str, "start": str, "end": str, "kind": str,
         "patient_id": int, "state": str, "booked_by": str, "booked_at": str,
         "cancelled_by": str, "cancelled_at": str, "confirmed_by": str, "confirmed_at": str,
         "call_uuid": str},
        pk="id",
        not_null={"practitioner", "start", "end", "kind", "state", "booked_by", "booked_at"},
    )
    appointments.create_index(["practitioner", "start"])
    appointments.create_index(["patient_id"])
    appointments.create_index(["start"])


def m011_inbox(db: Database) -> None:
    """The staff's inbox: booking requests callers left for the desk to confirm (the hand-off
    agenda), and which messages the staff dealt with (``message_done``, keyed by the call)."""
    requests = _table(db, "booking_requests")
    requests.create(
        {"id": int, "created_at": str, "kind": str, "practitioner": str,
         "preferred_days": str, "preferred_times": str, "callback_number": str,
         "call_uuid": str, "patient_id": int, "action": str, "appointment_id": str,
         "details": str, "done_at": str, "done_by": str},
        pk="id",
        not_null={"created_at", "kind", "preferred_days", "preferred_times", "callback_number",
                  "action", "details"},
    )
    requests.create_index(["created_at"])
    _table(db, "message_done").create(
        {"call_uuid": str, "done_at": str, "done_by": str},
        pk="call_uuid",
        not_null={"done_at", "done_by"},
    )


def m012_agenda_outcomes(db: Database) -> None:
    """What each call did in the agenda, one row per action (a booking, a move, a
    cancellation, a confirmation, a request handed to the staff) with the appointment's id in
    the agenda: the figures of booking by phone come from here."""
    actions = _table(db, "agenda_actions")
    actions.create(
        {"id": int, "call_uuid": str, "action": str, "appointment_id": str, "at": str},
        pk="id",
        not_null={"call_uuid", "action", "at"},
    )
    actions.create_index(["call_uuid"])
    actions.create_index(["at"])


def m013_reminders(db: Database) -> None:
    """Reminder calls: one row per appointment, ever (its id is unique), so a restart never
    calls twice."""
    reminders = _table(db, "reminders")
    reminders.create(
        {"id": int, "appointment_id": str, "run_date": str, "starts_at": str,
         "practitioner": str, "patient_name": str, "number": str, "state": str,
         "attempts": int, "next_attempt_at": str, "last_result": str, "answer": str,
         "planned_at": str, "last_attempt_at": str, "ended_at": str},
        pk="id",
        not_null={"appointment_id", "run_date", "starts_at", "practitioner", "patient_name",
                  "number", "state", "attempts", "planned_at"},
        defaults={"attempts": 0},
    )
    reminders.create_index(["appointment_id"], unique=True)
    reminders.create_index(["run_date", "state"])


def m014_console(db: Database) -> None:
    """The web console (frontdesk.console): its users (a password hash, never a password), the
    sessions of those logged in (a hash of the cookie's token, never the token), and every
    action taken there with who took it."""
    _table(db, "console_users").create(
        {"name": str, "password_hash": str, "created_at": str, "changed_at": str},
        pk="name",
        not_null={"password_hash", "created_at", "changed_at"},
    )
    sessions = _table(db, "console_sessions")
    sessions.create(
        {"token_hash": str, "user": str, "csrf": str, "created_at": str, "expires_at": str,
         "extension": str},
        pk="token_hash",
        not_null={"user", "csrf", "created_at", "expires_at"},
    )
    sessions.create_index(["user"])
    actions = _table(db, "console_actions")
    actions.create(
        {"id": int, "at": str, "user": str, "action": str, "target": str, "detail": str},
        pk="id",
        not_null={"at", "user", "action"},
    )
    actions.create_index(["at"])


MIGRATIONS: tuple[Migration, ...] = (
    m001_calls,
    m002_overrides,
    m003_queue_staff_states,
    m004_queue_events,
    m005_call_recordings,
    m006_staff_events,
    m007_callbacks,
    m008_callback_reason,
    m009_r_call_last_seen,
    m010_agenda,
    m011_inbox,
    m012_agenda_outcomes,
    m013_reminders,
    m014_console,
)


def _table(db: Database, name: str) -> Table:
    return db.table(name)


def _migrate(db: Database, migrations: Sequence[Migration]) -> list[str]:
    names = [migration.__name__ for migration in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate migration names in {names}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row["name"] for row in db.query("SELECT name FROM _migrations")}
    applied = []
    for migration in migrations:
        name = migration.__name__
        if name in done:
            continue
        # IMMEDIATE takes the write lock first, so two processes opening a fresh database at
        # the same moment cannot both apply it: the second one waits, then sees it recorded.
        db.execute("BEGIN IMMEDIATE")
        try:
            if not _applied(db, name):
                migration(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    [name, _ts(datetime.now(UTC))],
                )
                applied.append(name)
        except BaseException as exc:
            db.rollback()
            raise MigrationError(name) from exc
        db.execute("COMMIT")
    return applied


def _applied(db: Database, name: str) -> bool:
    return bool(list(db.query("SELECT 1 FROM _migrations WHERE name = ?", [name])))


# --- one daemon per database --------------------------------------------------------------


class DaemonLock:
    """The lock a running daemon holds on its database: ``<database>.lock`` next to it, locked
    with flock(2) and holding the owner's pid (for the message). Taken before the database is
    touched, so a second daemon on the same config ends no call of the first; the kernel
    releases it when the process ends, however it ends, so it is never stale. The CLI commands
    and `frontdesk rehearse` (its own database) do not take it."""

    def __init__(self, database: Path) -> None:
        self.path = Path(database).with_name(Path(database).name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Raise AlreadyRunning when another process holds it. A lock file that cannot be
        made at all (a read-only or broken file system) is logged and the daemon starts
        without it: serving the calls comes first."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as error:
            log.error("store.lock_unavailable", path=str(self.path), error=str(error))
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AlreadyRunning(pid) from None
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the pid is missing

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


# --- the store ----------------------------------------------------------------------------

RETRYABLE_ERRORS = frozenset({
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
})
"""SQLite's primary result codes of a database that cannot be written now but may be later
(another process's lock, a full or failing disk, a read-only mount): such a write is kept and
tried again. Any other error (a constraint, a bug) refuses that one write for good."""


def _retryable(error: BaseException) -> bool:
    if isinstance(error, MigrationError):
        return error.__cause__ is not None and _retryable(error.__cause__)
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in RETRYABLE_ERRORS


@dataclass(frozen=True)
class StoreHealth:
    """Whether calls are being recorded now (`Store.health`)."""

    problem: str | None
    """Why records are not being written (None: they are)."""
    pending: int
    """Writes kept in memory, written when the database takes them."""
    dropped: int
    """Writes dropped (oldest first) because more than `max_pending` were waiting."""


@dataclass(frozen=True)
class _Write:
    fn: Callable[..., object]
    args: tuple[Any, ...]
    number: int
    """Its place in the order of the writes."""


@dataclass(frozen=True)
class _Raised:
    """An error of the worker, raised again in the greenlet that waits for it."""

    error: Exception


def _read_only(db: Database, fn: Callable[..., _T], args: tuple[Any, ...]) -> _T:
    db.execute("PRAGMA query_only=ON")
    try:
        return fn(db, *args)
    finally:
        db.execute("PRAGMA query_only=OFF")


def _handed_back(fn: Callable[..., _T], *args: Any) -> _T | _Raised:
    """Run in the worker: an error is handed back to the waiting greenlet, not raised there
    (gevent would print it)."""
    try:
        return fn(*args)
    except Exception as error:
        return _Raised(error)


def _raised_again(outcome: _T | _Raised) -> _T:
    if isinstance(outcome, _Raised):
        raise outcome.error
    return outcome


_UNKNOWN: Any = object()


class Store:
    """The frontdesk database. Open one per process; `close` it at the end.

    Every statement runs in the one worker thread, in the order the methods were called.
    A method that records something (returns None) queues its write and returns at once: no
    caller waits for the disk. A write the database cannot take now (`RETRYABLE_ERRORS`) is
    kept in memory, at most `max_pending` of them (beyond, the oldest is dropped and logged),
    and tried again with backoff, in order; `health()` says why nothing is recorded meanwhile
    and the first write that succeeds clears it. A write refused for good (the same call
    started twice, a call never started) is logged and dropped. A method that returns what it
    wrote (`set_override`, `callback_requested`...) waits for it and raises `StoreUnavailable`
    when the database cannot take it now. Reads wait for the writes queued before them
    (unless those are failing: the read is then served without them).

    `keep_trying` (the daemon): a database that cannot be opened (a full disk) raises
    nothing; the writes are kept and the store opens it, with the same backoff, when it can.
    """

    def __init__(
        self,
        path: Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        keep_trying: bool = False,
        max_pending: int = MAX_PENDING_WRITES,
        clock: Clock | None = None,
    ) -> None:
        """`clock`: a virtual clock waits for the database thread's jobs (`Clock.hold_while`)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrations = migrations
        self._max_pending = max_pending
        self._db: Database | None = None
        self._closed = False
        self._lock = gevent.lock.Semaphore()
        self._pool = ThreadPool(1)
        self._waiters = 0
        """Greenlets blocked on the worker thread (a virtual clock waits for them)."""
        self._guard = threading.Lock()
        """Shared with the worker thread: guards `_pending`, `_writes` and `_draining`."""
        self._pending: deque[_Write] = deque()
        self._writes = 0
        """Writes queued so far (each write's number)."""
        self._draining = False
        """A drain job is queued or running: it writes whatever is queued until none is left."""
        self._problem: str | None = None
        self._retry_delay = 0.0
        self._retry_at = 0.0
        self._retry_timer: gevent.Greenlet | None = None
        self._dropped = 0
        self._drop_reported = False
        self._last_override: dict[str, Any] | None = _UNKNOWN
        if clock is not None:
            clock.hold_while(self.working)
        try:
            with self._awaited():
                applied = _raised_again(self._pool.spawn(_handed_back, self._open).get())
        except BaseException as error:
            if not (keep_trying and _retryable(error)):
                self._stop_pool()
                raise
            self._failed("opened", error)
            self._after_job(None)
            return
        log.info("store.opened", path=str(self.path), migrations_applied=applied)

    def working(self) -> bool:
        """A greenlet is blocked on the database thread (a job's result, the worker
        stopping): what it waits for happens outside the event loop."""
        return self._waiters > 0

    @contextmanager
    def _awaited(self) -> Iterator[None]:
        self._waiters += 1
        try:
            yield
        finally:
            self._waiters -= 1

    def _open(self) -> list[str]:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db = Database(conn, execute_plugins=False)
            db.enable_wal()
            db.execute("PRAGMA synchronous=FULL")
            applied = _migrate(db, self._migrations)
        except BaseException:
            conn.close()
            raise
        self._db = db
        return applied

    # --- the worker and its queue ---------------------------------------------------------

    def _call(
        self,
        fn: Callable[..., _T] | None,
        *args: Any,
        timeout: float | None = None,
        after_writes: bool = True,
    ) -> _T:
        """Run ``fn(db, *args)`` in the worker after the writes queued before it (None: only
        those; `after_writes` False: none of them); block only the calling greenlet, at most
        `timeout` seconds."""
        late = StoreUnavailable(f"the database did not answer within {timeout} s")
        with self._awaited(), gevent.Timeout(timeout, late), self._lock:
            if self._closed:
                raise StoreClosed(f"store {self.path} is closed")
            return _raised_again(self._spawn(fn, args, after_writes).get())

    def _write(self, fn: Callable[..., object], *args: Any) -> None:
        """Queue a write and return: the worker applies it in order, keeps it while the
        database cannot take it, and logs it if refused for good."""
        if self._closed:
            raise StoreClosed(f"store {self.path} is closed")
        with self._guard:
            self._writes += 1
            self._pending.append(_Write(fn, args, self._writes))
            self._trim()
        self._start_draining()

    def _run(
        self,
        fn: Callable[..., _T],
        *args: Any,
        timeout: float | None = None,
        after_writes: bool = True,
    ) -> _T:
        """A read, with SQLite's ``query_only`` on: a method that writes through here instead
        of `_write` or `_change` fails at once, so no write escapes the queue. `after_writes`
        False: the read does not wait for the writes queued before it (a caller waiting, for
        rows those writes cannot change)."""
        return self._call(_read_only, fn, args, timeout=timeout, after_writes=after_writes)

    def _change(self, fn: Callable[..., _T], *args: Any) -> _T:
        """A write whose result the caller needs: done in order, now, or StoreUnavailable."""
        return self._call(self._apply_change, fn, args)

    def _start_draining(self) -> None:
        """Give the worker a drain job for the writes queued so far, unless one is on its way
        (the job after it takes the rest) or writes are failing (a retry is then on its way).
        At most one drain and one waited job are ever given to the worker, so this does not
        wait for a slot in its pool."""
        if self._closed:  # close() wrote what it could
            return
        with self._guard:
            start = not self._draining and time.monotonic() >= self._retry_at
            self._draining = self._draining or start
            upto = self._writes
        if start:
            self._pool.spawn(self._drain, upto).rawlink(self._after_job)
        else:
            self._after_job(None)

    def _after_job(self, _result: object) -> None:
        """In the gevent thread, after each job: the writes queued since the last drain get
        theirs (after the reads that came meanwhile); failing writes are tried again when
        the backoff allows."""
        if self._closed or not (self._pending or self._db is None) or self._draining:
            return
        if self._problem is None:
            gevent.spawn(self._start_draining)
        elif self._retry_timer is None:
            delay = max(self._retry_at - time.monotonic(), 0.0)
            self._retry_timer = gevent.spawn_later(delay, self._retry)

    def _retry(self) -> None:
        self._retry_timer = None
        if not self._closed:
            self._start_draining()

    def _drain(self, upto: int) -> None:
        """In the worker: the writes up to number `upto`, until one fails."""
        try:
            self._apply_pending(upto)
        finally:
            with self._guard:
                self._draining = False

    def _spawn(
        self, fn: Callable[..., Any] | None, args: tuple[Any, ...], after_writes: bool = True
    ) -> Any:
        with self._guard:
            before = self._writes if after_writes else 0
        result = self._pool.spawn(self._job, fn, args, before)
        result.rawlink(self._after_job)
        return result

    def _job(
        self, fn: Callable[..., _T] | None, args: tuple[Any, ...], before: int
    ) -> _T | _Raised | bool:
        """In the worker: the writes queued `before` it (not the later ones), then `fn` (its
        error handed back), or, for None (a flush), whether none of those writes is left."""
        self._apply_pending(before)
        if fn is None:
            with self._guard:
                return not self._pending or self._pending[0].number > before
        if self._db is None:
            if self._closed:
                return _Raised(StoreClosed(f"store {self.path} is closed"))
            return _Raised(StoreUnavailable(self._problem or "the database is not open"))
        return _handed_back(fn, self._db, *args)

    def _apply_pending(self, upto: int | None = None) -> None:
        """In the worker: open the database if needed, then write what is pending, in order
        (up to the write numbered `upto`), until one fails for a reason that may pass (kept,
        retried after the backoff)."""
        if time.monotonic() < self._retry_at:
            return
        if self._db is None:
            if self._closed:
                return
            try:
                applied = self._open()
            except Exception as error:
                self._failed("opened", error)
                return
            log.info("store.opened", path=str(self.path), migrations_applied=applied)
            if not self._pending:  # else the first write that succeeds says it
                self._succeeded()
        while True:
            with self._guard:
                if not self._pending or upto is not None and self._pending[0].number > upto:
                    break
                write = self._pending.popleft()
            try:
                write.fn(self._db, *write.args)
            except Exception as error:
                self._rollback()
                if not _retryable(error):
                    log.error("store.write_refused", operation=write.fn.__name__,
                              error=str(error))
                    continue
                with self._guard:
                    self._pending.appendleft(write)
                    self._trim()
                self._failed("written", error)
                return
            self._succeeded()

    def _apply_change(self, db: Database, fn: Callable[..., _T], args: tuple[Any, ...]) -> _T:
        """In the worker. Its failure is its caller's to handle: it does not make the store
        unhealthy (the records are fine), it only reports why."""
        if self._problem is not None and self._pending:  # it may not overtake failing writes
            raise StoreUnavailable(self._problem)
        try:
            return fn(db, *args)
        except Exception as error:
            self._rollback()
            if _retryable(error):
                raise StoreUnavailable(f"the database cannot be written: {error}") from error
            raise

    def _rollback(self) -> None:
        if self._db is not None and self._db.conn.in_transaction:
            self._db.conn.rollback()

    def _trim(self) -> None:
        """Under `_guard`: drop the oldest writes beyond `max_pending`."""
        while len(self._pending) > self._max_pending:
            self._pending.popleft()
            self._dropped += 1
            if not self._drop_reported:
                self._drop_reported = True
                log.error("store.records_dropped", kept=self._max_pending, problem=self._problem)

    def _failed(self, action: str, error: BaseException) -> None:
        problem = f"the database cannot be {action}: {error}"
        if problem != self._problem:
            log.error("store.records_failing", problem=problem, pending=len(self._pending))
        self._problem = problem
        self._retry_delay = min(max(self._retry_delay * 2, RETRY_FIRST), RETRY_MAX)
        self._retry_at = time.monotonic() + self._retry_delay

    def _succeeded(self) -> None:
        if self._problem is not None:
            log.info("store.records_resumed", pending=len(self._pending), dropped=self._dropped)
            self._problem = None
            self._drop_reported = False
        self._retry_delay = self._retry_at = 0.0

    def health(self) -> StoreHealth:
        """Whether calls are being recorded now, and what waits in memory."""
        return StoreHealth(self._problem, len(self._pending), self._dropped)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the writes queued so far are written; False when some still wait (the
        database cannot take them now, or `timeout` passed)."""
        try:
            return self._call(None, timeout=timeout)
        except StoreError:  # closed, or did not answer in time
            return False

    def close(self) -> None:
        """Write what is pending (one last try), close the database and stop the worker
        thread. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._retry_timer is not None:
                self._retry_timer.kill()
            try:
                with self._awaited():
                    self._pool.spawn(self._close_db).get()
            finally:
                self._stop_pool()
        log.info("store.closed", path=str(self.path))

    def _stop_pool(self) -> None:
        with self._awaited():
            self._pool.kill()

    def _close_db(self) -> None:
        self._retry_at = 0.0
        self._apply_pending()
        if self._pending:
            log.error("store.records_lost", count=len(self._pending), problem=self._problem)
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- calls ----------------------------------------------------------------------------

    def call_started(
        self,
        uuid: str,
        *,
        caller_number: str,
        caller_name: str,
        destination: str,
        started_at: datetime,
        schedule_state: str,
        schedule_detail: str,
        config_version: str,
    ) -> None:
        """Create the call's row as the call arrives (a second start of the same uuid is
        refused and logged: DuplicateCallError)."""
        row = {
            "uuid": uuid,
            "caller_number": caller_number,
            "caller_name": caller_name,
            "destination": destination,
            "started_at": _ts(started_at),
            "schedule_state": schedule_state,
            "schedule_detail": schedule_detail,
            "config_version": config_version,
        }
        self._write(_insert_call, row)

    def call_progress(
        self,
        uuid: str,
        *,
        path: Sequence[Mapping[str, Any]],
        reason: str | None,
        at: datetime,
        answered_at: datetime | None = None,
        answered_by: str | None = None,
    ) -> None:
        """Save what is known of a call in progress `at` that moment: what a crash leaves
        behind for the interrupted record, and what a restarted daemon adopts."""
        updates = {
            "path": _encode_path(path),
            "reason": reason,
            "answered_at": _ts_or_none(answered_at),
            "answered_by": answered_by,
            "last_seen_at": _ts(at),
        }
        self._write(_update_call, uuid, updates)

    def call_finished(
        self,
        uuid: str,
        *,
        ended_at: datetime,
        answered_at: datetime | None,
        path: Sequence[Mapping[str, Any]],
        reason: str | None,
        outcome: str,
        hangup_cause: str | None,
        answered_by: str | None = None,
        message_file: str | None = None,
        interrupted: bool = False,
    ) -> None:
        """Complete the call's row when the call ends (`interrupted`: the daemon lost control
        of the call before its end, whatever the cause).

        `path` is a list of steps such as ``{"node": ..., "key": ..., "at": ...}``; any JSON
        value is kept as is, except datetimes, stored (and read back) as timestamp text.
        """
        _check_outcome(outcome)
        updates = {
            "ended_at": _ts(ended_at),
            "answered_at": _ts_or_none(answered_at),
            "path": _encode_path(path),
            "reason": reason,
            "outcome": outcome,
            "hangup_cause": hangup_cause,
            "answered_by": answered_by,
            "message_file": message_file,
            "interrupted": int(interrupted),
            "last_seen_at": _ts(ended_at),
        }
        self._write(_update_call, uuid, updates)

    def unfinished_calls(self) -> list[dict[str, Any]]:
        """The calls without an end (as `get_call`): in progress, or lost by a daemon."""
        return self._run(_select_unfinished)

    def mark_interrupted(self, uuids: Collection[str] | None = None) -> int:
        """End the records of calls the daemon lost (`uuids`; None: every unfinished call) at
        the last moment it knew them up, keeping their path, reason and who answered; return
        how many.

        Only the daemon calls this, for calls it knows are gone or out of its hands: a CLI
        process opening the same database while the daemon runs must not end calls. When the
        database cannot be written now it returns 0 and is done (and logged) in order, once
        the database takes writes.
        """
        lost = None if uuids is None else list(uuids)
        try:
            return self._change(_mark_interrupted, lost)
        except StoreUnavailable:
            self._write(_mark_interrupted, lost)
            return 0

    def get_call(self, uuid: str) -> dict[str, Any] | None:
        """The call's record (timestamps as datetimes, path decoded), or None."""
        return self._run(_get_call, uuid)

    def call_known(self, uuid: str, *, timeout: float | None = None) -> bool | None:
        """Whether a call with this uuid has a row; None when the database could not tell
        within `timeout` (a caller waiting: busy or failing database)."""
        try:
            # A row still queued is a call of this run, which the daemon knows in memory.
            return self._run(_call_known, uuid, timeout=timeout, after_writes=False)
        except StoreUnavailable as error:
            log.warning("store.call_lookup_skipped", reason=str(error))
            return None

    def calls(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Call records started at or after `since`, newest first, at most `limit` of them."""
        return self._run(_select_calls, _ts_or_none(since), limit)

    # --- the figures (frontdesk.report): what happened to the calls of a period -----------

    def calls_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Call records started in [start, end), oldest first (as `get_call`)."""
        return self._run(_select_calls_between, _ts(start), _ts(end))

    def queue_events_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The queue events of the calls started in [start, end), in the order they happened
        (as `queue_events`; an event may come after `end`)."""
        rows = self._run(_rows_of_calls_between, "queue_events", _ts(start), _ts(end))
        return [{**row, "at": _dt(row["at"])} for row in rows]

    def agenda_actions_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """What the calls started in [start, end) did in the agenda: call_uuid, action,
        appointment_id, at (a datetime)."""
        rows = self._run(_rows_of_calls_between, "agenda_actions", _ts(start), _ts(end))
        return [{**row, "at": _dt(row["at"])} for row in rows]

    def callbacks_between(self, start: datetime, end: datetime) -> list[CallbackRequest]:
        """The callbacks of the calls started in [start, end), whatever their state."""
        rows = self._run(_rows_of_calls_between, "callbacks", _ts(start), _ts(end))
        return [_decode_callback(row) for row in rows]

    # --- callers' messages ----------------------------------------------------------------

    def fallback_call(
        self,
        uuid: str,
        *,
        caller_number: str,
        caller_name: str,
        destination: str,
        started_at: datetime,
        answered_at: datetime | None,
        ended_at: datetime,
        hangup_cause: str | None,
        message_file: str | None,
        schedule_state: str,
        schedule_detail: str,
        config_version: str,
    ) -> bool:
        """A call FreeSWITCH's static fallback took (the daemon was down or refused it):
        create its complete row (outcome and reason "fallback") unless the call has one, and
        give `message_file` to the row if it has no message yet. True if the row was created
        or took the message."""
        row = {
            "uuid": uuid,
            "caller_number": caller_number,
            "caller_name": caller_name,
            "destination": destination,
            "started_at": _ts(started_at),
            "answered_at": _ts_or_none(answered_at),
            "ended_at": _ts(ended_at),
            "schedule_state": schedule_state,
            "schedule_detail": schedule_detail,
            "config_version": config_version,
            "reason": "fallback",
            "outcome": "fallback",
            "hangup_cause": hangup_cause,
            "message_file": message_file,
        }
        if self._change(_insert_if_new, row):
            return True
        return message_file is not None and self.link_message(uuid, message_file)

    def link_message(self, uuid: str, message_file: str) -> bool:
        """Give the call's row its message file, unless it has one (or is no call of ours,
        or the file is the row's conversation recording). True if the row took it."""
        return self._change(_link_message, uuid, message_file)

    def message_files(self) -> set[str]:
        """Every message file a call's row holds."""
        return self._run(_message_files)

    def messages(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The records of the calls that left a message, newest first."""
        return self._run(_select_messages, limit)

    def message_done(self, call_uuid: str, *, by: str, at: datetime) -> bool:
        """The staff dealt with the messages of this call (a row is not needed: a fallback
        message may be on disk only); False if they were marked done already."""
        return self._change(_mark_message_done, call_uuid, by, _ts(at))

    def message_marks(self) -> dict[str, tuple[datetime, str]]:
        """When and by whom the messages of each call marked done were dealt with."""
        return self._run(_message_marks)

    # --- booking requests ---------------------------------------------------------------

    def booking_request(self, request: BookingRequest, *, at: datetime) -> int:
        """Store what a caller asked the desk for; returns its id. Waited for (the caller is
        told the desk will call back only once it is stored): StoreUnavailable otherwise."""
        return self._change(_insert_returning_id, "booking_requests", _request_row(request, at))

    def booking_requests(self, *, include_done: bool = False) -> list[FiledBookingRequest]:
        """The booking requests not dealt with yet (`include_done`: all), newest first."""
        return [_decode_request(row) for row in self._run(_select_requests, include_done)]

    def get_booking_request(self, request_id: int) -> FiledBookingRequest | None:
        row = self._run(_get_request, request_id)
        return None if row is None else _decode_request(row)

    def booking_request_done(self, request_id: int, *, by: str, at: datetime) -> bool:
        """The staff dealt with a booking request; False if there is none not done yet."""
        return self._change(_booking_request_done, request_id, by, _ts(at))

    # --- the web console ----------------------------------------------------------------

    def console_users(self) -> list[ConsoleUser]:
        return [_decode_console_user(row) for row in self._run(_select_console_users)]

    def console_user(self, name: str) -> ConsoleUser | None:
        rows = self._run(_select_console_users, name)
        return _decode_console_user(rows[0]) if rows else None

    def add_console_user(self, name: str, password_hash: str, *, at: datetime) -> bool:
        """False when `name` exists already."""
        return self._change(_insert_console_user, name, password_hash, _ts(at))

    def set_console_password(self, name: str, password_hash: str, *, at: datetime) -> bool:
        """The user's sessions end with their old password; False for an unknown user."""
        return self._change(_update_console_password, name, password_hash, _ts(at))

    def remove_console_user(self, name: str) -> bool:
        """The user and their sessions; False for an unknown user."""
        return self._change(_delete_console_user, name)

    def open_console_session(self, session: ConsoleSession) -> None:
        self._change(_insert_console_session, session)

    def console_session(self, token_hash: str, *, now: datetime) -> ConsoleSession | None:
        """The session of that token, unless it expired (or its user is gone)."""
        rows = self._run(_select_console_session, token_hash, _ts(now))
        return _decode_console_session(rows[0]) if rows else None

    def set_console_extension(self, token_hash: str, extension: str | None) -> None:
        self._change(_update_console_extension, token_hash, extension)

    def close_console_session(self, token_hash: str) -> None:
        self._change(_delete_console_session, token_hash)

    def purge_console_sessions(self, *, now: datetime) -> int:
        """Forget expired sessions; how many."""
        return self._change(_purge_console_sessions, _ts(now))

    def console_action(
        self, user: str, action: str, target: str | None = None, detail: str | None = None,
        *, at: datetime,
    ) -> None:
        """Record what `user` did in the console (queued: the action itself is written by
        its own method)."""
        self._write(_insert_console_action, {"at": _ts(at), "user": user, "action": action,
                                             "target": target, "detail": detail})

    def console_actions(self, since: datetime | None = None) -> list[ConsoleAction]:
        """Oldest first."""
        return [ConsoleAction(datetime.fromisoformat(row["at"]), row["user"], row["action"],
                              row["target"], row["detail"])
                for row in self._run(_select_console_actions, _ts_or_none(since))]

    # --- overrides ------------------------------------------------------------------------

    def set_override(
        self,
        mode: str | None,
        *,
        until: datetime | None,
        set_by: str,
        now: datetime | None = None,
    ) -> Override | None:
        """Force the schedule into `mode` (until `until`, or until changed); None = automatic.

        Returns the override now in force.
        """
        set_at = now or datetime.now(UTC)
        row = {"set_at": _ts(set_at), "mode": mode, "until": _ts_or_none(until), "set_by": set_by}
        if mode is None:
            if until is not None:
                raise ValueError("clearing the override (mode None) takes no 'until'")
        elif mode not in OVERRIDE_MODES:
            raise ValueError(f"unknown mode {mode!r}, must be one of {', '.join(OVERRIDE_MODES)}")
        if until is not None and until <= set_at:
            raise ValueError(f"'until' ({until.isoformat()}) is not in the future")
        self._change(_insert_override, row)
        log.info("store.override_set", mode=mode, until=row["until"], set_by=set_by)
        return self.get_override(now=set_at)

    def get_override(
        self, now: datetime | None = None, *, timeout: float | None = None
    ) -> Override | None:
        """The override in force at `now` (default: the current time), or None.

        `timeout` (a caller waiting): when the database does not answer within it, or cannot
        be read, the last override this store read is used (StoreUnavailable if none was)."""
        try:
            # an override is written at once (`set_override` waits for its write)
            row = self._run(_latest_override, timeout=timeout, after_writes=False)
        except StoreUnavailable as error:
            if self._last_override is _UNKNOWN:
                raise
            log.warning("store.override_from_memory", reason=str(error))
            row = self._last_override
        else:
            self._last_override = row
        if row is None or row["mode"] is None:
            return None
        until = _dt(row["until"])
        if until is not None and until <= (now or datetime.now(UTC)):
            return None
        return Override(
            mode=row["mode"],
            until=until,
            set_at=datetime.fromisoformat(row["set_at"]),
            set_by=row["set_by"],
        )


    # --- the front-desk queue ---------------------------------------------------------------

    def staff_state_changed(
        self, extension: str, *, at: datetime, state: str, registered: bool, logged_in: bool
    ) -> None:
        """Record a staff phone's new state (see frontdesk.queue.staff)."""
        row = {"at": _ts(at), "extension": extension, "state": state,
               "registered": int(registered), "logged_in": int(logged_in)}
        self._write(_insert_row, "staff_states", row)

    def latest_staff_states(self) -> dict[str, dict[str, Any]]:
        """The last recorded state of each extension: {ext: {at, state, registered, logged_in}}."""
        return self._run(_latest_staff_states)

    def queue_event(
        self,
        call_uuid: str,
        event: str,
        *,
        at: datetime,
        wait: float | None = None,
        extension: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record one queue event of a call (entered, offered, answered, abandoned...)."""
        row = {"call_uuid": call_uuid, "at": _ts(at), "event": event, "extension": extension,
               "wait": None if wait is None else round(wait, 3), "detail": detail}
        self._write(_insert_row, "queue_events", row)

    def queue_events(self, call_uuid: str | None = None) -> list[dict[str, Any]]:
        """Queue events in the order they happened, of one call or of every call."""
        return self._run(_select_queue_events, call_uuid)

    # --- recordings, backups, health ------------------------------------------------------

    def set_recording(self, uuid: str, *, file: str, purpose: str) -> None:
        """Attach a recording to the call's record, with the purpose it was made for."""
        self._write(_update_call, uuid, {"recording_file": file, "recording_purpose": purpose})

    def recordings_before(self, before: datetime) -> list[tuple[str, str]]:
        """(uuid, file) of every call started before `before` that still has a recording."""
        return self._run(_recordings_before, _ts(before))

    def recording_purged(self, uuid: str, *, now: datetime) -> None:
        """The recording's file is gone: clear its name, keep when it was purged."""
        updates = {"recording_file": None, "recording_purged_at": _ts(now)}
        self._write(_update_call, uuid, updates)

    def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup (calls go on)."""
        self._run(_backup, Path(target))

    def check_writable(self, timeout: float) -> None:
        """Raise unless calls can be recorded: StoreUnavailable while writes are failing (a
        full disk lets a lock be taken: only a real write tells), otherwise whatever keeps
        the database from giving a write lock within `timeout` seconds (the daemon's health
        check)."""
        if self._problem is None:
            self._call(_check_writable, int(timeout * 1000))
        if self._problem is not None:  # now, or as the writes before the check were tried
            raise StoreUnavailable(self._problem)


    # --- retention: the daily purge (frontdesk.retention) -----------------------------------

    def messages_to_purge(
        self, *, done_before: datetime, started_before: datetime
    ) -> list[tuple[str, str, bool]]:
        """(uuid, message file, marked done) of the calls whose message was marked done
        before `done_before`, or that began before `started_before`."""
        return self._run(_messages_to_purge, _ts(done_before), _ts(started_before))

    def message_purged(self, uuid: str) -> None:
        """The message's file is gone: clear its name (the call's outcome and reason stay)."""
        self._write(_update_call, uuid, {"message_file": None})

    def purge_booking_requests(
        self, *, done_before: datetime, created_before: datetime, dry_run: bool = False
    ) -> int:
        """Delete the booking requests marked done before `done_before`, or stored before
        `created_before`; how many (in batches, as `purge_call_records`). `dry_run`: how
        many would go."""
        args = (_ts(done_before), _ts(created_before))
        if dry_run:
            return self._run(_count_expired, "booking_requests", args)
        return self._purge(_purge_expired, "booking_requests", args)

    def purge_call_records(self, before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Delete the rows of `CALL_RECORDS` dated before `before`, except the latest staff
        state and login of each phone and the latest override (they are in force); rows
        deleted per table (`dry_run`: that would be). At most `PURGE_BATCH` rows a
        statement: between two, the writes and reads of the calls in progress get the
        database."""
        args = (_ts(before),)
        if dry_run:
            return {table: self._run(_count_expired, table, args) for table in CALL_RECORDS}
        return {table: self._purge(_purge_expired, table, args) for table in CALL_RECORDS}

    def _purge(self, statement: Callable[..., int], *args: Any) -> int:
        total = 0
        while True:
            deleted = self._change(statement, *args, PURGE_BATCH)
            total += deleted
            if deleted < PURGE_BATCH:
                return total
            gevent.sleep(0)  # a greenlet waiting for the database goes before the next batch

    # --- staff at the desk ----------------------------------------------------------------

    def staff_event(self, extension: str, event: str, *, at: datetime) -> None:
        """Record that the staff member at `extension` logged in or out (`event`)."""
        if event not in STAFF_EVENTS:
            raise ValueError(f"unknown staff event {event!r}, must be login or logout")
        self._write(_insert_staff_event, {"at": _ts(at), "extension": extension, "event": event})
        log.info("store.staff_event", extension=extension, staff_event=event)

    def staff_events(self, since: datetime | None = None) -> list[StaffEvent]:
        """Logins and logouts at or after `since`, oldest first."""
        rows = self._run(_select_staff_events, _ts_or_none(since))
        return [
            StaffEvent(row["extension"], row["event"], datetime.fromisoformat(row["at"]))
            for row in rows
        ]

    def logged_in_staff(self) -> set[str]:
        """Extensions whose latest staff event is a login."""
        return set(self._run(_logged_in))

    # --- what calls did in the agenda ------------------------------------------------------

    def agenda_action(
        self, call_uuid: str, action: str, appointment_id: str | None, *, at: datetime
    ) -> None:
        """Record that call `call_uuid` did `action` (one of AGENDA_ACTIONS) on the appointment
        `appointment_id` (None: a request handed to the staff, no appointment yet)."""
        if action not in AGENDA_ACTIONS:
            raise ValueError(f"unknown agenda action {action!r}, must be one of "
                             f"{', '.join(AGENDA_ACTIONS)}")
        row = {"call_uuid": call_uuid, "action": action, "appointment_id": appointment_id,
               "at": _ts(at)}
        self._write(_insert_agenda_action, row)

    def agenda_actions(self, call_uuid: str) -> list[dict[str, Any]]:
        """The agenda actions of one call, in order."""
        return self._run(_select_agenda_actions, call_uuid)

    # --- callbacks and missed patients ----------------------------------------------------

    def callback_requested(
        self,
        call_uuid: str,
        *,
        number: str,
        call_started_at: datetime,
        requested_at: datetime,
        extensions: Sequence[str],
        reason: str = "requested",
    ) -> int:
        """Store a pending callback request; returns its id."""
        if reason not in CALLBACK_REASONS:
            raise ValueError(f"unknown callback reason {reason!r}")
        row = {"call_uuid": call_uuid, "number": number, "call_started_at": _ts(call_started_at),
               "requested_at": _ts(requested_at), "extensions": ",".join(extensions),
               "state": "pending", "attempts": 0, "reason": reason}
        return self._change(_insert_returning_id, "callbacks", row)

    def callback_attempted(
        self,
        callback_id: int,
        *,
        at: datetime,
        result: str,
        state: str,
        next_attempt_at: datetime | None = None,
        by: str | None = None,
    ) -> None:
        """One more attempt of a callback: its result and the request's new state. `by`: the
        receptionist who called back now (``console:<user>``), kept as ``done_by``."""
        if state not in CALLBACK_STATES:
            raise ValueError(f"unknown callback state {state!r}")
        updates = {"last_result": result, "state": state,
                   "next_attempt_at": _ts_or_none(next_attempt_at),
                   "completed_at": _ts(at) if state == "completed" else None, "done_by": by}
        self._write(_callback_attempted, callback_id, updates)

    def callbacks(self, states: Sequence[str] = ("pending", "failed")) -> list[CallbackRequest]:
        """Callback requests in these states, in queue order (the time their call began)."""
        return [_decode_callback(row) for row in self._run(_select_callbacks, list(states))]

    def get_callback(self, callback_id: int) -> CallbackRequest | None:
        row = self._run(_get_callback, callback_id)
        return None if row is None else _decode_callback(row)

    def callback_done(self, callback_id: int, *, by: str, at: datetime) -> bool:
        """The staff dealt with a pending or failed callback; False if there is none."""
        return self._change(_callback_done, callback_id, by, _ts(at))

    def served_again(self, call_uuid: str) -> bool:
        """Did the patient of this call (same caller number) call again later and get served,
        or ask for a callback then?"""
        return self._run(_served_again, call_uuid)

    def missed_calls(self, *, since: datetime, missed_after: float) -> list[MissedCall]:
        """Patients who hung up after waiting longer than `missed_after` seconds in a call
        started at or after `since`, unless they called again later and were served (or asked
        for a callback), or the staff marked the call done. One entry per number (its latest
        missed call); hidden numbers one entry per call."""
        rows = self._run(_missed_calls, _ts(since), missed_after)
        latest: dict[str, MissedCall] = {}
        for row in rows:  # oldest first
            key = row["caller_number"] or row["uuid"]
            previous = latest.get(key)
            latest[key] = MissedCall(
                call_uuid=row["uuid"],
                caller_number=row["caller_number"],
                caller_name=row["caller_name"],
                started_at=datetime.fromisoformat(row["started_at"]),
                waited=row["wait"],
                calls=1 if previous is None else previous.calls + 1,
            )
        return sorted(latest.values(), key=lambda missed: missed.started_at)

    def missed_done(self, call_uuid: str, *, by: str, at: datetime) -> str | None:
        """Mark a missed call done (the staff called the patient). `call_uuid` may be a unique
        prefix (at least 4 characters); returns the full uuid, or None if none matches (or
        several do)."""
        if len(call_uuid) < 4:
            return None
        return self._change(_missed_done, call_uuid, by, _ts(at))

    # --- the agenda: the practice's directory and the built-in appointments ----------------
    # Every write here waits for its result (`_change`): the CLI and the flow must know.

    def practitioners(self) -> list[Practitioner]:
        """The active practitioners, by id."""
        return [_decode_practitioner(row) for row in self._run(_select_practitioners)]

    def add_practitioner(self, practitioner: Practitioner) -> None:
        """Add it, or change its name and calendar (a removed one becomes active again)."""
        if not SHORT_NAME.fullmatch(practitioner.id):
            raise ValueError(f"practitioner id {practitioner.id!r}: use letters, digits, - and _")
        if not practitioner.name.strip():
            raise ValueError("a practitioner needs a name")
        self._change(_upsert_practitioner, practitioner)

    def remove_practitioner(self, practitioner: str) -> bool:
        """Nobody books them any more; their appointments and hours are kept (adding them
        again brings them back). False if there is no such active practitioner."""
        return self._change(_deactivate_practitioner, practitioner)

    def consultation_hours(self, practitioner: str) -> list[ConsultationHours]:
        """The practitioner's weekly template, by weekday and start."""
        return [_decode_hours(row) for row in self._run(_select_hours, practitioner)]

    def set_hours(
        self,
        practitioner: str,
        weekday: int,
        ranges: Sequence[tuple[time_of_day, time_of_day]],
    ) -> None:
        """Replace the practitioner's hours on `weekday` (0 = Monday) by `ranges` (none: they
        do not work that day). Ranges must not overlap."""
        if not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
        ordered = sorted(ranges)
        for start, end in ordered:
            if start >= end:
                raise ValueError(f"{start:%H:%M}-{end:%H:%M} ends before it starts")
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise ValueError(f"ranges overlap at {start:%H:%M}")
        rows = [{"practitioner": practitioner, "weekday": weekday, "start": f"{start:%H:%M}",
                 "end": f"{end:%H:%M}"} for start, end in ordered]
        self._change(_replace_hours, practitioner, weekday, rows)

    def appointment_types(self) -> list[AppointmentType]:
        """Every appointment type, by name."""
        return [AppointmentType(row["name"], row["minutes"], row["label"])
                for row in self._run(_select_types)]

    def add_appointment_type(self, kind: AppointmentType) -> None:
        """Add it, or change its length and label."""
        if not SHORT_NAME.fullmatch(kind.name):
            raise ValueError(f"appointment type {kind.name!r}: use letters, digits, - and _")
        if not 5 <= kind.minutes <= 480:
            raise ValueError(f"an appointment lasts 5 to 480 minutes, not {kind.minutes}")
        self._change(_upsert_type, kind)

    def absences(self, practitioner: str, start: datetime, end: datetime) -> list[Absence]:
        """The practitioner's absences that overlap [start, end), soonest first."""
        rows = self._run(_select_absences, practitioner, _ts(start), _ts(end))
        return [Absence(row["practitioner"], *_interval(row), row["reason"]) for row in rows]

    def add_absence(self, absence: Absence) -> int:
        """Record it; returns its id. Appointments already booked then are kept (the staff
        see them with `frontdesk agenda day`)."""
        if absence.start >= absence.end:
            raise ValueError("an absence must end after it starts")
        row = {"practitioner": absence.practitioner, "start": _ts(absence.start),
               "end": _ts(absence.end), "reason": absence.reason}
        return self._change(_insert_absence, row)

    def patients_by_phone(self, phone: str) -> list[Patient]:
        """The patients with this number (digits only; several share a family's phone)."""
        return [_decode_patient(row) for row in self._run(_select_patients, "phone", phone)]

    def patients_by_birth_date(self, birth_date: date) -> list[Patient]:
        return [_decode_patient(row)
                for row in self._run(_select_patients, "birth_date", birth_date.isoformat())]

    def get_patient(self, patient_id: int) -> Patient | None:
        rows = self._run(_select_patients, "id", patient_id)
        return _decode_patient(rows[0]) if rows else None

    def add_patients(
        self, entries: Sequence[tuple[str, str, date | None]]
    ) -> list[tuple[Patient, bool]]:
        """Add (name, phone, birth date) patients in one transaction; each with whether it was
        new: the same name, phone and birth date as a known patient is that patient (an import
        run twice adds nobody)."""
        for name, phone, _ in entries:
            if not name.strip():
                raise ValueError("a patient needs a name")
            if not phone.isdigit():
                raise ValueError(f"phone {phone!r}: digits only")
        rows = [{"name": name, "phone": phone,
                 "birth_date": None if born is None else born.isoformat()}
                for name, phone, born in entries]
        added = self._change(_add_patients, rows)
        return [(_decode_patient(row), new) for row, new in added]

    def booked_times(self, practitioner: str, start: datetime, end: datetime
                     ) -> list[tuple[datetime, datetime]]:
        """The (start, end) of the practitioner's appointments (not cancelled) that overlap
        [start, end)."""
        rows = self._run(_select_booked, practitioner, _ts(start), _ts(end))
        return [_interval(row) for row in rows]

    def appointments_between(self, start: datetime, end: datetime) -> list[Appointment]:
        """Every appointment (not cancelled) starting in [start, end), soonest first."""
        rows = self._run(_select_appointments, "a.start >= ? AND a.start < ?",
                         [_ts(start), _ts(end)])
        return [_decode_appointment(row) for row in rows]

    def upcoming_appointments(self, patient_id: int, after: datetime) -> list[Appointment]:
        """The patient's appointments (not cancelled) starting at or after `after`."""
        rows = self._run(_select_appointments, "a.patient_id = ? AND a.start >= ?",
                         [patient_id, _ts(after)])
        return [_decode_appointment(row) for row in rows]

    def get_appointment(self, appointment_id: int) -> Appointment | None:
        """The appointment, cancelled or not."""
        rows = self._run(_select_appointments, "a.id = ?", [appointment_id], "any")
        return _decode_appointment(rows[0]) if rows else None

    def book_appointment(
        self,
        practitioner: str,
        start: datetime,
        end: datetime,
        kind: str,
        patient_id: int | None,
        *,
        by: str,
        at: datetime,
        call_uuid: str | None = None,
    ) -> Appointment:
        """Write the appointment unless [start, end) overlaps another of the practitioner's
        (not cancelled) or an absence: `SlotTaken`. The check and the write are one
        transaction holding SQLite's write lock, so neither this process nor another (the
        CLI, the daemon) can book the same time in between."""
        if start >= end:
            raise ValueError("an appointment must end after it starts")
        row = {"practitioner": practitioner, "start": _ts(start), "end": _ts(end), "kind": kind,
               "patient_id": patient_id, "state": ACTIVE, "booked_by": by, "booked_at": _ts(at),
               "call_uuid": call_uuid}
        booked = _decode_appointment(self._change(_book, row))
        log.info("store.appointment_booked", appointment=booked.id, practitioner=practitioner,
                 by=by)
        return booked

    def cancel_appointment(self, appointment_id: int, *, by: str, at: datetime) -> None:
        """Cancel it: its time is free at once. `UnknownAppointment` if there is none (or it
        was cancelled already)."""
        self._change(_set_appointment_state, appointment_id, "cancelled",
                     {"cancelled_by": by, "cancelled_at": _ts(at)})
        log.info("store.appointment_cancelled", appointment=appointment_id, by=by)

    def confirm_appointment(self, appointment_id: int, *, by: str, at: datetime) -> None:
        """The patient said they will come. `UnknownAppointment` if it is cancelled or gone."""
        self._change(_set_appointment_state, appointment_id, "confirmed",
                     {"confirmed_by": by, "confirmed_at": _ts(at)})

    # -- reminder calls (frontdesk.agenda.reminders) ------------------------------------

    def reminder_planned(
        self,
        appointment_id: str,
        *,
        run_date: str,
        starts_at: datetime,
        practitioner: str,
        patient_name: str,
        number: str,
        at: datetime,
    ) -> None:
        """A reminder to place for this appointment, unless it already has one (any state)."""
        row = {"appointment_id": appointment_id, "run_date": run_date,
               "starts_at": _ts(starts_at), "practitioner": practitioner,
               "patient_name": patient_name, "number": number, "state": "pending",
               "attempts": 0, "planned_at": _ts(at)}
        self._write(_insert_reminder, row)

    def due_reminders(self, run_date: str, now: datetime) -> list[Reminder]:
        """The run's pending reminders whose time has come (first attempt, or retry due),
        soonest appointment first."""
        return [_decode_reminder(row) for row in self._run(_due_reminders, run_date, _ts(now))]

    def reminders(self, run_date: str) -> list[Reminder]:
        """Every reminder of one run (a local date), soonest appointment first."""
        return [_decode_reminder(row) for row in self._run(_run_reminders, run_date)]

    def reminder_calling(self, reminder_id: int, *, at: datetime) -> bool:
        """Mark a pending reminder as being called, written before the call is placed (a
        restart then never calls it again); False when it is no longer pending."""
        return self._change(_reminder_calling, reminder_id, _ts(at))

    def reminder_ended(
        self,
        reminder_id: int,
        *,
        state: str,
        result: str,
        at: datetime,
        answer: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """How an attempt ended: the reminder's new state (``pending`` again for a retry at
        `next_attempt_at`), its result and the keys the patient pressed."""
        if state not in REMINDER_STATES:
            raise ValueError(f"unknown reminder state {state!r}")
        updates = {"state": state, "last_result": result, "answer": answer,
                   "next_attempt_at": _ts_or_none(next_attempt_at),
                   "ended_at": None if state == "pending" else _ts(at)}
        self._write(_update_reminder, reminder_id, updates)

    def reminders_cut(self, at: datetime) -> None:
        """At start: reminders a previous run was calling when it stopped are failed, never
        placed again (the patient may have heard them)."""
        self._write(_reminders_cut, _ts(at))

    def reminders_over(self, run_date: str, at: datetime) -> None:
        """Pending reminders of runs before `run_date` were not reached in their window:
        ``no_answer`` when called at least once, else ``failed``."""
        self._write(_reminders_over, run_date, _ts(at))


# --- statements (each runs in the worker thread) ------------------------------------------


def _insert_call(db: Database, row: dict[str, Any]) -> None:
    try:
        _table(db, "calls").insert(row)
    except sqlite3.IntegrityError as exc:
        raise DuplicateCallError(f"call {row['uuid']} was already started") from exc


def _update_call(db: Database, uuid: str, updates: dict[str, Any]) -> None:
    """One UPDATE statement: sqlite-utils' `update` reads the row and the table's schema
    first, which made every step of every call cost several statements."""
    columns = ", ".join(f"[{name}] = ?" for name in updates)
    cursor = db.execute(f"UPDATE calls SET {columns} WHERE uuid = ?", [*updates.values(), uuid])
    if cursor.rowcount == 0:
        raise UnknownCallError(uuid)


def _mark_interrupted(db: Database, uuids: list[str] | None) -> int:
    sql = (
        "UPDATE calls SET ended_at = COALESCE(last_seen_at, started_at),"
        " outcome = 'interrupted', interrupted = 1 WHERE ended_at IS NULL"
    )
    if uuids is None:
        count = db.execute(sql).rowcount
    else:
        count = sum(db.execute(sql + " AND uuid = ?", [uuid]).rowcount for uuid in uuids)
    if count:
        log.warning("store.calls_interrupted", count=count)
    return count


def _select_unfinished(db: Database) -> list[dict[str, Any]]:
    rows = _table(db, "calls").rows_where("ended_at IS NULL", order_by="started_at")
    return [_decode_call(row) for row in rows]


def _get_call(db: Database, uuid: str) -> dict[str, Any] | None:
    rows = list(_table(db, "calls").rows_where("uuid = ?", [uuid]))
    return _decode_call(rows[0]) if rows else None


def _call_known(db: Database, uuid: str) -> bool:
    return db.execute("SELECT 1 FROM calls WHERE uuid = ?", [uuid]).fetchone() is not None


def _select_calls(db: Database, since: str | None, limit: int | None) -> list[dict[str, Any]]:
    where, args = ("started_at >= ?", [since]) if since is not None else (None, None)
    rows = _table(db, "calls").rows_where(
        where, args, order_by="started_at DESC, rowid DESC", limit=limit
    )
    return [_decode_call(row) for row in rows]


def _select_calls_between(db: Database, start: str, end: str) -> list[dict[str, Any]]:
    rows = _table(db, "calls").rows_where(
        "started_at >= ? AND started_at < ?", [start, end], order_by="started_at, rowid"
    )
    return [_decode_call(row) for row in rows]


def _rows_of_calls_between(db: Database, table: str, start: str, end: str) -> list[dict[str, Any]]:
    return list(db.query(
        f"SELECT * FROM {table} WHERE call_uuid IN "
        "(SELECT uuid FROM calls WHERE started_at >= ? AND started_at < ?) ORDER BY id",
        [start, end],
    ))


def _insert_if_new(db: Database, row: dict[str, Any]) -> bool:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(
        f"INSERT OR IGNORE INTO calls ({columns}) VALUES ({marks})", list(row.values())
    )
    return cursor.rowcount == 1


def _link_message(db: Database, uuid: str, message_file: str) -> bool:
    cursor = db.execute(
        "UPDATE calls SET message_file = ? WHERE uuid = ? AND message_file IS NULL"
        " AND (recording_file IS NULL OR recording_file != ?)",
        [message_file, uuid, message_file],
    )
    return cursor.rowcount == 1


def _message_files(db: Database) -> set[str]:
    rows = db.query("SELECT message_file FROM calls WHERE message_file IS NOT NULL")
    return {row["message_file"] for row in rows}


def _select_messages(db: Database, limit: int | None) -> list[dict[str, Any]]:
    rows = _table(db, "calls").rows_where(
        "message_file IS NOT NULL", order_by="started_at DESC, rowid DESC", limit=limit
    )
    return [_decode_call(row) for row in rows]


def _insert_override(db: Database, row: dict[str, Any]) -> None:
    _table(db, "overrides").insert(row)


def _latest_override(db: Database) -> dict[str, Any] | None:
    rows = list(_table(db, "overrides").rows_where(order_by="id DESC", limit=1))
    return rows[0] if rows else None


def _insert_row(db: Database, table: str, row: dict[str, Any]) -> None:
    _table(db, table).insert(row)


def _latest_staff_states(db: Database) -> dict[str, dict[str, Any]]:
    rows = db.query(
        "SELECT extension, at, state, registered, logged_in FROM staff_states"
        " WHERE id IN (SELECT MAX(id) FROM staff_states GROUP BY extension)"
    )
    return {
        row["extension"]: {
            "at": _dt(row["at"]),
            "state": row["state"],
            "registered": bool(row["registered"]),
            "logged_in": bool(row["logged_in"]),
        }
        for row in rows
    }


def _select_queue_events(db: Database, call_uuid: str | None) -> list[dict[str, Any]]:
    where, args = ("call_uuid = ?", [call_uuid]) if call_uuid is not None else (None, None)
    rows = _table(db, "queue_events").rows_where(where, args, order_by="id")
    return [{**row, "at": _dt(row["at"])} for row in rows]


def _recordings_before(db: Database, before: str) -> list[tuple[str, str]]:
    rows = db.query(
        "SELECT uuid, recording_file FROM calls"
        " WHERE recording_file IS NOT NULL AND started_at < ? ORDER BY started_at",
        [before],
    )
    return [(row["uuid"], row["recording_file"]) for row in rows]


def _backup(db: Database, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    destination = sqlite3.connect(str(partial))
    try:
        db.conn.backup(destination)
    finally:
        destination.close()
    partial.replace(target)


def _check_writable(db: Database, timeout_ms: int) -> None:
    db.execute(f"PRAGMA busy_timeout={timeout_ms}")
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


PURGE_BATCH = 500
"""Rows one purge statement deletes at most: the daemon's writes and reads wait behind one
statement, not behind the purge. Measured (bench/bench_retention.py, a 2-core box's disk,
300 calls a day): a year of records (790k rows) purged in 9 s, a call's write waiting 4 ms
(p50) and 46 ms at most meanwhile; 5000 rows a statement: 7 s but up to 137 ms; 100: 42 s."""

CALL_RECORDS: dict[str, tuple[str, str | None]] = {
    "queue_events": ("at < ?", None),
    "agenda_actions": ("at < ?", None),
    "callbacks": ("call_started_at < ?", None),
    "missed_done": ("done_at < ?", None),
    "message_done": ("done_at < ?", None),
    "calls": ("started_at < ?", None),
    "reminders": ("starts_at < ?", None),
    "staff_events": ("at < ?", "SELECT MAX(id) FROM staff_events GROUP BY extension"),
    "staff_states": ("at < ?", "SELECT MAX(id) FROM staff_states GROUP BY extension"),
    "overrides": ("set_at < ?", "SELECT MAX(id) FROM overrides"),
    "console_actions": ("at < ?", None),
}
"""The call records the retention purges: table -> (the rows past the period, given its
start; the rows kept whatever their age: those in force)."""

_EXPIRED = {
    **CALL_RECORDS,
    "booking_requests": ("done_at < ? OR created_at < ?", None),
}


def _expired(table: str) -> str:
    """The rowids of `table`'s expired rows (the query's arguments as `_EXPIRED` says)."""
    condition, in_force = _EXPIRED[table]
    kept = f" AND rowid NOT IN ({in_force})" if in_force else ""
    return f"SELECT rowid FROM {table} WHERE ({condition}){kept}"


def _purge_expired(db: Database, table: str, args: tuple[str, ...], limit: int) -> int:
    cursor = db.execute(
        f"DELETE FROM {table} WHERE rowid IN ({_expired(table)} LIMIT ?)", [*args, limit]
    )
    return cursor.rowcount


def _count_expired(db: Database, table: str, args: tuple[str, ...]) -> int:
    return db.execute(f"SELECT count(*) FROM ({_expired(table)})", list(args)).fetchone()[0]


def _messages_to_purge(
    db: Database, done_before: str, started_before: str
) -> list[tuple[str, str, bool]]:
    rows = db.query(
        "SELECT c.uuid, c.message_file, d.done_at FROM calls AS c"
        " LEFT JOIN message_done AS d ON d.call_uuid = c.uuid"
        " WHERE c.message_file IS NOT NULL AND (d.done_at < ? OR c.started_at < ?)",
        [done_before, started_before],
    )
    return [(row["uuid"], row["message_file"], row["done_at"] is not None) for row in rows]


def _insert_agenda_action(db: Database, row: dict[str, Any]) -> None:
    _table(db, "agenda_actions").insert(row)


def _select_agenda_actions(db: Database, call_uuid: str) -> list[dict[str, Any]]:
    rows = _table(db, "agenda_actions").rows_where("call_uuid = ?", [call_uuid], order_by="id")
    return [{key: row[key] for key in ("action", "appointment_id", "at")} for row in rows]


def _insert_staff_event(db: Database, row: dict[str, Any]) -> None:
    _table(db, "staff_events").insert(row)


def _select_staff_events(db: Database, since: str | None) -> list[dict[str, Any]]:
    where, args = ("at >= ?", [since]) if since is not None else (None, None)
    return list(_table(db, "staff_events").rows_where(where, args, order_by="at, id"))


def _logged_in(db: Database) -> list[str]:
    rows = db.query(
        "SELECT extension FROM staff_events AS e WHERE event = 'login' AND id = "
        "(SELECT MAX(id) FROM staff_events WHERE extension = e.extension)"
    )
    return [row["extension"] for row in rows]


def _insert_returning_id(db: Database, table: str, row: dict[str, Any]) -> int:
    last = _table(db, table).insert(row).last_pk
    if last is None:  # sqlite-utils leaves it unset only when no row was inserted
        raise StoreError(f"no row inserted into {table}")
    return int(last)


def _callback_attempted(db: Database, callback_id: int, updates: dict[str, Any]) -> None:
    db.execute(
        "UPDATE callbacks SET attempts = attempts + 1, last_result = ?, state = ?,"
        " next_attempt_at = ?, completed_at = ?, done_by = ? WHERE id = ?",
        [updates["last_result"], updates["state"], updates["next_attempt_at"],
         updates["completed_at"], updates["done_by"], callback_id],
    )


def _select_callbacks(db: Database, states: list[str]) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in states)
    return list(db.query(
        f"SELECT * FROM callbacks WHERE state IN ({marks}) ORDER BY call_started_at, id", states
    ))


def _get_callback(db: Database, callback_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM callbacks WHERE id = ?", [callback_id]))
    return rows[0] if rows else None


def _decode_callback(row: dict[str, Any]) -> CallbackRequest:
    return CallbackRequest(
        id=row["id"],
        call_uuid=row["call_uuid"],
        number=row["number"],
        call_started_at=datetime.fromisoformat(row["call_started_at"]),
        requested_at=datetime.fromisoformat(row["requested_at"]),
        extensions=tuple(ext for ext in row["extensions"].split(",") if ext),
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=_dt(row["next_attempt_at"]),
        last_result=row["last_result"],
        completed_at=_dt(row["completed_at"]),
        done_at=_dt(row["done_at"]),
        done_by=row["done_by"],
        reason=row["reason"],
    )


def _callback_done(db: Database, callback_id: int, by: str, at: str) -> bool:
    cursor = db.execute(
        "UPDATE callbacks SET state = 'done', done_at = ?, done_by = ?"
        " WHERE id = ? AND state IN ('pending', 'failed')",
        [at, by, callback_id],
    )
    return cursor.rowcount == 1


_SERVED = ", ".join(f"'{outcome}'" for outcome in SERVED_OUTCOMES)


_SERVED_LATER = (
    "EXISTS (SELECT 1 FROM calls AS later"
    " WHERE c.caller_number != '' AND later.caller_number = c.caller_number"
    " AND (later.started_at > c.started_at"
    "      OR later.started_at = c.started_at AND later.rowid > c.rowid)"
    f" AND (later.outcome IN ({_SERVED})"
    "      OR EXISTS (SELECT 1 FROM callbacks AS cb WHERE cb.call_uuid = later.uuid"
    "                 AND (cb.reason = 'requested' OR cb.state = 'completed'))))"
)
"""The patient of call `c` called again later and was served (live or called back), or asked
for a callback then."""


def _missed_calls(db: Database, since: str, missed_after: float) -> list[dict[str, Any]]:
    """Missed calls the staff still has to deal with: a patient with a callback pending or
    failed is in the callback list instead, and so is a missed call the daemon called back."""
    return list(db.query(
        "SELECT c.uuid, c.caller_number, c.caller_name, c.started_at, q.wait"
        " FROM calls AS c JOIN queue_events AS q ON q.call_uuid = c.uuid"
        " WHERE q.event = 'abandoned' AND q.wait > ? AND c.started_at >= ?"
        " AND c.uuid NOT IN (SELECT call_uuid FROM missed_done)"
        " AND NOT EXISTS (SELECT 1 FROM callbacks AS cb JOIN calls AS cc ON cc.uuid = cb.call_uuid"
        "   WHERE cb.call_uuid = c.uuid OR c.caller_number != ''"
        "   AND cc.caller_number = c.caller_number AND cb.state IN ('pending', 'failed'))"
        f" AND NOT {_SERVED_LATER}"
        " ORDER BY c.started_at, c.rowid",
        [missed_after, since],
    ))


def _served_again(db: Database, call_uuid: str) -> bool:
    rows = db.query(f"SELECT 1 FROM calls AS c WHERE c.uuid = ? AND {_SERVED_LATER}", [call_uuid])
    return any(True for _ in rows)


def _missed_done(db: Database, prefix: str, by: str, at: str) -> str | None:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = list(db.query(
        "SELECT uuid FROM calls WHERE uuid LIKE ? ESCAPE '\\' LIMIT 2", [escaped + "%"]
    ))
    if len(rows) != 1:
        return None
    uuid = rows[0]["uuid"]
    db.execute(
        "INSERT OR REPLACE INTO missed_done (call_uuid, done_at, done_by) VALUES (?, ?, ?)",
        [uuid, at, by],
    )
    return uuid


# --- the agenda's statements ---------------------------------------------------------------

NOT_CANCELLED = "a.state != 'cancelled'"


def _interval(row: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])


@contextmanager
def _write_locked(db: Database) -> Iterator[None]:
    """One transaction that takes SQLite's write lock first (BEGIN IMMEDIATE): what it reads
    cannot change before it commits, in this process or another."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.execute("COMMIT")


def _decode_practitioner(row: dict[str, Any]) -> Practitioner:
    return Practitioner(row["id"], row["name"], row["calendar"])


def _select_practitioners(db: Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM practitioners WHERE active = 1 ORDER BY id"))


def _upsert_practitioner(db: Database, practitioner: Practitioner) -> None:
    db.execute(
        "INSERT INTO practitioners (id, name, calendar, active) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, calendar = excluded.calendar,"
        " active = 1",
        [practitioner.id, practitioner.name, practitioner.calendar],
    )


def _deactivate_practitioner(db: Database, practitioner: str) -> bool:
    cursor = db.execute(
        "UPDATE practitioners SET active = 0 WHERE id = ? AND active = 1", [practitioner]
    )
    return cursor.rowcount == 1


def _check_practitioner(db: Database, practitioner: str) -> None:
    row = db.execute(
        "SELECT 1 FROM practitioners WHERE id = ? AND active = 1", [practitioner]
    ).fetchone()
    if row is None:
        raise UnknownPractitioner(f"no practitioner {practitioner!r}")


def _decode_hours(row: dict[str, Any]) -> ConsultationHours:
    return ConsultationHours(row["practitioner"], row["weekday"],
                             time_of_day.fromisoformat(row["start"]),
                             time_of_day.fromisoformat(row["end"]))


def _select_hours(db: Database, practitioner: str) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT * FROM consultation_hours WHERE practitioner = ? ORDER BY weekday, start",
        [practitioner],
    ))


def _replace_hours(
    db: Database, practitioner: str, weekday: int, rows: list[dict[str, Any]]
) -> None:
    with _write_locked(db):
        _check_practitioner(db, practitioner)
        db.execute("DELETE FROM consultation_hours WHERE practitioner = ? AND weekday = ?",
                   [practitioner, weekday])
        for row in rows:
            db.execute(
                "INSERT INTO consultation_hours (practitioner, weekday, start, [end])"
                " VALUES (?, ?, ?, ?)",
                [row["practitioner"], row["weekday"], row["start"], row["end"]],
            )


def _select_types(db: Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM appointment_types ORDER BY name"))


def _upsert_type(db: Database, kind: AppointmentType) -> None:
    db.execute(
        "INSERT INTO appointment_types (name, minutes, label) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET minutes = excluded.minutes, label = excluded.label",
        [kind.name, kind.minutes, kind.label],
    )


def _select_absences(db: Database, practitioner: str, start: str, end: str
                     ) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT * FROM absences WHERE practitioner = ? AND start < ? AND [end] > ?"
        " ORDER BY start",
        [practitioner, end, start],
    ))


def _insert_absence(db: Database, row: dict[str, Any]) -> int:
    with _write_locked(db):
        _check_practitioner(db, row["practitioner"])
        cursor = db.execute(
            "INSERT INTO absences (practitioner, start, [end], reason) VALUES (?, ?, ?, ?)",
            [row["practitioner"], row["start"], row["end"], row["reason"]],
        )
    return _new_id(cursor)


def _new_id(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise StoreError("no row was inserted")
    return cursor.lastrowid


def _decode_patient(row: dict[str, Any]) -> Patient:
    born = row["birth_date"]
    return Patient(row["id"], row["name"], row["phone"],
                   None if born is None else date.fromisoformat(born))


def _select_patients(db: Database, column: str, value: object) -> list[dict[str, Any]]:
    if column not in ("id", "phone", "birth_date"):
        raise ValueError(f"patients are not looked up by {column!r}")
    return list(db.query(f"SELECT * FROM patients WHERE {column} = ? ORDER BY id", [value]))


def _add_patients(db: Database, rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], bool]]:
    added = []
    with _write_locked(db):
        for row in rows:
            same = db.execute(
                "SELECT id FROM patients WHERE name = ? AND phone = ? AND birth_date IS ?",
                [row["name"], row["phone"], row["birth_date"]],
            ).fetchone()
            if same is not None:
                added.append(({**row, "id": same[0]}, False))
                continue
            cursor = db.execute(
                "INSERT INTO patients (name, phone, birth_date) VALUES (?, ?, ?)",
                [row["name"], row["phone"], row["birth_date"]],
            )
            added.append(({**row, "id": _new_id(cursor)}, True))
    return added


def _select_booked(db: Database, practitioner: str, start: str, end: str
                   ) -> list[dict[str, Any]]:
    return list(db.query(
        f"SELECT start, [end] FROM appointments AS a WHERE practitioner = ? AND {NOT_CANCELLED}"
        " AND start < ? AND [end] > ? ORDER BY start",
        [practitioner, end, start],
    ))


def _select_appointments(
    db: Database, where: str, args: list[Any], states: str = "active"
) -> list[dict[str, Any]]:
    """`states`: ``active`` (not cancelled) or ``any``."""
    state = "" if states == "any" else f" AND {NOT_CANCELLED}"
    return list(db.query(
        "SELECT a.*, p.name AS patient_name, p.phone AS phone FROM appointments AS a"
        f" LEFT JOIN patients AS p ON p.id = a.patient_id WHERE {where}{state}"
        " ORDER BY a.start, a.id",
        args,
    ))


def _decode_appointment(row: dict[str, Any]) -> Appointment:
    return Appointment(
        id=str(row["id"]),
        practitioner=row["practitioner"],
        start=datetime.fromisoformat(row["start"]),
        end=datetime.fromisoformat(row["end"]),
        kind=row["kind"],
        patient_id=row["patient_id"],
        patient_name=row["patient_name"] or "",
        phone=row["phone"] or "",
        state=row["state"],
        booked_by=row["booked_by"],
    )


def _book(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    with _write_locked(db):
        _check_practitioner(db, row["practitioner"])
        if row["patient_id"] is not None and not _select_patients(db, "id", row["patient_id"]):
            raise UnknownPatient(f"no patient {row['patient_id']}")
        if _select_booked(db, row["practitioner"], row["start"], row["end"]):
            raise SlotTaken(f"{row['practitioner']} is booked at that time")
        if _select_absences(db, row["practitioner"], row["start"], row["end"]):
            raise PractitionerAbsent(f"{row['practitioner']} is absent at that time")
        cursor = db.execute(
            "INSERT INTO appointments (practitioner, start, [end], kind, patient_id, state,"
            " booked_by, booked_at, call_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row[name] for name in ("practitioner", "start", "end", "kind", "patient_id",
                                    "state", "booked_by", "booked_at", "call_uuid")],
        )
    return _select_appointments(db, "a.id = ?", [_new_id(cursor)])[0]


def _set_appointment_state(
    db: Database, appointment_id: int, state: str, marks: dict[str, str]
) -> None:
    columns = "".join(f", {name} = ?" for name in marks)
    cursor = db.execute(
        f"UPDATE appointments SET state = ?{columns} WHERE id = ? AND state != 'cancelled'",
        [state, *marks.values(), appointment_id],
    )
    if cursor.rowcount == 0:
        raise UnknownAppointment(f"no appointment {appointment_id} (or it was cancelled)")


def _request_row(request: BookingRequest, at: datetime) -> dict[str, Any]:
    if request.action not in BOOKING_ACTIONS:
        raise ValueError(f"unknown booking action {request.action!r}")
    if request.preferred_times not in PREFERRED_TIMES:
        raise ValueError(f"unknown preferred times {request.preferred_times!r}")
    if any(day not in range(7) for day in request.preferred_days):
        raise ValueError(f"weekdays are 0 to 6, not {request.preferred_days!r}")
    return {
        "created_at": _ts(at),
        "kind": request.kind,
        "practitioner": request.practitioner,
        "preferred_days": ",".join(str(day) for day in request.preferred_days),
        "preferred_times": request.preferred_times,
        "callback_number": request.callback_number,
        "call_uuid": request.call_uuid,
        "patient_id": request.patient_id,
        "action": request.action,
        "appointment_id": request.appointment_id,
        "details": json.dumps(request.details, ensure_ascii=False, separators=(",", ":")),
    }


def _decode_request(row: dict[str, Any]) -> FiledBookingRequest:
    request = BookingRequest(
        kind=row["kind"],
        practitioner=row["practitioner"],
        preferred_days=tuple(int(day) for day in row["preferred_days"].split(",") if day),
        preferred_times=row["preferred_times"],
        callback_number=row["callback_number"],
        call_uuid=row["call_uuid"],
        patient_id=row["patient_id"],
        action=row["action"],
        appointment_id=row["appointment_id"],
        details=json.loads(row["details"]),
    )
    return FiledBookingRequest(
        id=row["id"],
        request=request,
        created_at=datetime.fromisoformat(row["created_at"]),
        done_at=_dt(row["done_at"]),
        done_by=row["done_by"],
    )


def _select_requests(db: Database, include_done: bool) -> list[dict[str, Any]]:
    where = None if include_done else "done_at IS NULL"
    rows = _table(db, "booking_requests").rows_where(where, order_by="created_at DESC, id DESC")
    return list(rows)


def _get_request(db: Database, request_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM booking_requests WHERE id = ?", [request_id]))
    return rows[0] if rows else None


def _booking_request_done(db: Database, request_id: int, by: str, at: str) -> bool:
    cursor = db.execute(
        "UPDATE booking_requests SET done_at = ?, done_by = ? WHERE id = ? AND done_at IS NULL",
        [at, by, request_id],
    )
    return cursor.rowcount == 1


def _mark_message_done(db: Database, call_uuid: str, by: str, at: str) -> bool:
    cursor = db.execute(
        "INSERT OR IGNORE INTO message_done (call_uuid, done_at, done_by) VALUES (?, ?, ?)",
        [call_uuid, at, by],
    )
    return cursor.rowcount == 1


def _message_marks(db: Database) -> dict[str, tuple[datetime, str]]:
    rows = db.query("SELECT call_uuid, done_at, done_by FROM message_done")
    return {row["call_uuid"]: (datetime.fromisoformat(row["done_at"]), row["done_by"])
            for row in rows}


def _insert_reminder(db: Database, row: dict[str, Any]) -> None:
    _table(db, "reminders").insert(row, ignore=True)


_REMINDERS_BY_TIME = " ORDER BY starts_at, id"


def _due_reminders(db: Database, run_date: str, now: str) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT * FROM reminders WHERE run_date = ? AND state = 'pending'"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)" + _REMINDERS_BY_TIME,
        [run_date, now],
    ))


def _run_reminders(db: Database, run_date: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM reminders WHERE run_date = ?" + _REMINDERS_BY_TIME,
                         [run_date]))


def _reminder_calling(db: Database, reminder_id: int, at: str) -> bool:
    cursor = db.execute(
        "UPDATE reminders SET state = 'calling', attempts = attempts + 1, last_attempt_at = ?,"
        " next_attempt_at = NULL WHERE id = ? AND state = 'pending'",
        [at, reminder_id],
    )
    return cursor.rowcount == 1


def _update_reminder(db: Database, reminder_id: int, updates: dict[str, Any]) -> None:
    columns = ", ".join(f"[{name}] = ?" for name in updates)
    db.execute(f"UPDATE reminders SET {columns} WHERE id = ?", [*updates.values(), reminder_id])


def _reminders_cut(db: Database, at: str) -> None:
    db.execute(
        "UPDATE reminders SET state = 'failed', last_result = 'interrupted', ended_at = ?"
        " WHERE state = 'calling'",
        [at],
    )


def _reminders_over(db: Database, run_date: str, at: str) -> None:
    db.execute(
        "UPDATE reminders SET state = CASE WHEN attempts > 0 THEN 'no_answer' ELSE 'failed' END,"
        " last_result = coalesce(last_result, 'outside the window'), next_attempt_at = NULL,"
        " ended_at = ? WHERE state = 'pending' AND run_date < ?",
        [at, run_date],
    )


def _decode_reminder(row: dict[str, Any]) -> Reminder:
    return Reminder(
        id=row["id"],
        appointment_id=row["appointment_id"],
        run_date=row["run_date"],
        starts_at=datetime.fromisoformat(row["starts_at"]),
        practitioner=row["practitioner"],
        patient_name=row["patient_name"],
        number=row["number"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=_dt(row["next_attempt_at"]),
        last_result=row["last_result"],
        answer=row["answer"],
        last_attempt_at=_dt(row["last_attempt_at"]),
        ended_at=_dt(row["ended_at"]),
    )


def _decode_console_user(row: dict[str, Any]) -> ConsoleUser:
    return ConsoleUser(row["name"], row["password_hash"],
                       datetime.fromisoformat(row["created_at"]),
                       datetime.fromisoformat(row["changed_at"]))


def _select_console_users(db: Database, name: str | None = None) -> list[dict[str, Any]]:
    if name is None:
        return list(db.query("SELECT * FROM console_users ORDER BY name"))
    return list(db.query("SELECT * FROM console_users WHERE name = ?", [name]))


def _insert_console_user(db: Database, name: str, password_hash: str, at: str) -> bool:
    cursor = db.execute(
        "INSERT OR IGNORE INTO console_users (name, password_hash, created_at, changed_at)"
        " VALUES (?, ?, ?, ?)", [name, password_hash, at, at])
    return cursor.rowcount == 1


def _update_console_password(db: Database, name: str, password_hash: str, at: str) -> bool:
    cursor = db.execute(
        "UPDATE console_users SET password_hash = ?, changed_at = ? WHERE name = ?",
        [password_hash, at, name])
    db.execute("DELETE FROM console_sessions WHERE user = ?", [name])
    return cursor.rowcount == 1


def _delete_console_user(db: Database, name: str) -> bool:
    cursor = db.execute("DELETE FROM console_users WHERE name = ?", [name])
    db.execute("DELETE FROM console_sessions WHERE user = ?", [name])
    return cursor.rowcount == 1


def _insert_console_session(db: Database, session: ConsoleSession) -> None:
    _table(db, "console_sessions").insert({
        "token_hash": session.token_hash, "user": session.user, "csrf": session.csrf,
        "created_at": _ts(session.created_at), "expires_at": _ts(session.expires_at),
        "extension": session.extension,
    })


def _select_console_session(db: Database, token_hash: str, now: str) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT s.* FROM console_sessions s JOIN console_users u ON u.name = s.user"
        " WHERE s.token_hash = ? AND s.expires_at > ?", [token_hash, now]))


def _decode_console_session(row: dict[str, Any]) -> ConsoleSession:
    return ConsoleSession(row["token_hash"], row["user"], row["csrf"],
                          datetime.fromisoformat(row["created_at"]),
                          datetime.fromisoformat(row["expires_at"]), row["extension"])


def _update_console_extension(db: Database, token_hash: str, extension: str | None) -> None:
    db.execute("UPDATE console_sessions SET extension = ? WHERE token_hash = ?",
               [extension, token_hash])


def _delete_console_session(db: Database, token_hash: str) -> None:
    db.execute("DELETE FROM console_sessions WHERE token_hash = ?", [token_hash])


def _purge_console_sessions(db: Database, now: str) -> int:
    return db.execute("DELETE FROM console_sessions WHERE expires_at <= ?", [now]).rowcount


def _insert_console_action(db: Database, row: dict[str, Any]) -> None:
    _table(db, "console_actions").insert(row)


def _select_console_actions(db: Database, since: str | None) -> list[dict[str, Any]]:
    if since is None:
        return list(db.query("SELECT * FROM console_actions ORDER BY at, id"))
    return list(db.query("SELECT * FROM console_actions WHERE at >= ? ORDER BY at, id",
                         [since]))
