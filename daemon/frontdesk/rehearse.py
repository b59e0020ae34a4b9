"""`frontdesk rehearse`: every scenario of the flow, played as a simulated call.

The real daemon runs in this process with a throw-away database, against the simulator, with
its clock set to a moment of the scenario's schedule state. Scenarios are the technician's
`[[rehearse]]` entries plus built-in ones that must hold for every practice: the emergency key
reaches a human or the emergency message in every branch, a caller who presses nothing reaches
a human while open, and every menu option leads somewhere.

The throw-away database gets a seeded agenda (`seed_agenda`): the practice's directory
(practitioners, hours, appointment types) copied from the configured database when it has
one, else a small built-in one; a rehearsal patient with the rehearsal caller's number, who
has one upcoming appointment before every scenario, and another patient. A CalDAV agenda is
rehearsed on the built-in adapter: a rehearsal never writes to the real calendar. A scenario
with ``slot_taken_meanwhile`` has the first slot offered to the caller booked for the other
patient before the caller can confirm it (`Rig.slot_taken_meanwhile`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import gevent.event
import structlog

from frontdesk.agenda import (
    Agenda,
    AppointmentType,
    Patient,
    Practitioner,
    Slot,
)
from frontdesk.agenda.builtin import BuiltinAgenda
from frontdesk.clock import Clock, RealClock, VirtualClock
from frontdesk.config.model import (
    OUTCOMES,
    SCHEDULE_STATES,
    AgendaSettings,
    AppointmentsNode,
    BookingNode,
    Config,
    InfoNode,
    MenuNode,
    MessageNode,
    QueueNode,
    TransferNode,
)
from frontdesk.daemon import Daemon
from frontdesk.flow import CallResult
from frontdesk.fsconf import local_streams
from frontdesk.schedule import Schedule
from frontdesk.sim import CallerScript, SimCall, Simulator
from frontdesk.store import Store, StoreError
from frontdesk.terminal import safe

log = structlog.get_logger(__name__)

EMERGENCY_OUTCOMES = frozenset(
    {"emergency_answered", "emergency_transferred", "emergency_information"}
)
HUMAN_OUTCOMES = frozenset({"answered", "transferred", "emergency_answered"})
SETTLED_OUTCOMES = frozenset(OUTCOMES) - {"abandoned", "interrupted", "failed"}
TERMINAL_OUTCOME = {
    InfoNode: "information",
    MessageNode: "message",
    QueueNode: "answered",
    TransferNode: "transferred",
}
REHEARSAL_CALLER = "0639980001"
CALLERS = {"patient": REHEARSAL_CALLER, "unknown": "0639980077"}
"""The numbers a scenario's `caller` stands for: the rehearsal patient's, and one no patient
has."""
REHEARSAL_PATIENT = ("Patient de répétition", REHEARSAL_CALLER, date(1975, 3, 3))
OTHER_PATIENT = ("Autre patient de répétition", "0639980078", date(1980, 1, 1))
SEED_PRACTITIONERS = (
    Practitioner("martin", "Docteur Martin"),
    Practitioner("durand", "Docteure Durand"),
)
SEED_HOURS = ((time(9, 0), time(12, 0)), (time(14, 0), time(18, 0)))
"""Monday to Friday; Saturday mornings only."""
SEED_MINUTES = 20
UPCOMING_AFTER = timedelta(days=7)
"""The rehearsal patient's upcoming appointment is the first free slot this long after the
scenario's moment."""
PRACTICE_LINE = "5000"
"""What the dialplan hands to the daemon for a patient's call (freeswitch-conf)."""
CALL_TIMEOUT = 120.0
"""Real seconds one rehearsal call may take: a guard against a hang, never reached by a call
that ends (simulated time jumps from one due timer to the next)."""
SCENARIO_LIMIT = 7200.0
"""Simulated seconds a rehearsal call may last: the rehearsal's caller hangs up then and the
scenario fails (a caller going round in a circle would never get out)."""
SEARCH_STEP = timedelta(minutes=15)
SEARCH_DAYS = 400


@dataclass(frozen=True)
class Rehearsal:
    name: str
    when: str
    keys: tuple[str, ...] = ()
    barge: str | None = None
    expect: frozenset[str] = frozenset()
    """Accepted end nodes or outcomes."""
    expect_label: str = ""
    caller_number: str = REHEARSAL_CALLER
    slot_taken_meanwhile: bool = False


