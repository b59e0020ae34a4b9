"""Reminder calls: the patient is called before their appointment and confirms (1) or cancels
(2) it; the answer is written to the agenda.

Which appointments. On a calling day (``[reminders] days``, not a public holiday of the
schedule) the run reminds the appointments of the day `days_before` days ahead, and of the
days after it that no later calling day will remind (with the defaults, Saturday calls for
Monday). The run's reminders are stored when the loop first sees them (`Store.reminder_planned`,
one row per appointment id, ever): a restart never calls a patient twice, and an appointment
booked later that day still gets its reminder.

When. Only inside ``[reminders] window`` (local times), at most ``max_calls`` at once, the
soonest appointment first. A patient who does not answer (or is busy) is called again
``retry_minutes`` later, at most ``retries`` more times, inside the windows of the same day;
pending reminders of a past run are closed (``no_answer``, or ``failed`` when never called). A
reminder is marked ``calling`` (a waited write) before its call is placed; one a stopped daemon
left ``calling`` is ``failed`` at the next start, never placed again.

The call. From the control connection, ``originate {…}sofia/gateway/<gateway>/<number>
'&socket(<the daemon's address> async full)'`` (`esl.commands.into_socket`): the practice's
number shown ([trunk] caller_id), the socket's token and `commands.REMINDER` (the reminder's id)
on the leg. Once the patient answers, FreeSWITCH connects the leg to the daemon's outbound
socket like any call, and `Daemon._handle_call` hands it to `ReminderDesk.converse`: the same
`CallSession` as incoming calls. The sentences (`frontdesk.speech.appointment` for the day,
time and practitioner) are rendered by the Announcer before the call is placed: a patient
never gets a silent call.

The conversation. "Bonjour, ici <practice>, nous vous rappelons votre rendez-vous demain mardi
huit décembre à quatorze heures trente avec le docteur Martin. Pour le confirmer tapez 1, pour
l'annuler tapez 2." (twice at most). 1: `Agenda.confirm`; 2: "to confirm the cancellation press
1, to keep it press 2", then `Agenda.cancel` (the slot is free at once). The keys pressed and the
new state are stored with the reminder (`frontdesk reminders` lists them).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import gevent
import gevent.event
import structlog

from frontdesk._background import BackgroundLoop
from frontdesk.agenda import (
    ACTIVE,
    Agenda,
    AgendaError,
    AgendaHealth,
    AgendaUnavailable,
    Appointment,
    within,
)
from frontdesk.config.loader import may_dial
from frontdesk.config.model import WEEKDAY_NAMES, Config
from frontdesk.esl import CallGone, CallSession, ESLError, commands, socket_token
from frontdesk.esl.outbound import TOKEN_VARIABLE
from frontdesk.logs import mask_number
from frontdesk.speech import appointment as spoken
from frontdesk.store import Reminder, Store

if TYPE_CHECKING:
    from frontdesk.clock import Clock
    from frontdesk.esl import ControlConnection
    from frontdesk.queue.announce import Announcer
    from frontdesk.records import Records
    from frontdesk.schedule import Schedule

log = structlog.get_logger(__name__)

CHECK_EVERY = 60.0
"""Seconds between two looks at the agenda and the due reminders (sooner when a call ends)."""
JOB_MARGIN = 10.0
"""Seconds the originate's result may take beyond the ringing."""
CONVERSATION_LIMIT = 300.0
"""Seconds (daemon clock) a placed call may last before its slot is given to another."""
RETRY_CAUSES = frozenset({
    "NO_ANSWER", "USER_BUSY", "NO_USER_RESPONSE", "CALL_REJECTED", "ORIGINATOR_CANCEL",
    "RECOVERY_ON_TIMER_EXPIRE", "FREESWITCH_UNREACHABLE",
})
"""Why an attempt is worth another one later (the patient did not take the call)."""
KEY_TIMEOUT_MS = 8000
BY = "reminder"
"""Who confirmed or cancelled, as the agenda records it."""

