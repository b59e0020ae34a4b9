"""The per-call state machine: greeting, schedule branch, menus, and an outcome.

A `CallFlow` walks one call through the nodes of the config it started with. It talks to
FreeSWITCH only through the `CallSession` of `frontdesk.esl` and decides everything from the
results FreeSWITCH reports (variables of CHANNEL_EXECUTE_COMPLETE), so the path it records is
enough to replay what it decided.

FreeSWITCH details the flow relies on (see tests/data/esl-captures/README.md):
- `play_and_get_digits` reports the key in the variable it was given, not in `read_result`
  (a wrong key gives `read_result: success` too), and plays its invalid file after a timeout
  as well: `CallSession.read_digits` runs one try, the flow then says "invalid choice" only
  after a wrong key. Each menu round uses a new variable name so a key from an earlier round
  can never be read again.
- The greeting is played with `playback_terminators=any` so any key interrupts it; the key is in
  `variable_playback_terminator_used`.
- `record` stops on the digits of `playback_terminators` (set to `#` before recording) and on
  silence; a caller hanging up during it still gets the partial recording.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from frontdesk.agenda.phone import AgendaCall, AgendaLine
from frontdesk.clock import Clock, RealClock
from frontdesk.config.loader import may_dial
from frontdesk.config.model import (
    AgendaNode,
    AppointmentsNode,
    BookingNode,
    Config,
    InfoNode,
    MenuNode,
    MessageNode,
    Node,
    QueueNode,
    TransferNode,
)
from frontdesk.conversation import confirm_number
from frontdesk.esl import CallGone, CallSession, Event, commands
from frontdesk.esl.commands import caller_id, gateway_target
from frontdesk.queue import CallQueue, Waiting
from frontdesk.queue.announce import Announcer
from frontdesk.queue.hold import ANSWERED, CALLBACK, hold
from frontdesk.recording import StaffRecorder
from frontdesk.schedule import ScheduleState

log = structlog.get_logger(__name__)

KEY_VARIABLE_PREFIX = "fd_key_"
RECORD_SILENCE_THRESHOLD = 200
RECORD_SILENCE_SECONDS = 3
MIN_MESSAGE_MS = 1500
"""A recording shorter than this is a caller who hung up at the beep, not a message."""
NAME_SECONDS = 15
"""A new patient's name, said to be booked by phone (frontdesk.agenda.phone)."""


@dataclass
class Step:
    """One thing that happened on the call's path through the flow."""

    node: str
    event: str
    """enter, key, timeout, invalid, repeat, failed, answered, no_answer, recorded..."""
    key: str | None = None
    at: float = 0.0
    """Seconds since the call arrived."""

    def as_dict(self) -> dict:
        step = {"node": self.node, "event": self.event, "at": round(self.at, 3)}
        if self.key is not None:
            step["key"] = self.key
        return step


@dataclass
class CallResult:
    path: list[Step] = field(default_factory=list)
    reason: str | None = None
    outcome: str = "abandoned"
    end_node: str | None = None
    answered_at: datetime | None = None
    answered_by: str | None = None
    message_file: str | None = None
    recording_file: str | None = None
    """The recorded conversation with the staff (see frontdesk.recording)."""
    recording_purpose: str | None = None
    feedback: int | None = None
    """The caller's answer (1 to 5) to the satisfaction question ([feedback])."""


