"""Every FreeSWITCH command string the daemon sends (api and bgapi commands on the control
connection, the arguments of the applications a call's session runs), and the readers of the
replies they get: the one place their syntax is written.

Calls that outlive the daemon's socket.

The shipped dialplan (freeswitch-conf/dialplan/default.xml) hands a patient's call to the
daemon with ``socket_resume=true``: when the daemon's socket closes, the call leaves the daemon
and runs the rest of the extension, ``transfer`` to `AFTER_SOCKET`. There a call that talked
with the desk (``frontdesk_talked=true``) is hung up; any other call gets the static fallback.
A caller bridged to the staff carries ``socket_resume=false``, so the conversation survives the
daemon stopping, restarting or dying.

The satisfaction question ([feedback]) needs the caller back once the staff hangs up: such a
caller is bridged with ``park_after_bridge=true`` (`about_to_talk`). When the staff's leg hangs
up, FreeSWITCH parks the caller (CS_PARK) instead of going on with the dialplan, and the
daemon's socket session, still connected, plays the question and hangs up (capture
outbound-queue-agent-hangs-up-park-after-bridge). Parked with nobody in control, a caller would
hear silence: every other bridge sets it to false (`TALKING`), and so does the daemon for a
conversation it leaves or adopts (`no_question`).

Dial strings: ``{name=value,...}target``. FreeSWITCH splits an ``originate``'s arguments on
spaces and the ``{}`` variables on commas, both outside single quotes, and takes the quotes
off: a value with a space is quoted, and the characters that would end or escape a value
(quotes, commas, braces, brackets, backslashes) are dropped from text we did not write. The
parts of a target (extension, domain, gateway, number) and a sofia profile's name lose those
characters and any blank, so a value from the config or a caller can neither split the command
nor add a target or an argument. A number from a caller goes in as `digits` only.

Commands on channels (``uuid_kill``, ``uuid_break``, ``uuid_bridge``, ``uuid_broadcast``) and
the arguments of ``play_and_get_digits`` and ``record`` take single words: a blank or a line
break in them is refused (`ValueError`), never sent.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping

from frontdesk.esl._link import check_line

AFTER_SOCKET = "frontdesk_after_socket"
"""The extension a caller runs once the daemon's socket is gone (no digit can dial it)."""
TALKED = "frontdesk_talked"
"""Channel variable: the caller talked with the desk; set to true right before a bridge."""
SHOW_CHANNELS = "show channels as json"
UNDEFINED = "_undef_"
"""What `uuid_getvar` answers for a variable the channel does not have."""

PARK_AFTER = "park_after_bridge"
"""FreeSWITCH's channel variable: parked, not sent on in the dialplan, once a bridge ends."""
TALKING = {"socket_resume": "false", TALKED: "true", PARK_AFTER: "false"}
"""Set on a caller right before a bridge to someone (see the module docstring)."""
NOT_TALKING = {"socket_resume": "true", TALKED: "false", PARK_AFTER: "false"}
"""Set back when the bridge failed (the caller is the daemon's again, and the static
fallback's if the daemon goes away), and on a caller nobody controls before sending them on."""


def _words(*parts: str) -> None:
    """Refuse text that would be no argument, or split one argument of a command into several."""
    check_line(*parts)
    for part in parts:
        if not part or any(c.isspace() for c in part):
            raise ValueError(f"blank in one argument of a FreeSWITCH command: {part!r}")


def digits(number: str | None) -> str:
    """The digits of a number, with its leading '+' if it has one ("+33 6 39-98" ->
    "+336398"; "06,user/9}" -> "069"); "" for a hidden number. The only form in which a
    number from a caller goes into a command."""
    kept = re.sub(r"[^0-9+]", "", number or "")
    kept = kept[:1] + kept[1:].replace("+", "")
    return kept if kept.strip("+") else ""


def setvar_multi(uuid: str, variables: dict[str, str]) -> str:
    """``uuid_setvar_multi <uuid> a=1;b=2``: several channel variables in one command."""
    pairs = ";".join(f"{name}={value}" for name, value in variables.items())
    check_line(uuid, pairs)
    if " " in uuid or any(c in pairs for c in " \t"):
        raise ValueError(f"space in a channel variable command: {uuid!r} {pairs!r}")
    return f"uuid_setvar_multi {uuid} {pairs}"


def about_to_talk(uuid: str, *, then_ask: bool = False) -> str:
    """Before bridging a caller to the staff (see `TALKING`): the bridge survives the daemon's
    socket closing, and the dialplan hangs the caller up once the conversation is over; or,
    `then_ask`, the caller is parked for the daemon's question when the staff hangs up."""
    return setvar_multi(uuid, {**TALKING, PARK_AFTER: "true"} if then_ask else TALKING)


def no_question(uuid: str) -> str:
    """A conversation the daemon will not be there to end: the dialplan ends it."""
    return setvar_multi(uuid, {PARK_AFTER: "false"})


def not_talking(uuid: str) -> str:
    """The caller is not in a conversation (see `NOT_TALKING`)."""
    return setvar_multi(uuid, NOT_TALKING)


