"""`frontdesk run --simulator`: the built-in FreeSWITCH stand-in and random simulated callers,
so the daemon can be watched taking calls on a machine without FreeSWITCH."""

from __future__ import annotations

import random

import gevent
import structlog

from frontdesk.clock import RealClock
from frontdesk.config.model import Config, MenuNode
from frontdesk.fsconf import local_streams
from frontdesk.logs import mask_number, mask_numbers_in
from frontdesk.schedule import Schedule
from frontdesk.sim import CallerScript, SimCall, Simulator

log = structlog.get_logger(__name__)



def start_simulator(config: Config) -> Simulator:
    """A simulator on the config's ESL address, with the desk phones and outside numbers."""
    fs = config.freeswitch
    sim = Simulator(
        password=fs.esl_password,
        daemon_address=(fs.listen_host, fs.listen_port),
        host=fs.esl_host,
        esl_port=fs.esl_port,
        clock=RealClock(),
        gateways=(fs.gateway,),
        local_streams=local_streams(config),
    )
    sim.start()
    staff = set(config.frontdesk.extensions) | set(config.emergency.extensions)
    for extension in sorted(staff):
        sim.add_phone(extension, answer_after=random.uniform(4, 15), talk_seconds=40.0)
    for number in config.numbers.values():
        sim.add_outside(number, answer_after=6.0, talk_seconds=30.0)
    log.warning("simulator.started", esl=f"{fs.esl_host}:{sim.esl_port}", phones=len(staff))
    return sim


class DemoCallers:
    """Places random calls: menu choices, callers who press nothing, emergencies, hang-ups."""

    def __init__(self, sim: Simulator, config: Config, *, per_minute: float) -> None:
        self.sim = sim
        self.config = config
        self.per_minute = per_minute
        self.rng = random.Random()
        self.schedule = Schedule(config.schedule, config.practice)

    def start(self) -> gevent.Greenlet:
        return gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            self.sim.clock.sleep(self.rng.expovariate(self.per_minute / 60.0))
            script = self._random_script()
            number = "06" + "".join(self.rng.choice("0123456789") for _ in range(8))
            call = self.sim.place_call(script, caller_number=number)
            gevent.spawn(self._report, call, script, number)

    def _random_script(self) -> CallerScript:
        roll = self.rng.random()
        if roll < 0.05:
            return CallerScript(barge=self.config.emergency.key)
        if roll < 0.15:
            return CallerScript(keys=("",) * 6)
        if roll < 0.25:
            return CallerScript(keys=self._random_keys(), hangup_after=self.rng.uniform(5, 40))
        return CallerScript(keys=self._random_keys(), message_seconds=self.rng.uniform(4, 20))

    def _random_keys(self) -> tuple[str, ...]:
        """A walk through the menus of the branch in force, choosing an option at random."""
        flow = self.config.flow
        state = self.schedule.state_at(self.sim.clock.wall()).state
        keys: list[str] = []
        node = flow.nodes[flow.branches[state].entry]
        while isinstance(node, MenuNode) and len(keys) < 4:
            key = self.rng.choice(sorted(node.options))
            keys.append(key)
            node = flow.nodes[node.options[key]]
        return tuple(keys)

    def _report(self, call: SimCall, script: CallerScript, number: str) -> None:
        call.wait_done(600)
        log.info(
            "demo.caller_done",
            caller=mask_number(number),
            pressed=" ".join(k or "-" for k in script.keys) or "-",
            heard=len(call.prompts_heard),
            talked_to=mask_numbers_in(call.bridged_to),
            hangup_cause=call.hangup_cause,
        )
