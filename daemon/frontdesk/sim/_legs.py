"""Staff phones, outside numbers, and ringing them (originate / bridge targets)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent
import gevent.event

from frontdesk.clock import Clock

from ._channel import Channel, new_uuid

if TYPE_CHECKING:
    from .session import CallerScript, SimCall

DEFAULT_ORIGINATE_TIMEOUT = 60.0


@dataclass
class Phone:
    """A staff desk phone registered as ``user/<ext>``."""

    ext: str
    answer_after: float | None = 2.0
    talk_seconds: float = 30.0
    registered: bool = True
    state: str = "idle"  # idle | ringing | busy
    calls_answered: int = 0


@dataclass
class Outside:
    """A number reached through a gateway (``sofia/gateway/<gw>/<number>``)."""

    number: str
    answer_after: float | None = 1.0
    talk_seconds: float = 20.0
    state: str = "idle"
    calls_answered: int = 0
    shown: list[tuple[str, str]] = field(default_factory=list)
    """(caller id number, name) this phone showed for each call that rang it."""
    script: CallerScript | None = None
    """What the person who answers does when the call is handed to the daemon's socket
    (``originate … '&socket(…)'``); None: they just listen (no key)."""
    conversations: list[SimCall] = field(default_factory=list)
    """The calls of this number handed to the daemon's socket, in order."""


Endpoint = Phone | Outside


def split_outside_quotes(text: str, delimiter: str) -> list[str]:
    """Split like FreeSWITCH's switch_separate_string: not inside single quotes (kept here;
    FreeSWITCH takes them off the values of a dial string's variables)."""
    parts = re.findall(rf"(?:'[^']*'|[^{re.escape(delimiter)}'])+|(?<={re.escape(delimiter)})"
                       rf"(?={re.escape(delimiter)}|$)", text)
    return parts


def parse_dialstring(dialstring: str) -> tuple[dict[str, str], list[str]]:
    """Split ``{k=v,...}a,b`` into its variables and its simultaneous targets."""
    variables: dict[str, str] = {}
    rest = dialstring.strip()
    match = re.match(r"^\{((?:'[^']*'|[^}'])*)\}", rest)
    if match:
        rest = rest[match.end() :]
        for item in split_outside_quotes(match.group(1), ","):
            name, _, value = item.partition("=")
            if name.strip():
                variables[name.strip()] = value.strip().replace("'", "")
    targets = [t.strip() for t in re.split(r"[,|]", rest) if t.strip()]
    return variables, targets


@dataclass
class Ringing:
    """One target being rung."""

    target: str
    endpoint: Endpoint
    leg: Channel


@dataclass
class RingResult:
    winner: Ringing | None = None
    cause: str = ""
    # Unanswered legs to hang up once the result has been reported (FreeSWITCH sends the
    # originate result before their CHANNEL_HANGUP_COMPLETE).
    losers: list[tuple[Ringing, str]] = field(default_factory=list)


def leg_for(
    target: str,
    endpoint: Endpoint,
    variables: dict[str, str],
    caller: Channel | None,
    clock: Clock,
) -> Channel:
    """A new outbound leg towards an endpoint, shaped like FreeSWITCH's originated channels."""
    uuid = variables.get("origination_uuid") or new_uuid()
    if isinstance(endpoint, Phone):
        name = f"sofia/fsref/{endpoint.ext}@127.0.0.1:5090"
        destination = endpoint.ext
        presence = f"{endpoint.ext}@127.0.0.1"
    else:
        name = target
        destination = endpoint.number
        presence = ""
    number = variables.get("origination_caller_id_number") or (
        caller.caller_number if caller else "0000000000"
    )
    cid_name = variables.get("origination_caller_id_name") or (caller.caller_name if caller else "")
    leg = Channel(
        clock=clock,
        uuid=uuid,
        name=name,
        direction="outbound",
        caller_number=number,
        caller_name=cid_name,
        destination=destination,
        source="src/switch_ivr_originate.c",
        presence_id=presence,
        callee_name="Outbound Call",
        callee_number=destination,
        state="CS_INIT",
        call_state="DOWN",
        has_codec=False,
    )
    return leg


def ring(
    legs: list[Ringing],
    *,
    timeout: float,
    clock: Clock,
    abort: gevent.event.Event | None = None,
) -> RingResult:
    """Wait for the first leg to answer, the timeout, an abort, or every leg killed.

    Times are simulated seconds. The caller of this function emits the events.
    """
    answering = [(r.endpoint.answer_after, r) for r in legs if r.endpoint.answer_after is not None]
    answering.sort(key=lambda item: item[0])
    first = answering[0] if answering and answering[0][0] <= timeout else None
    wait_for = first[0] if first else timeout
    waiters = [r.leg.ended for r in legs] + ([abort] if abort is not None else [])
    deadline = clock.now() + wait_for
    while True:
        left = deadline - clock.now()
        if left <= 0:
            break
        pending = [w for w in waiters if not w.is_set()]
        if pending:
            clock.wait(pending, left)
        else:
            clock.sleep(left)
        if abort is not None and abort.is_set():
            return RingResult(
                cause="ORIGINATOR_CANCEL", losers=[(r, "ORIGINATOR_CANCEL") for r in legs]
            )
        if all(r.leg.ended.is_set() for r in legs):
            return RingResult(cause=legs[0].leg.hangup_cause or "NORMAL_CLEARING")
        if first is not None and first[1].leg.ended.is_set():
            return RingResult(
                cause=first[1].leg.hangup_cause,
                losers=[(r, "ORIGINATOR_CANCEL") for r in legs if r is not first[1]],
            )
    if first is None:
        return RingResult(cause="NO_ANSWER", losers=[(r, "NO_ANSWER") for r in legs])
    winner = first[1]
    return RingResult(winner=winner, losers=[(r, "LOSE_RACE") for r in legs if r is not winner])