def uuid_kill(uuid: str, cause: str | None = None) -> str:
    """Hang a channel up (FreeSWITCH's default cause without `cause`)."""
    _words(uuid, *([cause] if cause is not None else []))
    return f"uuid_kill {uuid}" if cause is None else f"uuid_kill {uuid} {cause}"


def uuid_break(uuid: str) -> str:
    """Stop whatever the channel is playing, queued playbacks included."""
    _words(uuid)
    return f"uuid_break {uuid} all"


def uuid_bridge(uuid: str, other: str) -> str:
    """Bridge two live channels; whatever either one was playing stops."""
    _words(uuid, other)
    return f"uuid_bridge {uuid} {other}"


def uuid_broadcast(uuid: str, source: str) -> str:
    """Play `source` to the channel itself (its a-leg) until it ends or is stopped."""
    _words(uuid, source)
    return f"uuid_broadcast {uuid} {source} aleg"


def getvar(uuid: str, name: str) -> str:
    check_line(uuid, name)
    return f"uuid_getvar {uuid} {name}"


def transfer_after_socket(uuid: str) -> str:
    """Send a caller nobody controls to the rest of the practice line's extension."""
    check_line(uuid)
    return f"uuid_transfer {uuid} {AFTER_SOCKET} XML default"


def succeeded(reply: str) -> bool:
    """Whether an api reply (or a BACKGROUND_JOB's) says the command worked."""
    return reply.startswith("+OK")


def cause(reply: str) -> str:
    """Why a command failed: "-ERR NO_ANSWER" -> "NO_ANSWER"; FAILED when it does not say."""
    return reply.removeprefix("-ERR").strip() or "FAILED"


def variable_value(reply: str) -> str | None:
    """The value in a `uuid_getvar` reply; None when unset or the channel is gone."""
    value = reply.strip()
    if not value or value == UNDEFINED or value.startswith("-ERR"):
        return None
    return value


def live_channels(reply: str) -> dict[str, dict[str, str]]:
    """`show channels as json` -> {uuid: row}; {} for no channel (or an unreadable reply)."""
    try:
        rows = json.loads(reply or "{}").get("rows") or []
    except (ValueError, AttributeError):
        return {}
    return {row["uuid"]: row for row in rows if isinstance(row, dict) and row.get("uuid")}


# -- registrations ----------------------------------------------------------------------


class UnreadableReply(ValueError):
    """A reply that does not have the shape FreeSWITCH gives it (an error, a wrong profile)."""


def registrations(profile: str) -> str:
    """The api command listing who is registered on a sofia profile, as XML (see
    `registered_users`)."""
    return f"sofia xmlstatus profile {_part(profile)} reg"


def registered_users(reply: str) -> set[str]:
    """The users (``1001`` of ``<user>1001@domain</user>``) in a `registrations` reply:
    ``<profile><registrations><registration><user>…`` (mod_sofia's cmd_xml_status; an empty
    ``<registrations>`` when nobody is registered). Raises `UnreadableReply` for anything
    else: ``Invalid Profile!``, an ``-ERR``, truncated or foreign XML. A DOCTYPE is refused,
    so no entity is ever declared or expanded (ElementTree fetches no external entity)."""
    if "<!DOCTYPE" in reply or "<!ENTITY" in reply:
        raise UnreadableReply("a DOCTYPE in a registrations reply")
    try:
        root = ElementTree.fromstring(reply)
    except ElementTree.ParseError as error:
        raise UnreadableReply(f"not XML ({error})") from None
    listing = root.find("registrations") if root.tag == "profile" else None
    if listing is None:
        raise UnreadableReply(f"no <profile><registrations> but <{root.tag}>")
    users = {entry.findtext("user") or "" for entry in listing.findall("registration")}
    return {user.partition("@")[0] for user in users} - {""}


# -- dial strings and the gateway ------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x1f\x7f',{}\[\]\\|^]")
GATEWAY_UNKNOWN = "Invalid Gateway!"
"""What ``sofia status gateway <name>`` answers for a gateway FreeSWITCH does not have."""


def dial_string(target: str, variables: Mapping[str, str | int]) -> str:
    """``{k=v,...}target`` with each value made safe (see the module docstring)."""
    if not variables:
        return target
    items = ",".join(f"{name}={_value(value)}" for name, value in variables.items())
    return "{" + items + "}" + target


def _value(value: str | int) -> str:
    text = " ".join(_UNSAFE.sub("", str(value)).split())
    return f"'{text}'" if " " in text else text


def _part(text: str) -> str:
    """One part of a target or one word of a command, made safe (see the module docstring)."""
    return "".join(_UNSAFE.sub("", text).split()).replace("/", "")


def gateway_target(gateway: str, number: str) -> str:
    """An outside number through the trunk's sofia gateway."""
    return f"sofia/gateway/{_part(gateway)}/{_part(number)}"


def user_target(extension: str, domain: str) -> str:
    """A desk phone: the directory user `extension` of `domain`."""
    return f"user/{_part(extension)}@{_part(domain)}"