_SENTENCES = {
    "fr": {
        "reminder": "Bonjour, ici {practice}, nous vous rappelons votre rendez-vous "
                    "{appointment}. Pour le confirmer tapez 1, pour l'annuler tapez 2.",
        "cancel": "Pour confirmer l'annulation de votre rendez-vous tapez 1, pour le garder "
                  "tapez 2.",
        "confirmed": "Merci, votre rendez-vous est confirmé. Au revoir.",
        "cancelled": "Votre rendez-vous est annulé. Merci de nous avoir prévenus. Au revoir.",
        "kept": "Votre rendez-vous est maintenu. Au revoir.",
        "failed": "Votre réponse n'a pas pu être enregistrée. Merci d'appeler le cabinet. "
                  "Au revoir.",
    },
    "en": {
        "reminder": "Hello, this is {practice}, reminding you of your appointment "
                    "{appointment}. To confirm it press 1, to cancel it press 2.",
        "cancel": "To confirm the cancellation of your appointment press 1, to keep it "
                  "press 2.",
        "confirmed": "Thank you, your appointment is confirmed. Goodbye.",
        "cancelled": "Your appointment is cancelled. Thank you for letting us know. Goodbye.",
        "kept": "Your appointment is kept. Goodbye.",
        "failed": "Your answer could not be recorded. Please call the practice. Goodbye.",
    },
}
_RELATIVE = {"fr": {1: "demain", 2: "après-demain"}, "en": {1: "tomorrow"}}
_ON = {"fr": "du", "en": "on"}


class Reminding(Protocol):
    """What the reminder calls use of the running daemon (the config of its last reload)."""

    config: Config
    clock: Clock
    records: Records
    agenda: Agenda | None
    agenda_health: AgendaHealth
    announcer: Announcer
    control: ControlConnection
    schedule: Schedule

    @property
    def port(self) -> int: ...


@dataclass(frozen=True)
class Answer:
    """How one reminder call ended."""

    state: str
    """The reminder's new state (see `frontdesk.store.REMINDER_STATES`)."""
    result: str
    keys: str = ""


@dataclass
class _Call:
    """A reminder call being placed or under way."""

    reminder: Reminder
    appointment: Appointment
    leg: str
    spoken: dict[str, Path]
    """The rendered sentences by name (see _SENTENCES)."""
    done: gevent.event.AsyncResult[Answer] = field(default_factory=gevent.event.AsyncResult)


def spoken_appointment(
    appointment: Appointment, practitioner: str, today: date, zone: ZoneInfo, language: str
) -> str:
    """ "demain mardi huit décembre à quatorze heures trente avec le docteur Martin"."""
    local = appointment.start.astimezone(zone)
    prefix = _RELATIVE[language].get((local.date() - today).days) or _ON[language]
    return f"{prefix} {spoken(local, practitioner, language)}"


