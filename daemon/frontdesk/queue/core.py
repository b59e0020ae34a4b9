"""The front-desk queue: waiting callers, dispatch to staff phones, queue events.

Callers stay on their own outbound-socket session (the flow holds them with music and
announcements, see `frontdesk.queue.hold`); this object decides who is served next and rings
the staff from the control connection:

1. ``bgapi originate {origination_uuid=<leg>,ignore_early_media=true,originate_timeout=N,
   origination_caller_id_number=<patient digits>}user/EXT@domain &park()``;
2. when it answers (BACKGROUND_JOB ``+OK``), ``uuid_setvar_multi`` (the caller's channel:
   the conversation outlives the daemon's socket, and the dialplan ends the call after it, see
   `frontdesk.esl.commands`) and ``uuid_bridge <caller> <leg>`` at once: whatever the caller
   was hearing (music, an announcement) stops, no dead air;
3. a phone that does not answer (``-ERR NO_ANSWER`` …) is skipped for ``skip_seconds`` and the
   caller, who never left their place, is offered to the next phone;
4. a caller who leaves while phones ring gets them killed (``uuid_kill``) at once.

Order: emergencies first, then by the time the call began (not the time it entered the queue).
Strategies: longest_idle (default; the phone idle for longest), ring_all, fixed_order
(emergencies always ring every available phone of their list).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Concatenate, ParamSpec

import gevent
import gevent.event
import gevent.queue
import structlog

from frontdesk.clock import Clock
from frontdesk.config.model import QueueSettings
from frontdesk.esl import ControlConnection, ESLError, Event, commands
from frontdesk.estimate import Estimates
from frontdesk.queue.feed import QueueFeed, QueueState
from frontdesk.queue.staff import StaffBoard, StaffPhone
from frontdesk.records import Records
from frontdesk.store import Store

if TYPE_CHECKING:
    from frontdesk.queue.callbacks import CallbackDesk, Ticket

log = structlog.get_logger(__name__)
P = ParamSpec("P")

CONTROL_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "sofia::register",
    "sofia::unregister",
)
"""What the queue needs on the control connection."""
CANCELLED = "cancelled"
JOB_MARGIN = 30.0
"""Real seconds a BACKGROUND_JOB may take beyond the ring timeout before we give up on it."""


@dataclass
class Waiting:
    """One caller in the queue."""

    uuid: str
    caller_number: str
    started: float
    """When the call began (queue clock): the order of the queue."""
    entered: float
    emergency: bool
    extensions: tuple[str, ...]
    ring_timeout: float
    state: str = "waiting"
    """waiting -> connecting (bridge sent) -> connected; or -> left."""
    agent: str | None = None
    """Extension that answered."""
    agent_leg: str | None = None
    answered_at: float | None = None
    offers: dict[str, str] = field(default_factory=dict)
    """Leg uuid -> extension, for the phones ringing for this caller."""
    cancelled: set[str] = field(default_factory=set)
    changed: gevent.event.Event = field(default_factory=gevent.event.Event)
    """Set when a bridge attempt ends (connected, failed) or the caller left."""
    callback: Ticket | None = None
    """Set when the caller asked to be called back (frontdesk.queue.callbacks)."""
    waited: float | None = None
    """Seconds waited, once the caller left the queue unserved (abandoned, overflowed)."""
    declined_callback: bool = False
    """Offered a callback, the caller confirmed no number: not called back as missed either."""
    announced_wait: float | None = None
    """The remaining wait (seconds) the last announcement told the caller; None before the
    first, or when it told none (nobody logged in, a static prompt)."""

    def wait(self, now: float) -> float:
        return max(now - self.entered, 0.0)

    @property
    def on_the_line(self) -> bool:
        """Waiting on the phone (not a callback to place, once the caller has hung up)."""
        return self.state == "waiting" and (self.callback is None or not self.callback.ready)


class CallQueue:
    """See the module docstring. `record` writes to the store and never raises."""

    def __init__(
        self,
        settings: QueueSettings,
        *,
        extensions: tuple[str, ...],
        domain: str,
        control: ControlConnection,
        record: Records,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.domain = domain
        self._control = control
        self._record = record
        self.clock = clock
        self.feed = QueueFeed()
        self.estimates = Estimates(wrapup_s=settings.wrapup_seconds)
        self.board = StaffBoard(
            extensions,
            wrapup_seconds=settings.wrapup_seconds,
            skip_seconds=settings.skip_seconds,
            on_change=self._staff_changed,
            clock=clock,
        )
        self.waiting: dict[str, Waiting] = {}
        self._legs: dict[str, Waiting] = {}
        self._connected: set[str] = set()
        """Callers bridged to staff: hung up when the staff member hangs up."""
        self._wake = gevent.event.Event()
        self._dispatcher: gevent.Greenlet | None = None
        self._writes: gevent.queue.Queue = gevent.queue.Queue()
        self._writer: gevent.Greenlet | None = None
        self.callbacks: CallbackDesk | None = None
        """Set by the CallbackDesk of this queue."""
        self.music_unavailable: dict[str, float] = {}
        """Hold music FreeSWITCH could not play -> when to try it again (queue clock); kept
        by `frontdesk.queue.hold` so it warns once for all callers."""

    def now(self) -> float:
        return self.board.now()

    @property
    def connected(self) -> bool:
        """Whether FreeSWITCH can be asked to ring a phone now (the control connection)."""
        return self._control.connected

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start dispatching; log-in states come back from the store."""
        remembered = self._record(Store.latest_staff_states) or {}
        for ext, last in remembered.items():
            self.board.restore(ext, logged_in=last["logged_in"])
        self._dispatcher = gevent.spawn(self._dispatch_forever)
        self._writer = gevent.spawn(self._write_forever)

    def stop(self) -> None:
        """Stop dispatching; the records already queued are written first."""
        if self._dispatcher is not None:
            self._dispatcher.kill()
        self.board.stop()
        if self._writer is not None:
            self._writes.put(None)
            self._writer.join(timeout=5)

    def _write_forever(self) -> None:
        """Records are written in order by this one greenlet: a slow fsync never delays a
        dispatch or a caller."""
        for item in self._writes:
            if item is None:
                return
            operation, args, kwargs = item
            self._record(operation, *args, **kwargs)

    def _write(
        self, operation: Callable[Concatenate[Store, P], object], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        self._writes.put((operation, args, kwargs))

    def reconfigure(self, settings: QueueSettings, extensions: tuple[str, ...]) -> None:
        """A reload: new settings for new decisions; no staff phone or caller is dropped."""
        self.settings = settings
        self.board.wrapup_seconds = settings.wrapup_seconds
        self.board.skip_seconds = settings.skip_seconds
        added = [ext for ext in extensions if ext not in self.board.phones]
        self.board.set_extensions(extensions)
        if added:  # a phone new to the queue may have registered long ago: ask FreeSWITCH
            registered = self._registered_users()
            if registered is not None:
                self.board.set_registrations(registered, added)
        self.refresh()

    def reconcile(self) -> None:
        """After every (re)connection: registrations and live channels from FreeSWITCH."""
        registered = self._registered_users()
        try:
            channels = self._control.api(commands.SHOW_CHANNELS)
        except ESLError as error:
            log.warning("queue.reconcile_failed", error=str(error))
            return
        self.board.reconcile(registered, channels)
        log.info("queue.reconciled", staff=self.staff_summary())
        self.refresh()

    # -- callers -------------------------------------------------------------------------

    def enter(
        self,
        uuid: str,
        *,
        caller_number: str,
        started: float,
        emergency: bool,
        extensions: tuple[str, ...],
        ring_timeout: float,
    ) -> Waiting:
        """Put a caller in the queue (`started`: when the call began, on `now()`'s clock)."""
        entry = Waiting(
            uuid,
            caller_number,
            started,
            self.now(),
            emergency,
            tuple(ext for ext in extensions if ext in self.board.phones),
            ring_timeout,
        )
        self.waiting[uuid] = entry
        self.record_event(entry, "entered", detail="emergency" if emergency else None)
        self.refresh()
        return entry

    def leave(self, entry: Waiting, reason: str) -> None:
        """The caller is no longer waiting: hung up (abandoned), overflowed, or done. Phones
        still ringing for them stop at once."""
        if self.waiting.pop(entry.uuid, None) is None:
            return
        if entry.state in ("waiting", "connecting"):
            entry.state = "left"
            wait = entry.waited = entry.wait(self.now())
            if reason == "abandoned":
                self.estimates.on_abandoned(wait, self.now())
            self.record_event(entry, reason, wait=wait)
        self.cancel_offers(entry)
        entry.changed.set()
        self.refresh()

    def on_hold(self) -> int:
        """Callers waiting on the line (callbacks to place are not counted)."""
        return sum(entry.on_the_line for entry in self.waiting.values())

    def position(self, entry: Waiting) -> int:
        """1 for the caller served next."""
        ordered = self._ordered()
        return ordered.index(entry) + 1 if entry in ordered else 0

    def positions(self) -> dict[str, int]:
        """Every caller's `position`, from one ordering of the queue (call uuid -> place)."""
        return {entry.uuid: place for place, entry in enumerate(self._ordered(), 1)}

    def estimate(self, entry: Waiting) -> dict[str, float]:
        """Every estimator's figure for this caller's remaining wait (seconds)."""
        now = self.now()
        phones = self.board.phones.values()
        available, logged_in, _ = self.board.counts()
        ordered = self._ordered()
        ahead = ordered[: ordered.index(entry)] if entry in ordered else []
        return self.estimates.estimate(
            len(ahead) + 1 if entry in ordered else 0,
            staff_available=available,
            staff_logged_in=logged_in,
            busy_elapsed=[now - p.since for p in phones if p.state == "on_call"],
            wrapup_elapsed=[now - p.since for p in phones if p.state == "wrapup"],
            now=now,
            callbacks_ahead=sum(not e.on_the_line for e in ahead),
        )

    def announced(self, entry: Waiting, said: float | None = None) -> dict[str, float]:
        """Record an announcement with its position and estimates (`said`: the wait it told
        the caller); returns the estimates."""
        entry.announced_wait = said
        figures = self.estimate(entry)
        detail = ",".join(f"{name}={value:.0f}" for name, value in figures.items())
        self.record_event(entry, "announced", detail=f"position={self.position(entry)},{detail}")
        return figures

    def overflowed(self, entry: Waiting, rule: str, action: str) -> None:
        self.record_event(entry, "overflowed", detail=f"{rule}:{action}")
        self.leave(entry, "overflow")

    def overflow_refused(self, uuid: str, rule: str, action: str) -> None:
        """A caller who never entered: the queue was full, or nobody is logged in."""
        self._write(Store.queue_event, uuid, "overflowed", at=self.clock.wall(), wait=0.0,
                     extension=None, detail=f"{rule}:{action}")

    def nobody_logged_in(self, extensions: tuple[str, ...]) -> bool:
        return not any(
            (p := self.board.phones.get(ext)) is not None and p.registered and p.logged_in
            for ext in extensions
        )

    # -- staff ---------------------------------------------------------------------------

    def set_logged_in(self, ext: str, logged_in: bool) -> bool:
        """`frontdesk staff login|logout` and the feature codes; False for an unknown phone."""
        done = self.board.set_logged_in(ext, logged_in)
        if done:
            self.refresh()
        return done

    def staff_summary(self) -> dict[str, str]:
        return {ext: phone.state for ext, phone in self.board.phones.items()}

    # -- events from the control connection ----------------------------------------------

    def on_event(self, event: Event) -> None:
        name = event.name
        if name == "CHANNEL_HANGUP_COMPLETE":
            self._connected.discard(event.uuid)
            self._agent_hung_up(event.uuid)
        self.board.on_event(event, ours=self._legs.__contains__)
        if name == "CHANNEL_UNBRIDGE":
            self._unbridged(event)

    def _unbridged(self, event: Event) -> None:
        """The staff member hung up: end the caller's call. The shipped dialplan does it too
        (`commands.TALKED`); the variable also marks a caller bridged before a daemon restart,
        no longer ours, and a callback's patient, whose leg has no dialplan to go on with."""
        caller_uuid = event.uuid
        ours = caller_uuid in self._connected
        if ours or event.get(f"variable_{commands.TALKED}") == "true":
            self._connected.discard(caller_uuid)
            gevent.spawn(self._api, commands.uuid_kill(caller_uuid, "NORMAL_CLEARING"))

    def _agent_hung_up(self, uuid: str) -> None:
        """The staff leg of an answered call hung up: the conversation is over ("completed",
        with its handle time). Legs of other phones that rang for the same caller are ignored."""
        entry = self._legs.pop(uuid, None)
        if entry is None or entry.answered_at is None or uuid != entry.agent_leg:
            return
        now = self.now()
        handle = now - entry.answered_at
        self.estimates.on_call_ended(handle, now)
        self.record_event(entry, "completed", extension=entry.agent, detail=f"handle={handle:.1f}")

    # -- dispatch ------------------------------------------------------------------------

    def _ordered(self) -> list[Waiting]:
        """Emergencies first, missed patients called back last (when the desk is free), the
        rest by the time their call began."""
        entries = [e for e in self.waiting.values() if e.state == "waiting"]
        return sorted(entries, key=lambda e: (
            not e.emergency, e.callback is not None and e.callback.missed, e.started, e.entered
        ))

    def _dispatch_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self._dispatch()
            except Exception:
                log.exception("queue.dispatch_failed")

    def _dispatch(self) -> None:
        for entry in self._ordered():
            if entry.offers or not self.board.available(entry.extensions):
                continue
            if entry.callback is not None and self.callbacks is not None:
                if not entry.callback.ready:
                    break  # still hearing the thanks: nobody behind takes their place
                if not self.callbacks.may_place(entry):
                    continue  # outside opening hours: callbacks wait, callers go on
                if entry.offers:  # a receptionist called them back now while the store was read
                    continue
            phones = self.board.available(entry.extensions)  # as they are now
            if phones:
                for phone in self._choose(entry, phones):
                    self.offer(entry, phone)

    def _choose(self, entry: Waiting, phones: list[StaffPhone]) -> list[StaffPhone]:
        strategy = self.settings.strategy
        if entry.emergency or strategy == "ring_all":
            return phones
        if strategy == "fixed_order":
            return phones[:1]
        return [min(phones, key=lambda p: p.idle_since)]

    def offer(self, entry: Waiting, phone: StaffPhone) -> gevent.Greenlet:
        """Ring `phone` for `entry` (the dispatcher's choice, or a receptionist's own phone for
        a call back now): from now on the dispatcher offers `entry` no other phone. Returns the
        greenlet ringing it, over once the phone did not answer or its call was bridged (or
        failed to be)."""
        leg = str(uuidlib.uuid4())
        entry.offers[leg] = phone.ext
        self._legs[leg] = entry
        self.board.offer_started(phone.ext, leg)
        return gevent.spawn(self._ring, entry, phone.ext, leg)

    def _ring(self, entry: Waiting, ext: str, leg: str) -> None:
        answered = skip = False
        try:
            self.record_event(entry, "offered", extension=ext)
            reply = self._ring_phone(entry, ext, leg)
            if commands.succeeded(reply):
                answered = (
                    self._connect(entry, ext, leg)
                    if entry.callback is None or self.callbacks is None
                    else self.callbacks.connect(entry, ext, leg)
                )
            else:
                skip = leg not in entry.cancelled
                self.record_event(entry, "not_answered", extension=ext,
                                  detail=CANCELLED if not skip else commands.cause(reply))
        except ESLError as error:
            log.warning("queue.offer_failed", call=entry.uuid, extension=ext, error=str(error))
            self.hang_up(leg)
        finally:
            entry.offers.pop(leg, None)
            if not answered:
                self._legs.pop(leg, None)
            self.board.offer_ended(ext, leg, answered=answered, skip=skip)
            self.refresh()

    def _ring_phone(self, entry: Waiting, ext: str, leg: str) -> str:
        """The staff phone shows the caller's number, and "Callback" for a callback."""
        desk = self.callbacks if entry.callback is not None else None
        shown = commands.shown_to_staff(entry.caller_number,
                                        desk.label if desk is not None else None)
        target = commands.user_target(ext, self.domain)
        return self.originate(leg, target, entry.ring_timeout, shown)

    def _connect(self, entry: Waiting, ext: str, leg: str) -> bool:
        """The phone answered: bridge it to the caller at once, unless the caller is gone or
        another phone was faster (then this leg is hung up)."""
        if entry.state != "waiting":
            self.hang_up(leg)
            return False
        entry.state = "connecting"  # no overflow from now on: the caller is being bridged
        failure = self.bridge(entry.uuid, leg)
        if failure is not None or entry.state != "connecting":
            if entry.state == "connecting":
                entry.state = "waiting"
                entry.changed.set()
            self.hang_up(leg)
            return False
        entry.agent_leg = leg
        self.served(entry, ext, talking=entry.uuid, event="answered")
        self.cancel_offers(entry)
        return True

    # -- verbs: what the queue and its callback desk do with FreeSWITCH -----------------

    def originate(
        self, leg: str, target: str, ring_seconds: float, shown: Mapping[str, str]
    ) -> str:
        """Ring `target` on a new leg `leg`, parked once answered (`commands.ring`); the reply
        of its BACKGROUND_JOB (`commands.succeeded` when answered). ESLError when FreeSWITCH
        did not reply."""
        timeout = ring_seconds + JOB_MARGIN
        return self._control.bgapi(commands.ring(leg, target, ring_seconds, shown), timeout=timeout)

    def bridge(self, uuid: str, other: str) -> str | None:
        """Bridge `uuid` (the caller, or a callback's patient) to the staff's leg `other`; None
        when bridged, else FreeSWITCH's cause. Before it, `uuid`'s conversation is made to
        outlive the daemon's socket (`commands.about_to_talk`); a failed bridge takes it back."""
        self._api(commands.about_to_talk(uuid))
        reply = self._api(commands.uuid_bridge(uuid, other))
        if commands.succeeded(reply):
            return None
        self._api(commands.not_talking(uuid))
        return commands.cause(reply)

    def served(self, entry: Waiting, ext: str, *, talking: str, event: str) -> None:
        """`entry` is bridged to the staff of `ext`: out of the queue, its wait counted,
        `event` recorded. `talking` (the leg talking with the staff) is hung up by the queue
        when the staff hangs up."""
        now = self.now()
        entry.state = "connected"
        entry.agent, entry.answered_at = ext, now
        self._connected.add(talking)
        if entry.callback is None:  # a callback's patient was not on the line: no wait to learn
            self.estimates.on_answered(entry.wait(now), now)
        self.waiting.pop(entry.uuid, None)
        self.record_event(entry, event, extension=ext, wait=entry.wait(now))
        entry.changed.set()

    def cancel_offers(self, entry: Waiting) -> None:
        """Stop the phones ringing for `entry` (but the one that answered)."""
        for leg in list(entry.offers):
            if leg != entry.agent_leg and leg not in entry.cancelled:
                entry.cancelled.add(leg)
                gevent.spawn(self.hang_up, leg)

    def hang_up(self, uuid: str) -> None:
        self._api(commands.uuid_kill(uuid))

    def play(self, uuid: str, source: str) -> None:
        """Play `source` to a channel the queue originated (a ringing tone to the staff)."""
        self._api(commands.uuid_broadcast(uuid, source))

    def break_media(self, uuid: str) -> None:
        """Stop what a waiting caller hears (music), so their flow can go on."""
        self._api(commands.uuid_break(uuid))

    def has_gateway(self, gateway: str) -> bool | None:
        """Whether FreeSWITCH has the sofia `gateway`; None when it could not be asked."""
        try:
            return commands.gateway_known(self._control.api(commands.gateway_status(gateway)))
        except ESLError as error:
            log.warning("queue.gateway_check_failed", gateway=gateway, error=str(error))
            return None

    def _registered_users(self) -> set[str] | None:
        """Who is registered on the desk phones' sofia profile; None, with one warning, when
        FreeSWITCH cannot be asked or its answer cannot be read (a wrong profile name)."""
        profile = self.settings.sofia_profile
        try:
            return commands.registered_users(self._control.api(commands.registrations(profile)))
        except ESLError as error:
            log.warning("queue.registrations_failed", profile=profile, error=str(error))
        except commands.UnreadableReply as error:
            log.warning("queue.registrations_unreadable", profile=profile, error=str(error))
        return None

    def _api(self, command: str) -> str:
        try:
            return self._control.api(command)
        except ESLError as error:
            log.warning("queue.command_failed", command=command.split(" ", 1)[0],
                        error=str(error))
            return f"-ERR {error}"

    # -- bookkeeping ---------------------------------------------------------------------

    def record_event(
        self,
        entry: Waiting,
        event: str,
        *,
        extension: str | None = None,
        wait: float | None = None,
        detail: str | None = None,
    ) -> None:
        """Store a queue event of `entry`'s call (`wait`: by default, its wait until now)."""
        self._write(
            Store.queue_event,
            entry.uuid,
            event,
            at=self.clock.wall(),
            wait=entry.wait(self.now()) if wait is None else wait,
            extension=extension,
            detail=detail,
        )

    def _staff_changed(self, phone: StaffPhone) -> None:
        self._write(
            Store.staff_state_changed,
            phone.ext,
            at=self.clock.wall(),
            state=phone.state,
            registered=phone.registered,
            logged_in=phone.logged_in,
        )
        log.info("queue.staff_state", extension=phone.ext, state=phone.state)
        self.refresh()

    def refresh(self) -> None:
        """Something changed: dispatch again, and publish the queue's state."""
        self._wake.set()
        waits = [e.wait(self.now()) for e in self.waiting.values() if e.on_the_line]
        available, logged_in, on_call = self.board.counts()
        self.feed.publish(
            QueueState(
                waiting=len(waits),
                callbacks=len(self.callbacks.pending) if self.callbacks is not None else 0,
                longest_wait=round(max(waits, default=0.0)),
                staff_available=available,
                staff_logged_in=logged_in,
                staff_on_call=on_call,
            )
        )
