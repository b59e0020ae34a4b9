"""Callbacks instead of waiting, and the staff's lists of callbacks and missed patients.

On hold, a caller who presses ``[queue] callback_key`` confirms the number to call back
(`confirm_number`: their caller id read back, or typed when hidden), hears the thanks prompt
and is hung up. They KEEP THEIR PLACE: their `Waiting` entry stays in the queue, marked with a
`Ticket`, ordered by the time their call began. When their turn comes (`CallbackDesk`):

1. a staff phone is rung as for any caller (``originate … user/EXT &park()``);
2. once it answers, the staff member hears a ringing tone (``uuid_broadcast`` of `RINGBACK` on
   their parked leg) while the patient is called from the control connection:
   ``bgapi originate {origination_uuid=<leg>,…}sofia/gateway/<gateway>/<digits> &park()``;
3. when the patient answers, ``uuid_bridge <patient leg> <staff leg>`` (which ends the tone).

The patient's leg shows the practice's number and name (``origination_caller_id_*`` from
[trunk] caller_id: FreeSWITCH does not apply the gateway's caller id to an api originate).
At start and after every control reconnection `check_gateway` asks FreeSWITCH whether the
gateway exists; while it does not, no callback is placed (no staff phone is rung for a call
that cannot be made): they stay pending, in the staff's list, and an error is logged once.

With ``call_back_missed`` (on by default), a patient who hung up after waiting at least
``missed_after`` seconds (in the queue, or at the voicemail it sent them to, without leaving a
message) is called back the same way (`CallbackDesk.missed`, reason ``missed``), but only when
the desk is free: such a callback comes after every caller waiting on the line, and is dropped
when the patient called again and was served meanwhile. A patient who was offered a callback
and confirmed no number is not called back this way either. A hidden or undialable number, or a
number that already has a callback pending, gets none (the staff's missed list shows it).

A patient who does not answer (or is busy) is tried again ``callback_retry_seconds`` later, up
to ``callback_retries`` more times; then the request lands in the staff's callback list (state
``failed``). Callbacks are only placed while the practice is open (schedule state ``open``,
override included); outside opening hours they wait. Requests are stored (``callbacks``
table), so pending ones survive a daemon restart. Queue events of the call:
``callback_requested``, ``callback_placed`` (staff answered, patient being called),
``callback_completed``, ``callback_failed``.

For the staff (``frontdesk callbacks``), reading and writing the database only:
- `pending_callbacks(store)` -> [`CallbackRequest`]: waiting to be placed (``pending``) and
  given up after every retry (``failed``: call the patient yourself), in queue order;
- `missed_patients(store, now, missed_after=…)` -> [`MissedCall`]: patients who hung up after
  waiting longer than ``missed_after`` seconds, unless they called again and were served (or
  asked for a callback), one line per number;
- `mark_done(store, ref, by, now=None)` -> bool: ``ref`` is a callback's id (digits) or a
  missed call's uuid (or a unique prefix of it, 4 characters at least).
"""

from __future__ import annotations

import itertools
import re
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import gevent
import structlog

from frontdesk.config.model import QueueSettings
from frontdesk.esl import CallSession, ESLError, commands
from frontdesk.esl.commands import (
    dial_string,
    gateway_known,
    gateway_status,
    gateway_target,
    originate,
)
from frontdesk.queue.core import FrontdeskQueue, Waiting
from frontdesk.speech import phone_number
from frontdesk.store import CallbackRequest, MissedCall, Store

log = structlog.get_logger(__name__)

PATIENT_RING_SECONDS = 30
"""How long the patient's phone rings for a callback."""
RINGBACK = {
    "FR": "%(1500,3500,440)",
    "BE": "%(1000,3000,425)",
    "CH": "%(1000,4000,425)",
    "GB": "%(400,200,400,450);%(400,2000,400,450)",
    "US": "%(2000,4000,440,480)",
    "CA": "%(2000,4000,440,480)",
}
"""The ringing tone staff hear while the patient's phone rings (FreeSWITCH tone_stream
notation, on ms, off ms, Hz), by practice country; others: the ETSI tone."""
ETSI_RINGBACK = "%(1000,4000,425)"
CALLBACK_LABEL = {"fr": "Rappel", "en": "Callback"}
"""One word (it goes into a dial string unquoted)."""
POLL_SECONDS = 60.0
"""While callbacks wait (closed, lunch), the queue looks again this often (queue seconds)."""
MIN_DIGITS, MAX_DIGITS = 6, 15
"""A number to call back: digits only, 6 to 15 of them (no short or service numbers)."""
KEY_TIMEOUT_MS = 6000
TYPING_TIMEOUT_MS = 10000
INTER_DIGIT_MS = 4000
MISSED_WITHIN = timedelta(days=7)
"""How far back `missed_patients` looks."""

