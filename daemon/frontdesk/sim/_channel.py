"""Simulated channels and the events FreeSWITCH builds from them.

The header layout follows switch_channel_event_set_data(): common prefix, event-specific
headers placed first, the channel block, the caller profile, the other leg's profile,
the channel variables, then event-specific headers placed last. Names, order and default
values come from ``_templates`` (real captures).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import gevent.event

from frontdesk.clock import Clock, RealClock

from . import _templates

HANGUP_Q850 = {
    "NORMAL_CLEARING": "16",
    "USER_BUSY": "17",
    "NO_USER_RESPONSE": "18",
    "NO_ANSWER": "19",
    "CALL_REJECTED": "21",
    "UNALLOCATED_NUMBER": "1",
    "NO_ROUTE_DESTINATION": "3",
    "NORMAL_TEMPORARY_FAILURE": "41",
    "DESTINATION_OUT_OF_ORDER": "27",
    "ORIGINATOR_CANCEL": "487",
    "LOSE_RACE": "502",
    "MANAGER_REQUEST": "503",
    "USER_NOT_REGISTERED": "606",
}

_STATE_NUMBERS = {
    "CS_NEW": "0",
    "CS_INIT": "2",
    "CS_ROUTING": "3",
    "CS_EXECUTE": "4",
    "CS_EXCHANGE_MEDIA": "5",
    "CS_SOFT_EXECUTE": "6",
    "CS_CONSUME_MEDIA": "7",
    "CS_HIBERNATE": "8",
    "CS_RESET": "9",
    "CS_PARK": "10",
    "CS_REPORTING": "11",
    "CS_HANGUP": "12",
}

_PROFILE_FIELDS = (
    "Direction",
    "Logical-Direction",
    "Username",
    "Dialplan",
    "Caller-ID-Name",
    "Caller-ID-Number",
    "Orig-Caller-ID-Name",
    "Orig-Caller-ID-Number",
    "Callee-ID-Name",
    "Callee-ID-Number",
    "Network-Addr",
    "ANI",
    "Destination-Number",
    "Unique-ID",
    "Source",
    "Transfer-Source",
    "Context",
    "Channel-Name",
    "Profile-Index",
    "Profile-Created-Time",
    "Channel-Created-Time",
    "Channel-Answered-Time",
    "Channel-Progress-Time",
    "Channel-Progress-Media-Time",
    "Channel-Hangup-Time",
    "Channel-Transfer-Time",
    "Channel-Resurrect-Time",
    "Channel-Bridged-Time",
    "Channel-Last-Hold",
    "Channel-Hold-Accum",
    "Screen-Bit",
    "Privacy-Hide-Name",
    "Privacy-Hide-Number",
)

_CODECS = (
    ("Channel-Read-Codec-Name", "PCMU"),
    ("Channel-Read-Codec-Rate", "8000"),
    ("Channel-Read-Codec-Bit-Rate", "64000"),
    ("Channel-Write-Codec-Name", "PCMU"),
    ("Channel-Write-Codec-Rate", "8000"),
    ("Channel-Write-Codec-Bit-Rate", "64000"),
)

# Events that carry the channel variables (the captures show none on DTMF or CHANNEL_STATE).
_WITH_VARIABLES = {
    "CHANNEL_DATA",
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
}

Headers = list[tuple[str, str]]


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def now_us(clock: Clock) -> int:
    """The clock's calendar time in microseconds since the epoch (FreeSWITCH's timestamps)."""
    return int(clock.wall().timestamp() * 1_000_000)


def _stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))


@dataclass
class SimEvent:
    """One event as FreeSWITCH would fire it; rendered per subscriber (plain or json)."""

    name: str
    headers: Headers
    uuid: str = ""
    subclass: str = ""
    body: str | None = None


class EventFactory:
    """Common event prefix (host facts, date, sequence number)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.core_uuid = new_uuid()
        self._sequence = 1000

    def prefix(self, name: str, calling_key: str, subclass: str = "") -> Headers:
        self._sequence += 1
        us = now_us(self.clock)
        calling = _templates.CALLING[calling_key]
        values = {
            "Event-Name": name,
            "Core-UUID": self.core_uuid,
            "Event-Date-Local": _stamp(us),
            "Event-Date-GMT": time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(us / 1_000_000)
            ),
            "Event-Date-Timestamp": str(us),
            "Event-Calling-File": calling[0],
            "Event-Calling-Function": calling[1],
            "Event-Calling-Line-Number": calling[2],
            "Event-Sequence": str(self._sequence),
        }
        out = [("Event-Subclass", subclass)] if subclass else []
        out += [(n, values.get(n, v)) for n, v in _templates.PREFIX]
        return out

    def simple(
        self, name: str, headers: Headers, *, subclass: str = "", body: str | None = None
    ) -> SimEvent:
        key = subclass or name
        return SimEvent(name, self.prefix(name, key, subclass) + headers, "", subclass, body)


