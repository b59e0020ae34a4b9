"""Callbacks instead of waiting, and the staff's lists of callbacks and missed patients.

On hold, a caller who presses ``[queue] callback_key`` confirms the number to call back
(`frontdesk.conversation.confirm_number`: their caller id read back, or typed when hidden),
hears the thanks prompt and is hung up. They KEEP THEIR PLACE: their `Waiting` entry stays in
the queue, marked with a `Ticket`, ordered by the time their call began. When their turn
comes (`CallbackDesk`), through the queue's verbs (`CallQueue.originate`, `play`,
`bridge`, `served`), whose command strings `frontdesk.esl.commands` builds:

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

A receptionist may call a patient back now (`CallbackDesk.call_now`, the console's "call back
now"): a pending or failed callback, or a missed patient. Their own desk phone is rung at once,
whatever its queue login, when it is registered and neither ringing nor on a call; when they pick
up, the rest is the path above (ringing tone, the patient, the bridge: `CallbackDesk.connect`),
at any hour. Their phone not answered changes nothing; the patient not answering is an attempt
like any (retries, then the staff's list). A missed patient gets a callback row (reason
``missed``) once the receptionist picks up, so the result is tracked like any callback's. A
callback being placed (by the dispatcher or another receptionist) is refused
(``already_calling``); the dispatcher never places one a receptionist is calling.

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

import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import gevent
import gevent.lock
import structlog

from frontdesk.clock import Clock, Timer
from frontdesk.config.model import QueueSettings
from frontdesk.esl import ESLError, commands
from frontdesk.logs import mask_number
from frontdesk.queue.core import CallQueue, Waiting
from frontdesk.records import Records
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
"""What the staff phone rung for a callback shows as the caller's name."""
POLL_SECONDS = 60.0
"""While callbacks wait (closed, lunch), the queue looks again this often (queue seconds)."""
MIN_DIGITS, MAX_DIGITS = 6, 15
"""A number to call back: digits only, 6 to 15 of them (no short or service numbers)."""
MISSED_WITHIN = timedelta(days=7)
"""How far back `missed_patients` looks."""
REFUSALS = ("unknown", "no_number", "phone_unavailable", "no_gateway", "already_calling")
"""Why `CallbackDesk.call_now` refuses: no such callback or missed patient to deal with; a hidden
or undialable number; the desk phone is not registered, or ringing, or on a call (or FreeSWITCH
is not connected); FreeSWITCH has no gateway to call out; the patient is being called (or is
still on the line)."""
FREE_TO_RING = ("idle", "logged_out", "wrapup", "skipped")
"""The desk phone states in which a receptionist's own phone may be rung for a call back now:
registered, neither ringing nor on a call, logged in to the queue or not."""


class CallNowRefused(ValueError):
    """`CallbackDesk.call_now` cannot call this patient back now; `reason` is one of REFUSALS
    (the console words it in the practice's language)."""

    def __init__(self, reason: str) -> None:
        assert reason in REFUSALS, reason
        super().__init__(reason)
        self.reason = reason


@dataclass
class Ticket:
    """A waiting entry that asked to be called back (`Waiting.callback`)."""

    id: int | None
    """The stored callback's; None: a missed patient a receptionist calls back now, stored
    once their phone answers (`CallbackDesk.connect`)."""
    number: str
    attempts: int = 0
    ready: bool = False
    """False while the caller is still on the line (thanks prompt): not placed yet."""
    missed: bool = False
    """A missed patient called back (reason ``missed``): after every caller on the line."""
    placed_by: str | None = None
    """Who is calling the patient back now (`CallbackDesk.call_now`, ``console:<user>``),
    stored with the callback once completed; None: the daemon, when its turn came."""


def ringback_tone(country: str) -> str:
    """The practice country's ringing tone, endless (stopped by uuid_break or uuid_bridge)."""
    return f"tone_stream://{RINGBACK.get(country, ETSI_RINGBACK)};loops=-1"


def callback_digits(number: str) -> str:
    """The digits of a caller id ("+33 6 39…" -> "+33639…"); "" when hidden or too short."""
    digits = commands.digits(number)
    return digits if MIN_DIGITS <= len(digits.lstrip("+")) <= MAX_DIGITS else ""


# --- in the queue: placing callbacks ----------------------------------------------------