@dataclass
class RehearsalResult:
    rehearsal: Rehearsal
    moment: datetime | None
    prompts: list[str] = field(default_factory=list)
    end_node: str | None = None
    outcome: str | None = None
    problem: str | None = None

    @property
    def passed(self) -> bool:
        if self.problem is not None:
            return False
        return bool({self.end_node, self.outcome} & self.rehearsal.expect)


def configured_rehearsals(config: Config) -> list[Rehearsal]:
    return [
        Rehearsal(s.name, s.when, s.keys, None, frozenset({s.expect}), s.expect,
                  CALLERS[s.caller], s.slot_taken_meanwhile)
        for s in config.scenarios
    ]


def builtin_rehearsals(config: Config) -> list[Rehearsal]:
    flow = config.flow
    key = config.emergency.key
    rehearsals = []
    for state in _distinct_branch_states(config):
        rehearsals.append(
            Rehearsal(
                f"emergency key during the greeting ({state})",
                state,
                barge=key,
                expect=EMERGENCY_OUTCOMES,
                expect_label="a human or the emergency message",
            )
        )
        if isinstance(flow.nodes[flow.branches[state].entry], MenuNode):
            rehearsals.append(
                Rehearsal(
                    f"emergency key in the first menu ({state})",
                    state,
                    keys=(key,),
                    expect=EMERGENCY_OUTCOMES,
                    expect_label="a human or the emergency message",
                )
            )
    rehearsals.append(
        Rehearsal(
            "pressing nothing reaches a human (open)",
            "open",
            keys=("",) * 12,
            expect=HUMAN_OUTCOMES,
            expect_label="a human",
        )
    )
    for state in _distinct_branch_states(config):
        for keys, node_name in _option_paths(config, flow.branches[state].entry):
            node = flow.nodes[node_name]
            if isinstance(node, BookingNode | AppointmentsNode):
                # pressing nothing more there: put through to the desk
                expect, label = frozenset({node_name, node.then}), f"{node_name} or {node.then}"
            else:
                expect, label = (frozenset({node_name}),
                                 f"{node_name} ({TERMINAL_OUTCOME[type(node)]})")
            rehearsals.append(
                Rehearsal(
                    f"option {' '.join(keys)} leads somewhere ({state})",
                    state,
                    keys=keys,
                    expect=expect,
                    expect_label=label,
                )
            )
    return rehearsals


def _distinct_branch_states(config: Config) -> list[str]:
    """Branch states, skipping those identical to an earlier one (holiday = closed, often)."""
    seen: list = []
    states = []
    for state in SCHEDULE_STATES:
        branch = config.flow.branches.get(state)
        if branch is None:
            continue
        shape = replace(branch, state="")
        if shape not in seen:
            seen.append(shape)
            states.append(state)
    return states


def _option_paths(config: Config, entry: str) -> list[tuple[tuple[str, ...], str]]:
    """Every key sequence through the menus from `entry`, with the node it ends in."""
    paths = []

    def walk(name: str, keys: tuple[str, ...], seen: frozenset[str]) -> None:
        node = config.flow.nodes[name]
        passed: set[str] = set()  # info nodes in a circle end the path (the call never ends)
        while isinstance(node, InfoNode) and node.then is not None and node.name not in passed:
            passed.add(node.name)
            node = config.flow.nodes[node.then]
        if not isinstance(node, MenuNode):
            if keys:
                paths.append((keys, node.name))
            return
        if node.name in seen:
            return
        for key, target in sorted(node.options.items()):
            walk(target, keys + (key,), seen | {node.name})

    walk(entry, (), frozenset())
    return paths


def moment_for(when: str, config: Config, now: datetime) -> datetime | None:
    """A moment at which a call meets `when`: a local ISO date-time, or a schedule state
    (the first such moment from `now` on, looking ahead up to a year)."""
    zone = ZoneInfo(config.practice.timezone)
    if when not in SCHEDULE_STATES:
        moment = datetime.fromisoformat(when)
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    schedule = Schedule(config.schedule, config.practice)
    start = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    step = SEARCH_STEP if when in ("open", "lunch", "closed") else timedelta(hours=6)
    moment = start
    while moment < start + timedelta(days=SEARCH_DAYS):
        if schedule.state_at(moment).state == when:
            return moment + timedelta(minutes=1)
        moment += step
    return None