_SENTENCES = {
    "fr": {
        "read_back": "Nous vous rappellerons au {number}.",
        "type": "Tapez le numéro auquel nous pouvons vous rappeler, suivi de la touche dièse.",
    },
    "en": {
        "read_back": "We will call you back on {number}.",
        "type": "Please type the number we can call you back on, followed by the hash key.",
    },
}
_variables = itertools.count(1)


@dataclass
class Ticket:
    """A waiting entry that asked to be called back (`Waiting.callback`)."""

    id: int
    number: str
    attempts: int = 0
    ready: bool = False
    """False while the caller is still on the line (thanks prompt): not placed yet."""
    missed: bool = False
    """A missed patient called back (reason ``missed``): after every caller on the line."""


def ringback_tone(country: str) -> str:
    """The practice country's ringing tone, endless (stopped by uuid_break or uuid_bridge)."""
    return f"tone_stream://{RINGBACK.get(country, ETSI_RINGBACK)};loops=-1"


# --- on hold: confirming the number -----------------------------------------------------


def callback_digits(number: str) -> str:
    """The digits of a caller id ("+33 6 39…" -> "+33639…"); "" when hidden or too short."""
    digits = re.sub(r"[^0-9+]", "", number or "")
    digits = digits[:1] + digits[1:].replace("+", "")
    return digits if MIN_DIGITS <= len(digits.lstrip("+")) <= MAX_DIGITS else ""


def confirm_number(
    session: CallSession,
    *,
    caller_number: str,
    settings: QueueSettings,
    language: str,
    prompt_uri: Callable[[str], str],
    invalid_uri: str,
    say: Callable[[str], str | None],
    dialable: Callable[[str], bool],
) -> str | None:
    """Ask the caller which number to call back; None if they did not confirm one.

    A caller id is read back (`say` renders a sentence, None when it cannot) and confirmed with
    1 (``callback_prompt``: "press 1 … to give another number, press 2"); a hidden number, or
    2, lets the caller type one (6 to 15 digits, then #). `dialable` refuses numbers frontdesk
    may not dial (international ones unless allowed)."""
    assert settings.callback_prompt is not None
    known = callback_digits(caller_number)
    sentences = _SENTENCES[language]
    if known and dialable(known):
        _say(session, say, sentences["read_back"].format(number=phone_number(known, language)))
        key = _ask(session, 1, 1, KEY_TIMEOUT_MS, prompt_uri(settings.callback_prompt),
                   invalid_uri, "^[12]$")
        if key == "1":
            return known
        if key != "2":
            return None
    prompt = say(sentences["type"]) or prompt_uri(settings.callback_prompt)
    typed = _ask(session, MIN_DIGITS, MAX_DIGITS, TYPING_TIMEOUT_MS, prompt, invalid_uri,
                 rf"^[0-9]{{{MIN_DIGITS},{MAX_DIGITS}}}$")
    if typed is None or not dialable(typed):
        return None
    _say(session, say, sentences["read_back"].format(number=phone_number(typed, language)))
    return typed


def _say(session: CallSession, say: Callable[[str], str | None], text: str) -> None:
    uri = say(text)
    if uri is not None:
        session.execute("playback", uri)


def _ask(
    session: CallSession,
    min_digits: int,
    max_digits: int,
    timeout_ms: int,
    prompt: str,
    invalid: str,
    regex: str,
) -> str | None:
    """Up to two tries; the invalid prompt after a wrong entry only (not after silence). The
    digits, or None."""
    for _ in range(2):
        digits, outcome = session.read_digits(
            prompt,
            variable=f"fd_callback_{next(_variables)}",
            regex=regex,
            timeout_ms=timeout_ms,
            min_digits=min_digits,
            max_digits=max_digits,
            inter_digit_ms=INTER_DIGIT_MS,
        )
        if digits is not None and digits.isdigit():
            return digits
        if outcome == "invalid":
            session.execute("playback", invalid)
    return None


# --- in the queue: placing callbacks ----------------------------------------------------