class CallbackDesk:
    """The queue's callbacks (see the module docstring). `may_call()` says whether callbacks
    may be placed now (opening hours); `desk_phones()` are the front desk's (they place a
    missed patient's callback stored by a call back now); `record` calls the store, never
    raises.
    Part of the queue: it works on the queue's own state (its entries, legs and events)."""

    def __init__(
        self,
        queue: CallQueue,
        *,
        gateway: str,
        country: str,
        language: str,
        may_call: Callable[[], bool],
        dialable: Callable[[str], bool],
        desk_phones: Callable[[], tuple[str, ...]],
        record: Records,
        clock: Clock,
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
        self._desk_phones = desk_phones
        self._record = record
        self._clock = clock
        self.pending: dict[int, Waiting] = {}
        """Every pending callback: in the queue, or waiting for its next attempt."""
        self._timers: dict[int, Timer] = {}
        self._poller: gevent.Greenlet | None = None
        self._calling: dict[str, Waiting] = {}
        """Call uuid -> the entry a receptionist is calling back now, until their phone's
        ring (and what follows its answer) is over."""
        self._claiming = gevent.lock.BoundedSemaphore()
        """Held while a call back now reads the store and claims its entry, and while a claim
        ends: a read made stale by a call just completed still meets its claim."""
        queue.callbacks = self

    def start(self) -> None:
        """Take back the pending callbacks stored before a restart, in their queue order."""
        for request in self._record(Store.callbacks, ("pending",)) or []:
            self._restore(request)
        self._poller = gevent.spawn(self._poll_forever)
        self.queue.refresh()

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._poller is not None:
            self._poller.kill(block=False)

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
        queue.cancel_offers(entry)
        queue.record_event(entry, "callback_requested", detail=f"callback={callback_id}")
        queue.refresh()
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
        self.queue.record_event(again, "callback_requested", wait=entry.waited,
                                detail=f"callback={callback_id},missed")
        log.info("queue.missed_call_back", callback=callback_id, waited=round(entry.waited))
        self.queue.refresh()
        return True

    def _store(self, entry: Waiting, number: str, reason: str) -> int | None:
        """A pending callback in the store, placed by the time its call began; its id."""
        now = self._clock.wall()
        began = now - timedelta(seconds=max(self.queue.now() - entry.started, 0.0))
        return self._record(
            Store.callback_requested,
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
            self.queue.refresh()

    def _restore(self, request: CallbackRequest) -> None:
        queue = self.queue
        now = self._clock.wall()
        entry = self._entry(request)
        self.pending[request.id] = entry
        delay = 0.0
        if request.next_attempt_at is not None:
            delay = max((request.next_attempt_at - now).total_seconds(), 0.0)
        if delay > 0:
            self._retry_later(entry, delay)
        else:
            queue.waiting[entry.uuid] = entry
        log.info("queue.callback_restored", callback=request.id, retry_in=delay)

    def _entry(self, request: CallbackRequest) -> Waiting:
        """A stored callback as a queue entry, placed by the time its call began."""
        queue = self.queue
        started = self._queue_time(request.call_started_at)
        extensions = tuple(ext for ext in request.extensions if ext in queue.board.phones)
        entry = Waiting(request.call_uuid, request.number, started, started, False,
                        extensions, queue.settings.ring_timeout)
        entry.callback = Ticket(request.id, request.number, request.attempts, ready=True,
                                missed=request.reason == "missed")
        return entry

    def _queue_time(self, moment: datetime) -> float:
        """A past wall-clock moment on the queue's clock."""
        return self.queue.now() - max((self._clock.wall() - moment).total_seconds(), 0.0)

    # -- placing -----------------------------------------------------------------------

    def check_gateway(self) -> None:
        """At start and after every control reconnection: does FreeSWITCH have the gateway?
        Without it no callback can be placed, so no staff phone is rung for one: they stay
        pending (and listed for the staff). Logged once when it goes missing."""
        known = self.queue.has_gateway(self.gateway)
        if known is None:
            return
        if not known and self.gateway_known is not False:
            log.error("queue.gateway_missing", gateway=self.gateway,
                      effect="callbacks are not placed; they stay in the staff's list")
        elif known and self.gateway_known is False:
            log.info("queue.gateway_found", gateway=self.gateway)
        self.gateway_known = known
        self.queue.refresh()

    def may_place(self, entry: Waiting) -> bool:
        """Called by the dispatcher when it is this callback's turn and a phone is free."""
        ticket = entry.callback
        if self.gateway_known is None:  # not asked yet, or the last check failed
            self.check_gateway()
        if ticket is None or ticket.id is None or not self.gateway_known or not self._may_call():
            return False
        request = self._record(Store.get_callback, ticket.id)
        if request is not None and request.state != "pending":  # done by the staff
            self._forget(entry)
            return False
        if ticket.missed and any(  # the patient is on the line again: served live first
            e.callback is None and callback_digits(e.caller_number) == ticket.number
            for e in self.queue.waiting.values()
        ):
            return False
        if ticket.missed and self._record(Store.served_again, entry.uuid):
            self._record(Store.callback_done, ticket.id, by="served again", at=self._clock.wall())
            log.info("queue.missed_call_back_dropped", callback=ticket.id)
            self._forget(entry)
            return False
        return True

    # -- a receptionist calls back now -------------------------------------------------

    def call_now(self, ref: str, extension: str, *, by: str) -> None:
        """Ring the desk phone `extension` now, then the patient of `ref` (a pending or failed
        callback's id, or a missed patient's ref, as `frontdesk callbacks` lists them) when it
        is picked up, at any hour; `by` (``console:<user>``) is stored with the completed
        callback. Returns once the phone is being rung; CallNowRefused otherwise."""
        with self._claiming:
            target = self._call_now_target(ref)
            number = callback_digits(
                target.number if isinstance(target, CallbackRequest) else target.caller_number
            )
            if not number or not self._dialable(number):
                raise CallNowRefused("no_number")
            if self.gateway_known is None:
                self.check_gateway()
            if not self.gateway_known:
                raise CallNowRefused("no_gateway")
            # from here on nothing yields: the entry and the phone are claimed as they are seen
            entry = self._claim(target, number)
            phone = self.queue.board.phones.get(extension)
            if phone is None or phone.state not in FREE_TO_RING or not self.queue.connected:
                raise CallNowRefused("phone_unavailable")
            assert entry.callback is not None
            entry.callback.placed_by = by
            self._calling[entry.uuid] = entry
            ringing = self.queue.offer(entry, phone)
        log.info("queue.call_now", callback=entry.callback.id, call=entry.uuid,
                 extension=extension, by=by, number=mask_number(number))
        gevent.spawn(self._release, entry, ringing)

    def _call_now_target(self, ref: str) -> CallbackRequest | MissedCall:
        """What `ref` stands for in the store: a callback to deal with or a missed patient."""
        ref = ref.strip()
        callback_id = _callback_id(ref)
        if callback_id is not None:
            request = self._record(Store.get_callback, callback_id)
            if request is None or request.state not in ("pending", "failed"):
                raise CallNowRefused("unknown")
            return request
        if len(ref) < MIN_REF:
            raise CallNowRefused("unknown")
        listed = self._record(missed_patients, self._clock.wall(),
                              missed_after=self.queue.settings.missed_after) or []
        matches = [missed for missed in listed if missed.call_uuid.startswith(ref)]
        if len(matches) != 1:
            raise CallNowRefused("unknown")
        return matches[0]

    def _claim(self, target: CallbackRequest | MissedCall, number: str) -> Waiting:
        """The entry to place for `target`, unless it is being placed (already_calling)."""
        if target.call_uuid in self._calling:
            raise CallNowRefused("already_calling")
        if isinstance(target, MissedCall):
            started = self._queue_time(target.started_at)
            missed = Waiting(target.call_uuid, number, started, started, False,
                             self._desk_phones(), self.queue.settings.ring_timeout)
            missed.callback = Ticket(None, number, ready=True, missed=True)
            return missed
        if target.state == "failed":
            return self._entry(target)
        pending = self.pending.get(target.id)  # not there: completed or given up just now
        if (
            pending is None
            or pending.callback is None
            or not pending.callback.ready  # the caller is still on the line
            or pending.offers  # a staff phone rings for it
            or pending.state not in ("waiting", "retry")  # the patient is being called
        ):
            raise CallNowRefused("already_calling")
        return pending

    def _release(self, entry: Waiting, ringing: gevent.Greenlet) -> None:
        """The receptionist's phone rang (and, if answered, the callback was placed): the
        entry is the daemon's again."""
        ringing.join()
        with self._claiming:
            self._calling.pop(entry.uuid, None)
            if entry.callback is not None:
                entry.callback.placed_by = None

    def connect(self, entry: Waiting, ext: str, staff_leg: str) -> bool:
        """The staff phone answered (rung by the dispatcher, or a receptionist's for a call
        back now): call the patient, then bridge them. True when bridged."""
        queue = self.queue
        ticket = entry.callback
        if (
            ticket is None
            or not ticket.ready
            or entry.state not in ("waiting", "retry")  # retry: called back now meanwhile
            or (callback_id := self._tracked(entry, ticket)) is None
        ):
            queue.hang_up(staff_leg)
            return False
        self._cancel_retry(ticket)
        entry.state = "connecting"
        entry.agent_leg = staff_leg
        queue.cancel_offers(entry)
        ticket.attempts += 1
        queue.record_event(entry, "callback_placed", extension=ext,
                           detail=f"attempt={ticket.attempts}")
        patient_leg = str(uuidlib.uuid4())
        queue.play(staff_leg, self.ringback)  # until the bridge
        failure = self._call_patient(ticket.number, patient_leg)
        if failure is None:
            failure = queue.bridge(patient_leg, staff_leg)
            if failure is not None:
                queue.hang_up(patient_leg)
        if failure is not None:
            queue.hang_up(staff_leg)
            entry.agent_leg = None
            self._failed(entry, failure)
            return False
        # the patient's leg has no dialplan: the queue ends it when the staff hangs up
        queue.served(entry, ext, talking=patient_leg, event="callback_completed")
        self._record(Store.callback_attempted, callback_id, at=self._clock.wall(), result=ext,
                     state="completed", by=ticket.placed_by)
        self.pending.pop(callback_id, None)
        return True

    def _tracked(self, entry: Waiting, ticket: Ticket) -> int | None:
        """The callback's id. A missed patient called back now gets their callback row (reason
        ``missed``) here, once the receptionist picked up; None when it cannot be stored."""
        if ticket.id is None:
            ticket.id = self._store(entry, ticket.number, "missed")
            if ticket.id is not None:
                self.queue.record_event(entry, "callback_requested",
                                        detail=f"callback={ticket.id},missed")
        return ticket.id

    def _call_patient(self, number: str, leg: str) -> str | None:
        """Ring the patient through the gateway; None when they answered, else why not."""
        target = commands.gateway_target(self.gateway, callback_digits(number))
        try:
            reply = self.queue.originate(leg, target, PATIENT_RING_SECONDS, self.presented)
        except ESLError as error:
            return str(error) or "FAILED"
        return None if commands.succeeded(reply) else commands.cause(reply)

    def _failed(self, entry: Waiting, cause: str) -> None:
        """No answer, busy...: try again later, or give up into the staff's list."""
        queue = self.queue
        ticket = entry.callback
        assert ticket is not None and ticket.id is not None
        queue.record_event(entry, "callback_failed", detail=f"{cause},attempt={ticket.attempts}")
        queue.waiting.pop(entry.uuid, None)
        retry = queue.settings.callback_retry_seconds
        if ticket.attempts <= queue.settings.callback_retries:
            entry.state = "retry"
            next_at = self._clock.wall() + timedelta(seconds=retry)
            self._record(Store.callback_attempted, ticket.id, at=self._clock.wall(), result=cause,
                         state="pending", next_attempt_at=next_at)
            self.pending[ticket.id] = entry  # a failed one, or a missed patient, called back now
            self._retry_later(entry, retry)
        else:
            entry.state = "left"
            self._record(Store.callback_attempted, ticket.id, at=self._clock.wall(), result=cause,
                         state="failed")
            self.pending.pop(ticket.id, None)
            log.warning("queue.callback_given_up", callback=ticket.id, attempts=ticket.attempts)
        queue.refresh()

    def _retry_later(self, entry: Waiting, seconds: float) -> None:
        assert entry.callback is not None and entry.callback.id is not None
        entry.state = "retry"
        self._timers[entry.callback.id] = self._clock.call_later(
            seconds, self._retry, entry
        )

    def _cancel_retry(self, ticket: Ticket) -> None:
        """A callback waiting for its retry is placed now (called back now): no retry."""
        if ticket.id is not None and (timer := self._timers.pop(ticket.id, None)) is not None:
            timer.cancel()

    def _retry(self, entry: Waiting) -> None:
        """Back in the queue, at the place of the time the call began. A phone a receptionist's
        call back now rings meanwhile keeps its offer: the dispatcher leaves the entry alone."""
        assert entry.callback is not None and entry.callback.id is not None
        self._timers.pop(entry.callback.id, None)
        entry.state = "waiting"
        entry.agent = entry.agent_leg = None
        entry.cancelled.clear()
        self.queue.waiting[entry.uuid] = entry
        self.queue.refresh()

    def _forget(self, entry: Waiting) -> None:
        assert entry.callback is not None and entry.callback.id is not None
        self.pending.pop(entry.callback.id, None)
        self.queue.waiting.pop(entry.uuid, None)
        entry.state = "left"
        self.queue.refresh()

    def _poll_forever(self) -> None:
        """Opening hours begin without any event: look again now and then."""
        while True:
            self._clock.sleep(POLL_SECONDS)
            if self.pending:
                self.queue.refresh()


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


MIN_REF = 4
"""A missed call's reference: at least its uuid's first 4 characters."""


def _callback_id(ref: str) -> int | None:
    """The callback id `ref` stands for; None: `ref` is a missed call's (start of its uuid)."""
    return int(ref) if ref.isdigit() and len(ref) < MISSED_REF_LENGTH else None


def mark_done(store: Store, ref: str, by: str, now: datetime | None = None) -> bool:
    """The staff dealt with a callback (`ref` = its id) or a missed patient (`ref` = the call's
    uuid or a unique prefix of it); False when nothing matches."""
    at = now or datetime.now(UTC)
    ref = ref.strip()
    callback_id = _callback_id(ref)
    if callback_id is not None:
        return store.callback_done(callback_id, by=by, at=at)
    return store.missed_done(ref, by=by, at=at) is not None