def rehearse(config: Config) -> list[RehearsalResult]:
    rehearsals = configured_rehearsals(config) + builtin_rehearsals(config)
    uri_names = {prompt.uri: name for name, prompt in config.prompts.items()}
    with tempfile.TemporaryDirectory(prefix="frontdesk-rehearse-") as tmp:
        with Rig(config, Path(tmp)) as rig:
            return [_play(rig, rehearsal, uri_names) for rehearsal in rehearsals]


def _play(rig: Rig, rehearsal: Rehearsal, uri_names: dict[str, str]) -> RehearsalResult:
    moment = moment_for(rehearsal.when, rig.config, rig.now)
    outcome = RehearsalResult(rehearsal, moment)
    if moment is None:
        outcome.problem = f"the schedule is never {rehearsal.when!r} in the coming year"
        return outcome
    script = CallerScript(
        keys=rehearsal.keys, barge=rehearsal.barge, hangup_after=SCENARIO_LIMIT
    )
    rig.keep_upcoming_appointment(moment)
    with rig.slot_taken_meanwhile(rehearsal.slot_taken_meanwhile):
        call, result = rig.call(script, at=moment, caller_number=rehearsal.caller_number)
    outcome.prompts = [_prompt_name(rig, uri, uri_names) for uri in call.prompts_heard]
    if call.reached_hangup_after:
        outcome.problem = (
            f"still going after {SCENARIO_LIMIT / 3600:g} hours (simulated): the caller "
            "never reaches a human or the end of the call"
        )
    elif result is None:
        outcome.problem = "the daemon recorded no end for the call"
    if result is not None:
        outcome.end_node = result.end_node
        outcome.outcome = result.outcome
    return outcome


def _prompt_name(rig: Rig, uri: str, uri_names: dict[str, str]) -> str:
    """The config's name of a prompt; "announcement" for a sentence spoken to a waiting caller
    (a file of the rig's throw-away cache, whose path means nothing to the technician)."""
    if Path(uri) in rig.daemon.announcer.texts:
        return "announcement"
    return uri_names.get(uri, uri)


