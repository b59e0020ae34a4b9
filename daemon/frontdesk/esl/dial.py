"""Dial strings and the commands around them: the one place their FreeSWITCH syntax is written.

A dial string is ``{name=value,...}target``. FreeSWITCH splits an ``originate``'s arguments on
spaces and the ``{}`` variables on commas, both outside single quotes, and takes the quotes
off: a value with a space is quoted, and the characters that would end or escape a value
(quotes, commas, braces, brackets, backslashes) are dropped from text we did not write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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


def gateway_target(gateway: str, number: str) -> str:
    """An outside number through the trunk's sofia gateway."""
    return f"sofia/gateway/{gateway}/{number}"


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


def originate(dial: str, application: str = "park") -> str:
    """The ``originate`` api command: ring `dial`, then run `application` on the new leg."""
    return f"originate {dial} &{application}()"


def gateway_status(gateway: str) -> str:
    """The api command asking about one sofia gateway (see `gateway_known`)."""
    return f"sofia status gateway {gateway}"


def gateway_known(reply: str) -> bool:
    """True when `gateway_status`'s reply describes a gateway (not ``Invalid Gateway!``)."""
    text = reply.strip()
    return bool(text) and text != GATEWAY_UNKNOWN and not text.startswith("-ERR")