class CallFlow:
    """Runs one call. `run()` returns when the call is over; it never raises CallGone."""

    def __init__(
        self,
        session: CallSession,
        config: Config,
        schedule_state: ScheduleState,
        *,
        clock: Clock | None = None,
        queue: CallQueue,
        announcer: Announcer | None = None,
        agenda: AgendaLine,
        on_agenda_action: Callable[[str, str | None], None],
        on_progress: Callable[[CallResult], None] | None = None,
    ) -> None:
        """`on_progress(result)` is called after every step of the path (it must not block):
        what a crash leaves behind is the path so far. `on_agenda_action(action,
        appointment_id)` stores what the caller did in the agenda, at once."""
        self.session = session
        self.agenda = agenda
        self._on_agenda_action = on_agenda_action
        self._on_progress = on_progress
        self.queue = queue
        self.announcer = announcer
        """Speaks queue positions and waits; None: the static prompts of [queue]."""
        self._queue_started = queue.now()
        """When the call began, on the queue's clock: its place in the queue."""
        self.config = config
        self.state = schedule_state
        self.clock: Clock = clock or RealClock()
        self.result = CallResult()
        self._started = self.clock.now()
        self._pending_key: str | None = None
        self._round = 0
        self._bridging: tuple[str, str | None] | None = None
        """(node, who answers) while the `bridge` application runs."""
        self.talking = False
        """True once the caller is bridged to someone: a conversation the daemon's stop
        leaves alone."""
        self._fallback = False
        """True once the caller was sent on by a failure (menu failed, nobody answered)."""
        self._queue_entry: Waiting | None = None
        """The caller's place in the front-desk queue, once they had one."""
        self._offered = False
        """The call asked for the desk (entered the queue, or was turned away by an overflow
        rule): counted once for /metrics, as the report counts it."""
        self._log = log.bind(call=session.uuid)
        recording = config.recording
        self._recorder = StaffRecorder(session, recording) if recording.enabled else None
        session.on_event(self._watch_bridge)

    # -- running the call ---------------------------------------------------------------

    def run(self) -> CallResult:
        try:
            self._run()
        except CallGone:
            self._log.info("call.gone", outcome=self.result.outcome)
        self._call_back_if_missed()
        return self.result

    def _call_back_if_missed(self) -> None:
        """A caller who waited for the desk and hung up unserved without a message (in the
        queue, or at the voicemail an overflow sent them to) is a missed patient: the queue
        calls them back when the desk is free (`CallbackDesk.missed`)."""
        entry, callbacks = self._queue_entry, self.queue.callbacks
        if entry is not None and callbacks is not None and self.result.outcome == "abandoned":
            callbacks.missed(entry)

    def _run(self) -> None:
        flow = self.config.flow
        branch = flow.branches[self.state.state]
        self._step("greeting", "enter")
        self.session.execute("answer")
        self.session.set("playback_terminators", "any")
        recording = self.config.recording
        consent = recording.consent_prompt if recording.enabled else None
        openings = (flow.greeting, consent, branch.announcement)
        if any(self._play_interruptible(prompt) for prompt in openings if prompt):
            self._emergency()
            return
        self.session.set("playback_terminators", "none")
        self._walk(branch.entry)

    def _walk(self, name: str) -> None:
        first_menu = True
        next_name: str | None = name
        while next_name is not None:
            node = self.config.flow.nodes[next_name]
            self._note_reason(node)  # saved with the step: a daemon lost in the node keeps it
            self._step(node.name, "enter")
            next_name = self._visit(node, first_menu)
            first_menu = False

    def _visit(self, node: Node, first_menu: bool) -> str | None:
        """Run one node; return the next node's name, or None when the call is settled."""
        if isinstance(node, MenuNode):
            choice = self._menu(node, first_menu)
            if choice == "emergency":
                self._emergency()
                return None
            return choice
        if isinstance(node, InfoNode):
            self.result.outcome = "information"
            self.result.end_node = node.name
            self._play(node.prompt)
            if node.then is not None:
                return node.then
            self._goodbye()
            return None
        if isinstance(node, MessageNode):
            self._message(node)
            return None
        if isinstance(node, QueueNode):
            return self._frontdesk(node)
        if isinstance(node, TransferNode):
            return self._transfer(node)
        if isinstance(node, BookingNode | AppointmentsNode):
            return self._agenda_node(node)
        raise TypeError(f"unknown node type {type(node).__name__}")

    # -- menus --------------------------------------------------------------------------

    def _menu(self, node: MenuNode, first_menu: bool) -> str:
        flow = self.config.flow
        emergency_key = self.config.emergency.key if first_menu else None
        accepted = set(node.options) | {flow.operator_key, flow.repeat_key}
        if emergency_key:
            accepted.add(emergency_key)
        failures = 0
        while failures < node.tries:
            key, outcome = self._ask(node, accepted)
            if key is None:
                failures += 1
                self._step(node.name, outcome)
                self._explain_failure(node, outcome)
                continue
            self._step(node.name, "key", key)
            if key == flow.repeat_key:
                continue
            if key == emergency_key:
                return "emergency"
            if key == flow.operator_key:
                self.result.reason = self.result.reason or "speak_to_someone"
                return node.on_failure
            return node.options[key]
        self._step(node.name, "failed")
        self._fallback = True
        return node.on_failure

    def _ask(self, node: MenuNode, accepted: set[str]) -> tuple[str | None, str]:
        """One round of a menu: (key, "key") or (None, "timeout" | "invalid")."""
        pending, self._pending_key = self._pending_key, None
        if pending is not None and pending in accepted:
            return pending, "key"
        self._round += 1
        timeout_ms = int(node.timeout * 1000)
        keys_class = "".join(re.escape(k) for k in sorted(accepted))
        return self.session.read_digits(
            self._prompt_uri(node.prompt),
            variable=f"{KEY_VARIABLE_PREFIX}{self._round}",
            regex=f"^[{keys_class}]$",
            timeout_ms=timeout_ms,
        )

    def _explain_failure(self, node: MenuNode, outcome: str) -> None:
        """A key the menu does not offer: the invalid-choice prompt. No key at all: the
        no-choice prompt when one is configured, else nothing (the menu is repeated)."""
        flow = self.config.flow
        if outcome == "invalid":
            prompt: str | None = node.invalid_prompt or flow.invalid
        else:
            prompt = node.no_choice_prompt or flow.no_choice
        if prompt is not None:
            self._play(prompt)

    # -- outcomes -----------------------------------------------------------------------

    def _emergency(self) -> None:
        emergency = self.config.emergency
        self.result.reason = "emergency"
        self._step("emergency", "enter")
        if self.state.state == "open":
            extensions = emergency.extensions or self.config.frontdesk.extensions
            if (
                self._ring_staff("emergency", extensions, emergency.ring_timeout, emergency=True)
                == ANSWERED
            ):
                self.result.outcome = "emergency_answered"
                return
        self.result.outcome = "emergency_information"
        self.result.end_node = "emergency"
        self.session.set("playback_terminators", "none")
        self._play(emergency.prompt)
        if emergency.on_call is not None:
            number = self.config.numbers[emergency.on_call]
            dial = self._outside_dial_string(number, emergency.ring_timeout)
            if self._bridge("emergency", dial, emergency.on_call):
                self.result.outcome = "emergency_transferred"
                return
            self._play(emergency.prompt)
        self._goodbye()

    def _frontdesk(self, node: QueueNode) -> str | None:
        if node.prompt:
            self._play(node.prompt)
        extensions = node.extensions or self.config.frontdesk.extensions
        settings = self.config.queue
        if self.queue.nobody_logged_in(extensions):
            action = self._refused("nobody", settings.on_nobody, extensions, node.ring_timeout)
        elif self.queue.on_hold() >= settings.max_length:
            action = self._refused(
                "max_length", settings.on_max_length, extensions, node.ring_timeout
            )
        else:
            action = self._ring_staff(node.name, extensions, node.ring_timeout)
        if action == ANSWERED:
            self.result.outcome = "answered"
            entry = self._queue_entry
            if entry is not None and entry.staff_hung_up.is_set():
                self._ask_feedback()
            return None
        if action == CALLBACK:
            self.result.end_node = node.name
            return None
        self._fallback = True
        self._step(node.name, "overflow", action)
        if action in self.config.numbers:
            number = self.config.numbers[action]
            dial = self._outside_dial_string(number, settings.ring_timeout)
            if self._bridge(node.name, dial, action):
                self.result.outcome = "transferred"
                return None
        return node.then

    def _refused(
        self, rule: str, action: str, extensions: tuple[str, ...], ring_timeout: float | None
    ) -> str:
        """The caller cannot wait (nobody logged in, the queue is full): `action`. A callback
        offer gives them their place in the queue, to be called back; declined, the node's
        `then` (voicemail)."""
        self._count_offered()
        self.queue.overflow_refused(self.session.uuid, rule, action)
        if action != "callback":
            return action
        entry = self._enter_queue(extensions, ring_timeout, emergency=False)
        try:
            if self._offer_callback(entry):
                return CALLBACK
        finally:
            if entry.callback is None:
                self.queue.leave(entry, "abandoned" if self.session.hungup.is_set() else "left")
        return "voicemail"

    def _enter_queue(
        self,
        extensions: tuple[str, ...],
        ring_timeout: float | None,
        *,
        emergency: bool,
        ask_feedback: bool = False,
    ) -> Waiting:
        self._count_offered()
        self._queue_entry = self.queue.enter(
            self.session.uuid,
            caller_number=self.session.caller_number,
            started=self._queue_started,
            emergency=emergency,
            extensions=extensions,
            ring_timeout=ring_timeout or self.config.queue.ring_timeout,
            ask_feedback=ask_feedback,
        )
        return self._queue_entry

    def _count_offered(self) -> None:
        if not self._offered:
            self._offered = True
            self.queue.tally.call_offered()

    def _transfer(self, node: TransferNode) -> str | None:
        if node.prompt:
            self._play(node.prompt)
        number = self.config.numbers[node.number]
        dial = self._outside_dial_string(number, node.ring_timeout)
        if self._bridge(node.name, dial, node.number):
            self.result.outcome = "transferred"
            return None
        self._fallback = True
        return node.then

    def _agenda_node(self, node: AgendaNode) -> str | None:
        """Book, move or cancel (frontdesk.agenda.phone); None once settled (the caller
        heard it: goodbye), else the node's `then`, the desk."""
        if node.prompt:
            self._play(node.prompt)
        call = AgendaCall(
            self.session,
            self.agenda,
            self.config.practice.language,
            say=self._say,
            invalid_uri=self._prompt_uri(self.config.flow.invalid),
            operator_key=self.config.flow.operator_key,
            step=lambda event, key: self._step(node.name, event, key),
            record=self._on_agenda_action,
            confirm_callback_number=self._callback_number,
            record_name=lambda: self._record_name(node),
            now=self.clock.wall,
        )
        if isinstance(node, BookingNode):
            outcome = call.run_booking(node.kind)
        else:
            outcome = call.run_appointments()
        if outcome is None:
            self._fallback = True
            return node.then
        self.result.outcome = outcome
        self.result.end_node = node.name
        self._goodbye()
        return None

    def _message(self, node: MessageNode) -> None:
        self.result.end_node = node.name
        self._play(node.prompt)
        if self._record(node.name, node.max_seconds, node.reason) is not None:
            self.result.outcome = "voicemail" if self._fallback else "message"
        if self.session.hungup.is_set():
            return
        if node.thanks_prompt:
            self._play(node.thanks_prompt)
        self._goodbye()

    def _record(self, node_name: str, max_seconds: int, node_reason: str) -> str | None:
        """Record the caller (until #, silence or `max_seconds`) into the call's message
        file, tagged with the call's reason (else `node_reason`); its path when it holds a
        message, which is then the call's."""
        self.session.set("playback_terminators", "#")
        reason = self.result.reason or node_reason
        for name, value in commands.message_tags(self.session.caller_number, reason).items():
            self.session.set(name, value)
        target = self.config.storage.messages / f"{self.session.uuid}.wav"
        done = self.session.execute(
            "record",
            commands.record(
                str(target), max_seconds, RECORD_SILENCE_THRESHOLD, RECORD_SILENCE_SECONDS
            ),
            timeout=self.session.limit(max_seconds),
        )
        recorded_ms = int(done.variable("record_ms") or 0)
        self._step(node_name, "recorded", str(recorded_ms))
        if recorded_ms < MIN_MESSAGE_MS:
            return None
        self.result.message_file = str(target)
        return str(target)

    def _record_name(self, node: AgendaNode) -> str | None:
        """A new patient says their name (frontdesk.agenda.phone), for the staff."""
        recorded = self._record(node.name, NAME_SECONDS, node.reason)
        self.session.set("playback_terminators", "none")
        return recorded

    # -- FreeSWITCH actions -------------------------------------------------------------

    def _ring_staff(
        self,
        node_name: str,
        extensions: tuple[str, ...],
        ring_timeout: float | None,
        *,
        emergency: bool = False,
    ) -> str:
        """Wait in the front-desk queue until staff answer (recorded when recording is on);
        returns `frontdesk.queue.hold`'s result: ANSWERED or an overflow action."""
        actions: list[str] = []

        def wait() -> bool:
            actions.append(self._queue_wait(node_name, extensions, ring_timeout, emergency))
            return actions[0] == ANSWERED

        if self._recorder is None:
            wait()
        else:
            self._recorder.record(wait)
        return actions[0]

    def _queue_wait(
        self,
        node_name: str,
        extensions: tuple[str, ...],
        ring_timeout: float | None,
        emergency: bool,
    ) -> str:
        """An emergency jumps the queue, hears music only and waits at most its ring timeout;
        the queue bridges the caller to the phone that answers."""
        settings = self.config.queue
        entry = self._enter_queue(extensions, ring_timeout, emergency=emergency,
                                  ask_feedback=not emergency and self._feedback_wanted())
        self._step(node_name, "queued")
        try:
            return hold(
                self.session,
                self.queue,
                entry,
                settings,
                self._prompt_uri,
                max_wait=ring_timeout if emergency else None,
                announce=not emergency,
                announcer=self.announcer,
                offer_callback=None if emergency else lambda: self._offer_callback(entry),
                on_answered=lambda: self._answered(node_name, entry.agent, recorded=True),
            )
        finally:
            if entry.agent is not None and not self.talking:  # bridged as the caller left
                self._answered(node_name, entry.agent, recorded=True)

    def _feedback_wanted(self) -> bool:
        """Whether this caller is asked the satisfaction question once the staff hangs up:
        [feedback] enabled, and drawn among its `share` of the callers."""
        feedback = self.config.feedback
        return feedback.enabled and feedback.prompt is not None and random.random() < feedback.share

    def _ask_feedback(self) -> None:
        """The staff hung up and FreeSWITCH parked the caller for the daemon (see
        `commands.about_to_talk`): one question, a key 1-5 kept with the call, thanks, and the
        call is ended. No key (or another) keeps nothing."""
        feedback = self.config.feedback
        assert feedback.prompt is not None  # `_feedback_wanted`
        self._step("feedback", "enter")
        try:  # parked, nobody else ends the call: even a daemon's stop must not leave silence
            key, outcome = self.session.read_digits(
                self._prompt_uri(feedback.prompt),
                variable="fd_feedback",
                regex="^[1-5]$",
                timeout_ms=int(feedback.timeout * 1000),
            )
            self._step("feedback", "key" if key else outcome, key)
            if key is not None:
                self.result.feedback = int(key)
                if feedback.thanks_prompt:
                    self._play(feedback.thanks_prompt)
        finally:
            self.session.hangup("NORMAL_CLEARING")

    @property
    def asks_feedback(self) -> bool:
        """Whether the caller is to be asked the satisfaction question after the staff."""
        return self._queue_entry is not None and self._queue_entry.ask_feedback

    def _offer_callback(self, entry: Waiting) -> bool:
        """The caller on hold pressed the callback key (or waited the maximum with
        ``on_max_wait = "callback"``): confirm the number, store the request (the caller keeps
        their place), thank and hang up. False (back on hold) if they confirmed nothing."""
        settings, callbacks = self.config.queue, self.queue.callbacks
        if settings.callback_prompt is None or callbacks is None:
            return False
        self._step("callback", "enter")
        number = self._callback_number()
        if number is None or entry.state != "waiting" or not callbacks.request(entry, number):
            entry.declined_callback = entry.declined_callback or number is None
            self._step("callback", "declined")
            self.session.set("playback_terminators", settings.callback_key or "none")
            return False
        self._step("callback", "requested")
        self.result.outcome = "callback"
        try:
            if settings.callback_thanks_prompt:
                self._play(settings.callback_thanks_prompt)
            self.session.hangup("NORMAL_CLEARING")
        finally:
            callbacks.ready(entry)
        return True

    def _callback_number(self) -> str | None:
        """The number the caller confirmed or typed to be called back on (None: none)."""
        return confirm_number(
            self.session,
            caller_number=self.session.caller_number,
            settings=self.config.queue,
            language=self.config.practice.language,
            prompt_uri=self._prompt_uri,
            invalid_uri=self._prompt_uri(self.config.flow.invalid),
            say=self._say,
            dialable=lambda digits: may_dial(self.config, digits),
        )

    def _say(self, text: str) -> str | None:
        """A rendered sentence to play (frontdesk.queue.announce), or None."""
        path = self.announcer.render(text) if self.announcer is not None else None
        return str(path) if path is not None else None

    def _outside_dial_string(self, number: str, ring_timeout: float) -> str:
        """Through the trunk, showing the practice's number (never the patient's: the operator
        may refuse a number that is not the line's)."""
        config = self.config
        return commands.bridge_dial(
            gateway_target(config.freeswitch.gateway, number),
            ring_timeout,
            caller_id(config.presented_number, config.practice.name),
        )

    def _bridge(self, node_name: str, dial_string: str, answered_by: str) -> bool:
        """Bridge the caller to `answered_by` (a number's name); True when someone answered
        (the call is then over for us). Before it, the caller's channel says the conversation
        outlives the daemon's socket and ends the call after it (`commands.TALKING`); a
        bridge nobody answered takes that back."""
        for name, value in (("hangup_after_bridge", "true"), ("continue_on_fail", "true"),
                            *commands.TALKING.items()):
            self.session.set(name, value)
        self._bridging = (node_name, answered_by)
        try:
            done = self.session.execute("bridge", dial_string, timeout=None)
        finally:
            self._bridging = None
        if self.talking or done.variable("originate_disposition") == "SUCCESS":
            if not self.talking:
                self._answered(node_name, answered_by)
            return True
        for name, value in commands.NOT_TALKING.items():
            self.session.set(name, value)
        cause = done.variable("originate_disposition") or done.variable("bridge_hangup_cause")
        self._step(node_name, "no_answer", cause)
        return False

    def _watch_bridge(self, event: Event) -> None:
        """The `bridge` application's other side answered: stamped now, not at hang-up."""
        if event.name == "CHANNEL_BRIDGE" and self._bridging is not None and not self.talking:
            self._answered(*self._bridging)

    def _answered(self, node_name: str, answered_by: str | None, *, recorded: bool = False) -> None:
        """Someone answered the caller: the conversation begins (`recorded`: a conversation
        with the staff, recorded when recording is on)."""
        self.talking = True
        self.result.answered_at = self.clock.wall()
        self.result.answered_by = answered_by
        self.result.end_node = node_name
        if recorded and self._recorder is not None:
            self.result.recording_file = str(self._recorder.path)
            self.result.recording_purpose = self.config.recording.purpose
        self._step(node_name, "answered", answered_by)

    def _play(self, prompt: str) -> Event:
        return self.session.execute("playback", self._prompt_uri(prompt))

    def _play_interruptible(self, prompt: str) -> bool:
        """Play with any key as terminator; True if the key was the emergency key."""
        key = self._play(prompt).variable("playback_terminator_used")
        if not key:
            return False
        self._step("greeting", "key", key)
        if key == self.config.emergency.key:
            return True
        self._pending_key = key
        return False

    def _goodbye(self) -> None:
        self._play(self.config.flow.goodbye)
        self.session.hangup("NORMAL_CLEARING")

    # -- bookkeeping --------------------------------------------------------------------

    def _prompt_uri(self, name: str) -> str:
        return self.config.prompts[name].uri

    def _note_reason(self, node: Node) -> None:
        """The most specific node sets the reason; fallbacks never overwrite one."""
        reason = getattr(node, "reason", None)
        if reason and not (self.result.reason and self._fallback):
            self.result.reason = reason

    def _step(self, node: str, event: str, key: str | None = None) -> None:
        self.result.path.append(Step(node, event, key, self.clock.now() - self._started))
        if self._on_progress is not None:
            self._on_progress(self.result)