class RealTimeAt(RealClock):
    """Real time with the calendar set to a chosen moment: for rigs where processes outside
    this one take part, which simulated time cannot wait for."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def wall(self) -> datetime:
        return super().wall() + self._offset

    def set_wall(self, moment: datetime) -> None:
        self._offset = moment - super().wall()

    def stop(self) -> None:
        """Nothing to stop (as `VirtualClock.stop`)."""


class Rig:
    """The real daemon and the simulator wired together in this process, with a throw-away
    database and a clock set per call: used by rehearse, the tests and the benchmarks."""

    def __init__(
        self,
        config: Config,
        workdir: Path,
        *,
        answer_after: float | None = 3.0,
        heartbeat_interval: float = 0,
        clock: RealTimeAt | None = None,
        sim_clock: Clock | None = None,
    ) -> None:
        """`clock`: real time instead of simulated (processes outside this one take part);
        `sim_clock`: the simulator's, when it is not the daemon's (`ScaledClock`)."""
        self.config = config
        self.now = datetime.now(ZoneInfo(config.practice.timezone))
        self._moment = self.now
        self.clock: VirtualClock | RealTimeAt = clock or VirtualClock()
        """Time shared by the daemon and the simulator: simulated (a virtual clock), or real
        for tests where processes outside this one take part."""
        self.clock.set_wall(self._moment)
        self.results: dict[str, gevent.event.AsyncResult] = {}
        messages = workdir / "messages"
        messages.mkdir(parents=True, exist_ok=True)  # the install makes it for FreeSWITCH
        password = "rehearsal"
        self.sim = Simulator(
            password=password,
            daemon_address=None,
            clock=sim_clock or self.clock,
            heartbeat_interval=heartbeat_interval,
            gateways=(config.freeswitch.gateway,),
            local_streams=local_streams(config),
        )
        self.sim.start()
        for extension in set(config.frontdesk.extensions) | set(config.emergency.extensions):
            self.sim.add_phone(extension, answer_after=answer_after, talk_seconds=30.0)
        for number in config.numbers.values():
            self.sim.add_outside(number, answer_after=answer_after, talk_seconds=30.0)
        rig_config = replace(
            config,
            freeswitch=replace(
                config.freeswitch,
                esl_host="127.0.0.1",
                esl_port=self.sim.esl_port,
                esl_password=password,
                listen_host="127.0.0.1",
                listen_port=0,
            ),
            storage=replace(
                config.storage, database=workdir / "rehearse.db", messages=messages
            ),
            agenda=_builtin(config.agenda),
        )
        self.daemon = Daemon(rig_config, clock=self.clock, on_call_finished=self._finished)
        self.patient, self.other_patient = seed_agenda(self.daemon.store, config)
        self._start(self.daemon)
        zone = ZoneInfo(config.practice.timezone)
        self.seeded = BuiltinAgenda(self.daemon.store, rig_config.agenda or AgendaSettings(), zone)
        """The rig's agenda, written to directly by the rehearsal (the daemon's may be None:
        the hand-off adapter)."""

    def _start(self, daemon: Daemon) -> Daemon:
        daemon.start()
        self.sim.daemon_address = ("127.0.0.1", daemon.port)
        return daemon

    def restart_daemon(self, grace: float = 0.1) -> Daemon:
        """Stop the daemon and start a new one on the same database and simulator (calls
        bridged by the old one go on in the simulator, as in FreeSWITCH)."""
        self.daemon.stop(grace=grace)
        self.daemon = self._start(
            Daemon(self.daemon.config, clock=self.clock, on_call_finished=self._finished)
        )
        return self.daemon

    @property
    def moment(self) -> datetime:
        """The calendar time the last call was placed at (the daemon's calendar has run on
        with simulated time since)."""
        return self._moment

    @moment.setter
    def moment(self, moment: datetime) -> None:
        self._moment = moment
        self.clock.set_wall(moment)

    def keep_upcoming_appointment(self, moment: datetime) -> None:
        """The rehearsal patient has an upcoming appointment at `moment` (the first free
        slot `UPCOMING_AFTER` later), whatever the scenarios before did with theirs."""
        if self.seeded.upcoming(self.patient, moment):
            return
        for kind in self.daemon.store.appointment_types()[:1]:
            slots = self.seeded.free_slots(kind.name, None, moment + UPCOMING_AFTER, 1)
            if slots:
                self.seeded.book(slots[0], self.patient, by="rehearsal")

    @contextmanager
    def slot_taken_meanwhile(self, enabled: bool = True) -> Iterator[None]:
        """While in it (when `enabled`), the first slot offered to a caller is booked for the
        other patient before the caller can confirm it."""
        agenda = self.daemon.agenda
        if not enabled or agenda is None:
            yield
            return
        self.daemon.agenda = _TakenMeanwhile(agenda, self.other_patient)
        try:
            yield
        finally:
            self.daemon.agenda = agenda

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _finished(self, uuid: str, result: CallResult) -> None:
        self.results.setdefault(uuid, gevent.event.AsyncResult()).set(result)

    def call(
        self,
        script: CallerScript,
        *,
        at: datetime | None = None,
        caller_number: str = REHEARSAL_CALLER,
        timeout: float = CALL_TIMEOUT,
    ) -> tuple[SimCall, CallResult | None]:
        """Place one call at the moment `at` and wait for the daemon to record its end."""
        call = self.place(script, at=at, caller_number=caller_number)
        return call, self.result(call, timeout)

    def place(
        self,
        script: CallerScript,
        *,
        at: datetime | None = None,
        caller_number: str = REHEARSAL_CALLER,
        destination: str = PRACTICE_LINE,
    ) -> SimCall:
        """Place a call without waiting; the daemon's clock reads `at` (default: now).
        `destination` is the number dialled: the practice's line, or a feature code from a
        desk phone."""
        moment = at or self.now
        if moment != self._moment:
            self.moment = moment
        return self.sim.place_call(script, caller_number=caller_number, destination=destination)

    def result(self, call: SimCall, timeout: float = CALL_TIMEOUT) -> CallResult | None:
        """The daemon's result for a placed call, once it has recorded the call's end."""
        call.wait_done(timeout)
        pending = self.results.setdefault(call.uuid, gevent.event.AsyncResult())
        return pending.get(timeout=timeout) if pending.wait(timeout) else None

    def wait_for(
        self, condition: Callable[[], object], timeout: float = 600.0, every: float = 0.1
    ) -> bool:
        """Check `condition` every `every` simulated seconds until it holds (True) or
        `timeout` simulated seconds passed (False). A wait of an hour of simulated time for
        something that reads the database is cheaper checked every second."""
        deadline = self.clock.now() + timeout
        while not condition():
            if self.clock.now() >= deadline:
                return False
            self.clock.sleep(every)
        return True

    def close(self) -> None:
        self.daemon.stop(grace=1.0)
        self.sim.stop()
        self.clock.stop()


def _builtin(settings: AgendaSettings | None) -> AgendaSettings | None:
    """A CalDAV agenda is rehearsed on the built-in one, never on the real calendar."""
    if settings is None or settings.adapter != "caldav":
        return settings
    return replace(settings, adapter="builtin")


def seed_agenda(store: Store, config: Config) -> tuple[Patient, Patient]:
    """Fill the rehearsal's database: the practice's directory (or the built-in one), the
    rehearsal patient and another patient. Returns both patients."""
    if not _copy_directory(config.storage.database, store):
        kinds = {node.kind for node in config.flow.nodes.values() if isinstance(node, BookingNode)}
        for kind in sorted(kinds or {"consultation"}):
            store.add_appointment_type(AppointmentType(kind, SEED_MINUTES))
        for practitioner in SEED_PRACTITIONERS:
            store.add_practitioner(practitioner)
            for weekday in range(6):
                store.set_hours(practitioner.id, weekday, SEED_HOURS[: 2 if weekday < 5 else 1])
    (patient, _), (other, _) = store.add_patients([REHEARSAL_PATIENT, OTHER_PATIENT])
    return patient, other


def _copy_directory(source: Path, store: Store) -> bool:
    """Copy the practitioners, their hours and the appointment types of the practice's
    database; False when it has none (or cannot be read)."""
    if not source.is_file():
        return False
    try:
        with Store(source) as practice:
            practitioners = practice.practitioners()
            hours = {p.id: practice.consultation_hours(p.id) for p in practitioners}
            kinds = practice.appointment_types()
    except StoreError as error:
        log.warning("rehearse.directory_unreadable", database=str(source), error=str(error))
        return False
    if not practitioners:
        return False
    for kind in kinds:
        store.add_appointment_type(kind)
    for practitioner in practitioners:
        store.add_practitioner(practitioner)
        for weekday in range(7):
            ranges = [(h.start, h.end) for h in hours[practitioner.id] if h.weekday == weekday]
            if ranges:
                store.set_hours(practitioner.id, weekday, ranges)
    return True


class _TakenMeanwhile:
    """The agenda, except that the first slots it offers are read, then the first of them is
    booked for `other` (by "rehearsal"): the caller then confirms a slot taken meanwhile."""

    def __init__(self, agenda: Agenda, other: Patient) -> None:
        self._agenda = agenda
        self._other = other
        self._taken = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agenda, name)

    def free_slots(
        self, kind: str, practitioner: str | None, after: datetime, count: int
    ) -> list[Slot]:
        slots = self._agenda.free_slots(kind, practitioner, after, count)
        if slots and not self._taken:
            self._taken = True
            self._agenda.book(slots[0], self._other, by="rehearsal")
        return slots


def format_table(results: list[RehearsalResult], config: Config) -> str:
    zone = ZoneInfo(config.practice.timezone)
    header = ("", "scenario", "when", "keys", "prompts heard", "ended at", "expected")
    rows: list[tuple[str, ...]] = [header]
    for result in results:
        rehearsal = result.rehearsal
        keys = []
        if rehearsal.barge:
            keys.append(f"{rehearsal.barge} (greeting)")
        keys += [key or "-" for key in rehearsal.keys]
        while len(keys) > 3 and keys[-1] == keys[-2] == "-":
            keys.pop()
        when = rehearsal.when
        if result.moment is not None:
            when = f"{rehearsal.when} {result.moment.astimezone(zone):%a %d/%m %H:%M}"
        ended = result.problem or f"{result.end_node or '-'} ({result.outcome})"
        rows.append(
            (
                "ok" if result.passed else "FAIL",
                rehearsal.name,
                when,
                " ".join(keys) or "-",
                ", ".join(_collapse(result.prompts)) or "-",
                ended,
                rehearsal.expect_label or ", ".join(sorted(rehearsal.expect)),
            )
        )
    rows = [tuple(safe(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _collapse(prompts: list[str]) -> list[str]:
    """`menu, menu, menu` -> `menu x3`: a caller who pressed nothing hears a menu three times."""
    collapsed: list[str] = []
    counts: list[int] = []
    for prompt in prompts:
        if collapsed and collapsed[-1] == prompt:
            counts[-1] += 1
        else:
            collapsed.append(prompt)
            counts.append(1)
    return [name if n == 1 else f"{name} x{n}" for name, n in zip(collapsed, counts, strict=True)]