class ReminderDesk(BackgroundLoop):
    """Places the reminder calls of a running daemon (see the module docstring)."""

    def __init__(self, daemon: Reminding) -> None:
        super().__init__()
        self.daemon = daemon
        self.calls: dict[int, _Call] = {}
        """Reminder calls placed or under way, by reminder id (at most max_calls)."""
        self._wake = gevent.event.Event()
        self._placing: set[gevent.Greenlet] = set()

    def stop(self) -> None:
        """Stop looking and placing; a call under way is left ``calling`` (the next start
        marks it failed: never placed twice)."""
        super().stop()
        gevent.killall(list(self._placing))
        self._placing.clear()
        self.calls.clear()

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        self.daemon.records(Store.reminders_cut, self.daemon.clock.wall())
        while True:
            self._wake.clear()  # a call ending from now on wakes the next look
            try:
                self.look()
            except Exception:
                log.exception("reminders.failed")
            self.daemon.clock.wait(self._wake, CHECK_EVERY)

    def look(self) -> None:
        """Plan the run's reminders and place those due, within the limits."""
        daemon = self.daemon
        settings = daemon.config.reminders
        if not settings.enabled or daemon.agenda is None:
            return
        now = daemon.clock.wall()
        local = now.astimezone(self.zone)
        today = local.date()
        run = today.isoformat()
        daemon.records(Store.reminders_over, run, now)
        if not self.calling_day(today) or not self.in_window(local):
            return
        appointments = self._plan(daemon.agenda, today, now)
        if appointments is None:
            return
        for reminder in daemon.records(Store.due_reminders, run, now) or []:
            if len(self.calls) >= settings.max_calls:
                break
            if reminder.id not in self.calls:
                self._start(reminder, appointments.get(reminder.appointment_id))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.daemon.config.practice.timezone)

    def calling_day(self, day: date) -> bool:
        """Reminder calls are placed on `day`: one of [reminders] days, not a holiday."""
        settings = self.daemon.config.reminders
        return (WEEKDAY_NAMES[day.weekday()] in settings.days
                and self.daemon.schedule.holiday(day) is None)

    def in_window(self, local: datetime) -> bool:
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in self.daemon.config.reminders.window)

    def reminded_days(self, today: date) -> list[date]:
        """The days whose appointments today's run reminds: `days_before` ahead, and the days
        after it no later calling day will remind."""
        before = timedelta(days=self.daemon.config.reminders.days_before)
        days = [today + before]
        while len(days) < 14 and not self.calling_day(days[-1] + timedelta(days=1) - before):
            days.append(days[-1] + timedelta(days=1))
        return days

    def _plan(self, agenda: Agenda, today: date, now: datetime) -> dict[str, Appointment] | None:
        """Store a reminder for each booked appointment of the reminded days; the run's
        appointments by id (None when the agenda cannot be read now)."""
        days = self.reminded_days(today)
        start = datetime.combine(days[0], datetime.min.time(), self.zone)
        end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), self.zone)
        settings = self.daemon.config.agenda
        try:
            with within(settings.timeout if settings is not None else 5.0):
                appointments = agenda.between(start, end)
                names = {p.id: p.name for p in agenda.directory.practitioners()}
        except AgendaError as error:
            self.daemon.agenda_health.failed(error)
            return None
        self.daemon.agenda_health.worked()
        for appointment in appointments:
            if appointment.state == ACTIVE and appointment.start > now:
                self.daemon.records(
                    Store.reminder_planned, appointment.id, run_date=today.isoformat(),
                    starts_at=appointment.start,
                    practitioner=names.get(appointment.practitioner, appointment.practitioner),
                    patient_name=appointment.patient_name, number=appointment.phone, at=now,
                )
        return {appointment.id: appointment for appointment in appointments}

    # -- placing one call ----------------------------------------------------------------

    def _start(self, reminder: Reminder, appointment: Appointment | None) -> None:
        now = self.daemon.clock.wall()
        if appointment is None or appointment.state != ACTIVE:
            self._ended(reminder, Answer("skipped", "appointment cancelled or moved"))
            return
        number = commands.digits(reminder.number)
        if not number or not may_dial(self.daemon.config, number):
            self._ended(reminder, Answer("failed", "no number to call"))
            return
        spoken = self._sentences(appointment, reminder.practitioner, now)
        if spoken is None:  # being rendered: the next look places it
            return
        if not self.daemon.records(Store.reminder_calling, reminder.id, at=now):
            return
        call = _Call(reminder, appointment, str(uuidlib.uuid4()), spoken)
        self.calls[reminder.id] = call
        placing = gevent.spawn(self._place, call, number)
        self._placing.add(placing)
        placing.link(self._placing.discard)

    def _sentences(
        self, appointment: Appointment, practitioner: str, now: datetime
    ) -> dict[str, Path] | None:
        config = self.daemon.config
        language = config.practice.language
        texts = dict(_SENTENCES[language])
        today = now.astimezone(self.zone).date()
        texts["reminder"] = texts["reminder"].format(
            practice=config.practice.name,
            appointment=spoken_appointment(appointment, practitioner, today, self.zone,
                                           language),
        )
        spoken = {name: self.daemon.announcer.render(text) for name, text in texts.items()}
        if any(path is None for path in spoken.values()):
            log.warning("reminders.sentence_not_ready")
            return None
        return {name: path for name, path in spoken.items() if path is not None}

    def _place(self, call: _Call, number: str) -> None:
        daemon = self.daemon
        settings = daemon.config.reminders
        reminder = call.reminder
        fs = daemon.config.freeswitch
        variables = {
            TOKEN_VARIABLE: socket_token(fs.esl_password),
            commands.REMINDER: str(reminder.id),
            **commands.caller_id(daemon.config.presented_number, daemon.config.practice.name),
        }
        command = commands.into_socket(
            call.leg, commands.gateway_target(fs.gateway, number), settings.ring_seconds,
            variables, (fs.listen_host, daemon.port),
        )
        log.info("reminders.calling", reminder=reminder.id, number=mask_number(number),
                 attempt=reminder.attempts + 1)
        try:
            try:
                reply = daemon.control.bgapi(command, timeout=settings.ring_seconds + JOB_MARGIN)
            except ESLError as error:
                log.warning("reminders.originate_failed", reminder=reminder.id, error=str(error))
                reply = "-ERR FREESWITCH_UNREACHABLE"
            if commands.succeeded(reply):
                talked = daemon.clock.wait(call.done, CONVERSATION_LIMIT)
                answer = (call.done.get() if talked else None) or Answer("failed",
                                                                         "no conversation")
            else:
                answer = self._not_answered(reminder, commands.cause(reply))
            self._ended(reminder, answer)
        finally:
            self.calls.pop(reminder.id, None)
            self._wake.set()

    def _not_answered(self, reminder: Reminder, cause: str) -> Answer:
        """Another attempt later, or the last one; `Answer.state` ``pending`` for a retry."""
        if cause not in RETRY_CAUSES:
            return Answer("failed", cause)
        if reminder.attempts + 1 <= self.daemon.config.reminders.retries:
            return Answer("pending", cause)
        return Answer("no_answer", cause)

    def _ended(self, reminder: Reminder, answer: Answer) -> None:
        now = self.daemon.clock.wall()
        retry = None
        if answer.state == "pending":
            retry = now + timedelta(minutes=self.daemon.config.reminders.retry_minutes)
        self.daemon.records(Store.reminder_ended, reminder.id, state=answer.state,
                            result=answer.result, at=now, answer=answer.keys or None,
                            next_attempt_at=retry)
        log.info("reminders.ended", reminder=reminder.id, state=answer.state,
                 result=answer.result)

    # -- the conversation ----------------------------------------------------------------

    def converse(self, session: CallSession) -> None:
        """A reminder call the patient answered, handed to the daemon's socket (its channel
        has `commands.REMINDER`); the answer goes to the placing greenlet."""
        ident = session.variable(commands.REMINDER) or ""
        call = self.calls.get(int(ident)) if ident.isdigit() else None
        if call is None or call.leg != session.uuid:
            log.warning("reminders.unknown_call", reminder=ident)
            session.hangup()
            return
        answer = Answer("answered", "hung up")
        try:
            answer = self._talk(session, call)
        except (CallGone, ESLError) as error:
            log.info("reminders.call_lost", reminder=ident, error=str(error))
        finally:
            call.done.set(answer)
            if not session.hungup.is_set():
                session.hangup()

    def _talk(self, session: CallSession, call: _Call) -> Answer:
        spoken = call.spoken
        key = self._ask(session, spoken["reminder"], tries=2)
        if key == "1":
            return self._write(session, call, "confirmed", "1")
        if key != "2":
            session.execute("playback", str(spoken["kept"]))
            return Answer("answered", "no key")
        second = self._ask(session, spoken["cancel"], tries=1)
        if second == "1":
            return self._write(session, call, "cancelled", "2,1")
        session.execute("playback", str(spoken["kept"]))
        return Answer("answered", "kept", "2" + (f",{second}" if second else ""))

    def _ask(self, session: CallSession, prompt: Path, *, tries: int) -> str | None:
        for _ in range(tries):
            digits, _outcome = session.read_digits(
                str(prompt), variable=f"fd_reminder_{uuidlib.uuid4().hex[:8]}",
                regex="^[12]$", timeout_ms=KEY_TIMEOUT_MS,
            )
            if digits is not None:
                return digits
        return None

    def _write(self, session: CallSession, call: _Call, state: str, keys: str) -> Answer:
        """Write the patient's answer to the agenda, then tell them."""
        agenda = self.daemon.agenda
        try:
            if agenda is None:
                raise AgendaUnavailable("no agenda since the last reload")
            if state == "confirmed":  # a write: never cut short (frontdesk.agenda.within)
                agenda.confirm(call.appointment, by=BY)
            else:
                agenda.cancel(call.appointment, by=BY)
        except AgendaError as error:
            log.warning("reminders.answer_not_written", reminder=call.reminder.id,
                        answer=state, error=str(error))
            session.execute("playback", str(call.spoken["failed"]))
            return Answer("failed", f"agenda: {error}", keys)
        session.execute("playback", str(call.spoken[state]))
        return Answer(state, state, keys)