class CallbackDesk:
    """The queue's callbacks (see the module docstring). `may_call()` says whether callbacks
    may be placed now (opening hours); `record(method, …)` calls the store, never raises.
    Part of the queue: it works on the queue's own state (its entries, legs and events)."""

    def __init__(
        self,
        queue: FrontdeskQueue,
        *,
        gateway: str,
        country: str,
        language: str,
        may_call: Callable[[], bool],
        dialable: Callable[[str], bool],
        record: Callable[..., Any],
        clock: Callable[[], datetime],
        presented: Mapping[str, str] | None = None,
    ) -> None:
        self.queue = queue
        self.gateway = gateway
        self.presented = dict(presented or {})
        """Originate variables showing the practice's number on the patient's phone
        (`frontdesk.esl.commands.caller_id`)."""
        self.gateway_known: bool | None = None
        """What FreeSWITCH said of the gateway at the last (re)connection; None: not asked
        yet. Callbacks are placed only when True."""
        self.ringback = ringback_tone(country)
        self.label = CALLBACK_LABEL[language]
        """Shown as the caller's name on the staff phone rung for a callback."""
        self._may_call = may_call
        self._dialable = dialable
        self._record = record
        self._clock = clock
        self.pending: dict[int, Waiting] = {}
        """Every pending callback: in the queue, or waiting for its next attempt."""
        self._timers: dict[int, gevent.Greenlet] = {}
        self._poller: gevent.Greenlet | None = None
        queue.callbacks = self

    def start(self) -> None:
        """Take back the pending callbacks stored before a restart, in their queue order."""
        for request in self._record("callbacks", ("pending",)) or []:
            self._restore(request)
        self._poller = gevent.spawn(self._poll_forever)
        self.queue._changed()

    def stop(self) -> None:
        timers = list(self._timers.values())
        if self._poller is not None:
            timers.append(self._poller)
        gevent.killall(timers, block=False)
        self._timers.clear()

    # -- requests ----------------------------------------------------------------------

    def request(self, entry: Waiting, number: str) -> bool:
        """The caller confirmed `number`: store the request; the entry keeps its place but is
        not placed before `ready` (the caller has hung up). False if it could not be stored."""
        queue = self.queue
        callback_id = self._store(entry, number, "requested")
        if callback_id is None:
            return False
        entry.callback = Ticket(callback_id, number)
        self.pending[callback_id] = entry
        queue._cancel_offers(entry)
        queue._event(entry, "callback_requested", detail=f"callback={callback_id}")
        queue._changed()
        return True

    def missed(self, entry: Waiting) -> bool:
        """The caller of `entry` hung up unserved after waiting `entry.waited` seconds, without
        a message: call them back when the desk is free (``call_back_missed``). True when a
        callback was stored."""
        settings = self.queue.settings
        number = callback_digits(entry.caller_number)
        if (
            not settings.call_back_missed
            or entry.callback is not None
            or entry.declined_callback
            or entry.waited is None
            or entry.waited < settings.missed_after
            or not number
            or not self._dialable(number)
            or any(e.callback and e.callback.number == number for e in self.pending.values())
        ):
            return False
        callback_id = self._store(entry, number, "missed")
        if callback_id is None:
            return False
        again = Waiting(entry.uuid, number, entry.started, entry.entered, entry.emergency,
                        entry.extensions, entry.ring_timeout)
        again.callback = Ticket(callback_id, number, ready=True, missed=True)
        self.pending[callback_id] = again
        self.queue.waiting[again.uuid] = again
        self.queue._event(again, "callback_requested", wait=entry.waited,
                          detail=f"callback={callback_id},missed")
        log.info("queue.missed_call_back", callback=callback_id, waited=round(entry.waited))
        self.queue._changed()
        return True

    def _store(self, entry: Waiting, number: str, reason: str) -> int | None:
        """A pending callback in the store, placed by the time its call began; its id."""
        now = self._clock()
        began = now - timedelta(seconds=max(self.queue.now() - entry.started, 0.0))
        return self._record(
            "callback_requested",
            entry.uuid,
            number=number,
            call_started_at=began,
            requested_at=now,
            extensions=entry.extensions,
            reason=reason,
        )

    def ready(self, entry: Waiting) -> None:
        """The caller has hung up: their callback may be placed when their turn comes."""
        if entry.callback is not None:
            entry.callback.ready = True
            self.queue._changed()

    def _restore(self, request: CallbackRequest) -> None:
        queue = self.queue
        now = self._clock()
        started = queue.now() - max((now - request.call_started_at).total_seconds(), 0.0)
        extensions = tuple(ext for ext in request.extensions if ext in queue.board.phones)
        entry = Waiting(request.call_uuid, request.number, started, started, False,
                        extensions, queue.settings.ring_timeout)
        entry.callback = Ticket(request.id, request.number, request.attempts, ready=True,
                                missed=request.reason == "missed")
        self.pending[request.id] = entry
        delay = 0.0
        if request.next_attempt_at is not None:
            delay = max((request.next_attempt_at - now).total_seconds(), 0.0)
        if delay > 0:
            self._retry_later(entry, delay)
        else:
            queue.waiting[entry.uuid] = entry
        log.info("queue.callback_restored", callback=request.id, retry_in=delay)

    # -- placing -----------------------------------------------------------------------

    def check_gateway(self) -> None:
        """At start and after every control reconnection: does FreeSWITCH have the gateway?
        Without it no callback can be placed, so no staff phone is rung for one: they stay
        pending (and listed for the staff). Logged once when it goes missing."""
        control = self.queue._control()
        if control is None:
            return
        try:
            known = gateway_known(control.api(gateway_status(self.gateway)))
        except ESLError as error:
            log.warning("queue.gateway_check_failed", gateway=self.gateway, error=str(error))
            return
        if not known and self.gateway_known is not False:
            log.error("queue.gateway_missing", gateway=self.gateway,
                      effect="callbacks are not placed; they stay in the staff's list")
        elif known and self.gateway_known is False:
            log.info("queue.gateway_found", gateway=self.gateway)
        self.gateway_known = known
        self.queue._changed()

    def may_place(self, entry: Waiting) -> bool:
        """Called by the dispatcher when it is this callback's turn and a phone is free."""
        ticket = entry.callback
        if self.gateway_known is None:  # not asked yet, or the last check failed
            self.check_gateway()
        if ticket is None or not self.gateway_known or not self._may_call():
            return False
        request = self._record("get_callback", ticket.id)
        if request is not None and request.state != "pending":  # done by the staff
            self._forget(entry)
            return False
        if ticket.missed and any(  # the patient is on the line again: served live first
            e.callback is None and callback_digits(e.caller_number) == ticket.number
            for e in self.queue.waiting.values()
        ):
            return False
        if ticket.missed and self._record("served_again", entry.uuid):
            self._record("callback_done", ticket.id, by="served again", at=self._clock())
            log.info("queue.missed_call_back_dropped", callback=ticket.id)
            self._forget(entry)
            return False
        return True

    def connect(self, entry: Waiting, ext: str, staff_leg: str) -> bool:
        """The staff phone answered: call the patient, then bridge them. True when bridged."""
        queue = self.queue
        ticket = entry.callback
        if ticket is None or not ticket.ready or entry.state != "waiting":
            queue._api(f"uuid_kill {staff_leg}")
            return False
        entry.state = "connecting"
        entry.agent_leg = staff_leg
        queue._cancel_offers(entry)
        ticket.attempts += 1
        queue._event(entry, "callback_placed", extension=ext, detail=f"attempt={ticket.attempts}")
        patient_leg = str(uuidlib.uuid4())
        queue._api(f"uuid_broadcast {staff_leg} {self.ringback} aleg")  # until uuid_bridge
        try:
            reply = self._originate_patient(ticket.number, patient_leg)
        except ESLError as error:
            reply = f"-ERR {error}"
        if reply.startswith("+OK"):
            queue._api(commands.about_to_talk(patient_leg))  # ended by the queue after talking
            reply = queue._api(f"uuid_bridge {patient_leg} {staff_leg}")
            if not reply.startswith("+OK"):
                queue._api(f"uuid_kill {patient_leg}")
        if not reply.startswith("+OK"):
            queue._api(f"uuid_kill {staff_leg}")
            entry.agent_leg = None
            self._failed(entry, reply.removeprefix("-ERR").strip() or "FAILED")
            return False
        now = queue.now()
        entry.state = "connected"
        entry.agent, entry.answered_at = ext, now
        queue._connected.add(patient_leg)  # hung up by the queue when the staff hangs up
        queue.estimates.on_answered(entry.wait(now), now)
        queue.waiting.pop(entry.uuid, None)
        queue._event(entry, "callback_completed", extension=ext, wait=entry.wait(now))
        self._record("callback_attempted", ticket.id, at=self._clock(), result=ext,
                     state="completed")
        self.pending.pop(ticket.id, None)
        entry.changed.set()
        return True

    def _originate_patient(self, number: str, leg: str) -> str:
        control = self.queue._control()
        if control is None:
            raise ESLError("no control connection")
        digits = callback_digits(number)  # stored data going into a dial string: digits only
        variables: dict[str, str | int] = {
            "origination_uuid": leg,
            "ignore_early_media": "true",
            "originate_timeout": PATIENT_RING_SECONDS,
            **self.presented,
        }
        dial = dial_string(gateway_target(self.gateway, digits), variables)
        timeout = PATIENT_RING_SECONDS * self.queue.time_scale + 30.0
        return control.bgapi(originate(dial), timeout=timeout)

    def _failed(self, entry: Waiting, cause: str) -> None:
        """No answer, busy...: try again later, or give up into the staff's list."""
        queue = self.queue
        ticket = entry.callback
        assert ticket is not None
        queue._event(entry, "callback_failed", detail=f"{cause},attempt={ticket.attempts}")
        queue.waiting.pop(entry.uuid, None)
        retry = queue.settings.callback_retry_seconds
        if ticket.attempts <= queue.settings.callback_retries:
            entry.state = "retry"
            next_at = self._clock() + timedelta(seconds=retry)
            self._record("callback_attempted", ticket.id, at=self._clock(), result=cause,
                         state="pending", next_attempt_at=next_at)
            self._retry_later(entry, retry)
        else:
            entry.state = "left"
            self._record("callback_attempted", ticket.id, at=self._clock(), result=cause,
                         state="failed")
            self.pending.pop(ticket.id, None)
            log.warning("queue.callback_given_up", callback=ticket.id, attempts=ticket.attempts)
        queue._changed()

    def _retry_later(self, entry: Waiting, seconds: float) -> None:
        assert entry.callback is not None
        entry.state = "retry"
        callback_id = entry.callback.id
        self._timers[callback_id] = gevent.spawn_later(
            seconds * self.queue.time_scale, self._retry, entry
        )

    def _retry(self, entry: Waiting) -> None:
        """Back in the queue, at the place of the time the call began."""
        assert entry.callback is not None
        self._timers.pop(entry.callback.id, None)
        entry.state = "waiting"
        entry.agent = entry.agent_leg = None
        entry.offers.clear()
        entry.cancelled.clear()
        self.queue.waiting[entry.uuid] = entry
        self.queue._changed()

    def _forget(self, entry: Waiting) -> None:
        assert entry.callback is not None
        self.pending.pop(entry.callback.id, None)
        self.queue.waiting.pop(entry.uuid, None)
        entry.state = "left"
        self.queue._changed()

    def _poll_forever(self) -> None:
        """Opening hours begin without any event: look again now and then."""
        while True:
            gevent.sleep(POLL_SECONDS * self.queue.time_scale)
            if self.pending:
                self.queue._changed()