@dataclass
class Channel:
    """One call leg with the state FreeSWITCH reports about it."""

    uuid: str
    name: str
    direction: str
    caller_number: str
    caller_name: str
    destination: str
    source: str = "mod_sofia"
    username: str = ""
    network_addr: str = ""
    presence_id: str = ""
    callee_name: str = ""
    callee_number: str = ""
    transfer_source: str = ""
    state: str = "CS_EXECUTE"
    call_state: str = "RINGING"
    answer_state: str = "ringing"
    hangup_cause: str = ""
    has_codec: bool = True
    clock: Clock = field(default_factory=RealClock, repr=False, compare=False)
    created_us: int = 0
    answered_us: int = 0
    answered_at: float = 0.0
    """When it was answered, in simulated seconds (`clock.now()`)."""
    progress_us: int = 0
    bridged_us: int = 0
    hangup_us: int = 0
    last_app: str = ""
    last_arg: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    other: Channel | None = None
    other_type: str = ""
    ended: gevent.event.Event = field(default_factory=gevent.event.Event)
    bridged: gevent.event.Event = field(default_factory=gevent.event.Event)

    def __post_init__(self) -> None:
        self.created_us = self.created_us or now_us(self.clock)

    @property
    def hungup(self) -> bool:
        return bool(self.hangup_cause)

    def mark_answered(self) -> None:
        self.answered_us = now_us(self.clock)
        self.answered_at = self.clock.now()
        self.answer_state = "answered"
        self.call_state = "ACTIVE"

    def mark_hangup(self, cause: str) -> None:
        self.hangup_cause = cause
        self.hangup_us = now_us(self.clock)
        self.answer_state = "hangup"
        self.ended.set()

    def profile(self, prefix: str, *, other: bool = False) -> Headers:
        values = {
            "Direction": self.direction,
            "Logical-Direction": self.direction if not other else "inbound",
            "Username": self.username,
            "Dialplan": "XML" if self.direction == "inbound" or other else "",
            "Caller-ID-Name": self.caller_name,
            "Caller-ID-Number": self.caller_number,
            "Orig-Caller-ID-Name": self.caller_name,
            "Orig-Caller-ID-Number": self.caller_number,
            "Callee-ID-Name": self.callee_name,
            "Callee-ID-Number": self.callee_number,
            "Network-Addr": self.network_addr,
            "ANI": self.caller_number,
            "Destination-Number": self.destination,
            "Unique-ID": self.uuid,
            "Source": self.source,
            "Transfer-Source": self.transfer_source,
            "Context": "default",
            "Channel-Name": self.name,
            "Profile-Index": "" if other else "1",
            "Profile-Created-Time": str(self.created_us),
            "Channel-Created-Time": str(self.created_us),
            "Channel-Answered-Time": str(self.answered_us),
            "Channel-Progress-Time": str(self.progress_us),
            "Channel-Progress-Media-Time": "0",
            "Channel-Hangup-Time": str(self.hangup_us),
            "Channel-Transfer-Time": "0",
            "Channel-Resurrect-Time": "0",
            "Channel-Bridged-Time": str(self.bridged_us),
            "Channel-Last-Hold": "0",
            "Channel-Hold-Accum": "0",
            "Screen-Bit": "true",
            "Privacy-Hide-Name": "false",
            "Privacy-Hide-Number": "false",
        }
        if other:
            # The other leg's profile is a copy made at bridge time: no transfer source, and
            # (captured after uuid_bridge) no callee id yet on the caller's side.
            values["Transfer-Source"] = ""
            if self.transfer_source and self.direction == "inbound":
                values["Callee-ID-Name"] = values["Callee-ID-Number"] = ""
        # FreeSWITCH leaves empty profile fields out.
        return [(prefix + f, values[f]) for f in _PROFILE_FIELDS if values[f]]

    def channel_block(self) -> Headers:
        out = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", _STATE_NUMBERS[self.state]),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.direction == "inbound" else "false"),
        ]
        if self.presence_id:
            out.append(("Channel-Presence-ID", self.presence_id))
        out += [("Channel-Call-UUID", self.uuid), ("Answer-State", self.answer_state)]
        if self.hangup_cause:
            out.append(("Hangup-Cause", self.hangup_cause))
        if self.has_codec:
            out += _CODECS
        out += self.profile("Caller-")
        if self.other is not None:
            out.append(("Other-Type", self.other_type))
            out += self.other.profile("Other-Leg-", other=True)
        return out

    def event(
        self,
        factory: EventFactory,
        name: str,
        *,
        first: Sequence[tuple[str, str]] = (),
        last: Sequence[tuple[str, str]] = (),
        calling_key: str = "",
    ) -> SimEvent:
        headers = factory.prefix(name, calling_key or name) + list(first) + self.channel_block()
        if name in _WITH_VARIABLES:
            headers += [("variable_" + k, v) for k, v in self.variables.items()]
        headers += list(last)
        return SimEvent(name, headers, self.uuid)

    def channel_data(self, factory: EventFactory) -> Headers:
        """The outbound ``connect`` reply's channel data."""
        headers = factory.prefix("CHANNEL_DATA", "CHANNEL_DATA")
        headers += self.profile("Channel-")
        headers += self.channel_block()
        headers += [("variable_" + k, v) for k, v in self.variables.items()]
        return headers

    def finish_variables(self) -> None:
        """The CDR variables FreeSWITCH adds just before CHANNEL_HANGUP_COMPLETE."""
        end = self.hangup_us or now_us(self.clock)
        start = self.created_us
        answered = self.answered_us
        bill_us = end - answered if answered else 0
        dynamic = {
            "hangup_cause": self.hangup_cause,
            "hangup_cause_q850": HANGUP_Q850.get(self.hangup_cause, "16"),
            "start_stamp": _stamp(start),
            "profile_start_stamp": _stamp(start),
            "answer_stamp": _stamp(answered) if answered else "",
            "end_stamp": _stamp(end),
            "start_epoch": str(start // 1_000_000),
            "start_uepoch": str(start),
            "profile_start_epoch": str(start // 1_000_000),
            "profile_start_uepoch": str(start),
            "answer_epoch": str(answered // 1_000_000),
            "answer_uepoch": str(answered),
            "bridge_epoch": str(self.bridged_us // 1_000_000),
            "bridge_uepoch": str(self.bridged_us),
            "end_epoch": str(end // 1_000_000),
            "end_uepoch": str(end),
            "last_app": self.last_app,
            "last_arg": self.last_arg,
            "caller_id": f'"{self.caller_name}" <{self.caller_number}>',
            "duration": str((end - start) // 1_000_000),
            "billsec": str(bill_us // 1_000_000),
            "flow_billsec": str((end - start) // 1_000_000),
            "mduration": str((end - start) // 1000),
            "billmsec": str(bill_us // 1000),
            "flow_billmsec": str((end - start) // 1000),
            "answermsec": str((answered - start) // 1000 if answered else 0),
            "uduration": str(end - start),
            "billusec": str(bill_us),
            "flow_billusec": str(end - start),
            "answerusec": str(answered - start if answered else 0),
            "digits_dialed": self.variables.get("digits_dialed", "none"),
        }
        for name, default in _templates.HANGUP_COMPLETE_VARS:
            value = dynamic.get(name, default)
            if name in self.variables and name not in dynamic:
                continue
            if value:
                self.variables[name] = value