def caller_id(number: str | None, name: str | None = None) -> dict[str, str]:
    """The originate variables that present `number` (and `name`) to the called party; none
    without a number. Needed on every call through the gateway: FreeSWITCH does not apply
    the gateway's caller id to an api ``originate`` (the operator saw 0000000000)."""
    if not number:
        return {}
    shown = {"origination_caller_id_number": number}
    if name:
        shown["origination_caller_id_name"] = name
    return shown


def originate(dial: str, application: str = "park", argument: str = "") -> str:
    """The ``originate`` api command: ring `dial`, then run `application` (with `argument`)
    on the new leg. An argument with blanks is single-quoted as a whole: FreeSWITCH splits
    the command on blanks outside quotes and takes the quotes off."""
    if not argument:
        return f"originate {dial} &{application}()"
    check_line(argument)
    if "'" in argument:
        raise ValueError(f"quote in an originate application's argument: {argument!r}")
    return f"originate {dial} '&{application}({argument})'"


def ring(leg: str, target: str, ring_seconds: float, shown: Mapping[str, str]) -> str:
    """Ring `target` for `ring_seconds` on a new leg of uuid `leg`, parked once answered (its
    early media ignored); `shown`: the caller id variables (`caller_id`, `shown_to_staff`)."""
    variables: dict[str, str | int] = {
        "origination_uuid": leg,
        "ignore_early_media": "true",
        "originate_timeout": int(ring_seconds),
        **shown,
    }
    return originate(dial_string(target, variables))


REMINDER = "frontdesk_reminder"
"""Channel variable of a reminder call: the id of the reminder it places (see `into_socket`)."""


def into_socket(
    leg: str,
    target: str,
    ring_seconds: float,
    variables: Mapping[str, str],
    address: tuple[str, int],
) -> str:
    """Ring `target` on a new leg `leg` and, once answered, hand it to the daemon's outbound
    socket at `address` (``socket host:port async full``, as the practice line's dialplan
    does), with the channel `variables` (the socket's token, `REMINDER`, the caller id)."""
    host, port = address
    dial = dial_string(target, {
        "origination_uuid": leg,
        "ignore_early_media": "true",
        "originate_timeout": int(ring_seconds),
        **variables,
    })
    return originate(dial, "socket", f"{_part(host)}:{int(port)} async full")


def bridge_dial(target: str, ring_seconds: float, shown: Mapping[str, str]) -> str:
    """The dial string of a call's ``bridge`` to `target`: it rings `ring_seconds`, its early
    media ignored; `shown`: the caller id variables (`caller_id`)."""
    variables: dict[str, str | int] = {
        "originate_timeout": int(ring_seconds), "ignore_early_media": "true", **shown
    }
    return dial_string(target, variables)


def shown_to_staff(number: str | None, label: str | None = None) -> dict[str, str]:
    """What a desk phone shows for a caller: their `digits`, if any, and `label` as the name
    (a callback), if given."""
    shown = {}
    if number_digits := digits(number):
        shown["origination_caller_id_number"] = number_digits
    if label:
        shown["origination_caller_id_name"] = label
    return shown


def gateway_status(gateway: str) -> str:
    """The api command asking about one sofia gateway (see `gateway_known`)."""
    return f"sofia status gateway {gateway}"


def gateway_known(reply: str) -> bool:
    """True when `gateway_status`'s reply describes a gateway (not ``Invalid Gateway!``)."""
    text = reply.strip()
    return bool(text) and text != GATEWAY_UNKNOWN and not text.startswith("-ERR")


# -- arguments of the applications a call's session runs ---------------------------------


def play_and_get_digits(
    prompt: str,
    invalid: str,
    *,
    variable: str,
    regex: str,
    timeout_ms: int,
    min_digits: int,
    max_digits: int,
    inter_digit_ms: int,
) -> str:
    """One try of ``play_and_get_digits``, ended by ``#``: `prompt`, then `invalid` after a wrong
    entry (and after a timeout: FreeSWITCH plays it then too); the digits land in `variable`."""
    _words(prompt, invalid, variable, regex)
    return (
        f"{min_digits} {max_digits} 1 {timeout_ms} # {prompt} {invalid} "
        f"{variable} {regex} {inter_digit_ms}"
    )


def message_tags(number: str | None, reason: str) -> dict[str, str]:
    """Channel variables to set before a caller's message is recorded: mod_sndfile writes
    ``RECORD_ARTIST`` and ``RECORD_COMMENT`` into the WAV's INFO tags (IART, ICMT), as the
    shipped static fallback does with the number, so the file itself tells who called and why
    even when its call's row was lost."""
    _words(reason)
    return {"RECORD_ARTIST": digits(number), "RECORD_COMMENT": reason}


def record(path: str, max_seconds: int, silence_threshold: int, silence_seconds: int) -> str:
    """``record`` into `path`, at most `max_seconds`, ended by `silence_seconds` under
    `silence_threshold` (or by a key of ``playback_terminators``)."""
    _words(path)
    return f"{path} {max_seconds} {silence_threshold} {silence_seconds}"