# --- for the staff (the CLI) ------------------------------------------------------------


def pending_callbacks(store: Store) -> list[CallbackRequest]:
    """Callbacks still to deal with, in queue order: ``pending`` (the daemon will place them)
    and ``failed`` (every attempt failed: the staff calls the patient)."""
    return store.callbacks(("pending", "failed"))


def missed_patients(
    store: Store,
    now: datetime,
    *,
    missed_after: float = QueueSettings.missed_after,
    within: timedelta = MISSED_WITHIN,
) -> list[MissedCall]:
    """Patients who hung up after waiting more than `missed_after` seconds in the queue in the
    last `within`, unless they called again and were served; oldest first."""
    return store.missed_calls(since=now - within, missed_after=missed_after)


MISSED_REF_LENGTH = 8
"""A missed call is shown by the first 8 characters of its uuid, which may all be digits: a
reference that long is never read as a callback's number."""


def mark_done(store: Store, ref: str, by: str, now: datetime | None = None) -> bool:
    """The staff dealt with a callback (`ref` = its id) or a missed patient (`ref` = the call's
    uuid or a unique prefix of it); False when nothing matches."""
    at = now or datetime.now(UTC)
    ref = ref.strip()
    if ref.isdigit() and len(ref) < MISSED_REF_LENGTH:
        return store.callback_done(int(ref), by=by, at=at)
    return store.missed_done(ref, by=by, at=at) is not None
