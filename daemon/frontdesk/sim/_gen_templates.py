"""Regenerate ``_templates.py`` from the ESL captures (development tool, not used at run time).

Usage (from the repository root)::

    PYTHONPATH=daemon python -m frontdesk.sim._gen_templates tests/data/esl-captures \
        > daemon/frontdesk/sim/_templates.py
"""

from __future__ import annotations

import json
import pprint
import sys
import urllib.parse
from pathlib import Path


def _events(path: Path) -> list[list[tuple[str, str]]]:
    """Every plain event of a capture as a list of (name, decoded value)."""
    out = []
    for line in path.read_text().splitlines():
        chunk = json.loads(line)
        if chunk["dir"] != "s2c" or "Content-Type: text/event-plain" not in chunk["data"]:
            continue
        body = chunk["data"].split("\n\n", 1)[1]
        head = body.split("\n\n", 1)[0]
        pairs = []
        for raw in head.split("\n"):
            name, _, value = raw.partition(": ")
            pairs.append((name, urllib.parse.unquote(value)))
        out.append(pairs)
    return out


def _connect_reply(path: Path) -> list[tuple[str, str]]:
    for line in path.read_text().splitlines():
        chunk = json.loads(line)
        if chunk["dir"] == "s2c" and chunk["data"].startswith("Event-Name: CHANNEL_DATA"):
            return [
                (n, urllib.parse.unquote(v))
                for n, _, v in (r.partition(": ") for r in chunk["data"].rstrip("\n").split("\n"))
            ]
    raise LookupError(path)


def _first(events: list[list[tuple[str, str]]], **match: str) -> list[tuple[str, str]]:
    for ev in events:
        d = dict(ev)
        if all(d.get(k.replace("_", "-")) == v for k, v in match.items()):
            return ev
    raise LookupError(match)


def _variables(ev: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n[len("variable_") :], v) for n, v in ev if n.startswith("variable_")]


def _after_sequence(ev: list[tuple[str, str]]) -> list[tuple[str, str]]:
    names = [n for n, _ in ev]
    return ev[names.index("Event-Sequence") + 1 :]


def main(captures: Path) -> None:
    flow = _events(captures / "outbound-call-flow.chunks.jsonl")
    bridge = _events(captures / "outbound-bridge.chunks.jsonl")
    queue = _events(captures / "inbound-queue-control.chunks.jsonl")
    plain = _events(captures / "inbound-events-plain.chunks.jsonl")
    record = _events(captures / "outbound-record-message.chunks.jsonl")
    api = _events(captures / "inbound-api-bgapi.chunks.jsonl")
    hold = _events(captures / "outbound-queue-hold-and-bridge.chunks.jsonl")
    connect = _connect_reply(captures / "outbound-call-flow.chunks.jsonl")

    calling: dict[str, tuple[str, ...]] = {}
    for ev in flow + bridge + queue + plain + record + api + hold:
        d = dict(ev)
        key = d["Event-Name"]
        if key == "CHANNEL_EXECUTE_COMPLETE" and d.get("Application") == "socket":
            key = "CHANNEL_EXECUTE_COMPLETE/socket"
        if key == "CUSTOM":
            key = d["Event-Subclass"]
        calling.setdefault(
            key,
            (d["Event-Calling-File"], d["Event-Calling-Function"], d["Event-Calling-Line-Number"]),
        )
    calling["CHANNEL_DATA"] = tuple(
        dict(connect)[k]
        for k in ("Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number")
    )

    park = _first(flow, Event_Name="CHANNEL_PARK")
    answer = _first(flow, Event_Name="CHANNEL_ANSWER")
    before_answer = {n for n, _ in _variables(_first(flow, Event_Name="CHANNEL_EXECUTE"))}
    complete = _first(flow, Event_Name="CHANNEL_HANGUP_COMPLETE")
    before_complete = {n for n, _ in _variables(_first(flow, Event_Name="CHANNEL_HANGUP"))}
    agent_create = _first(queue, Event_Name="CHANNEL_CREATE", Call_Direction="outbound")
    agent_answer = _first(queue, Event_Name="CHANNEL_ANSWER", Call_Direction="outbound")
    agent_create_vars = {n for n, _ in _variables(agent_create)}
    heartbeat = _first(plain, Event_Name="HEARTBEAT")
    register = _first(plain, Event_Subclass="sofia::register")
    unregister = _first(plain, Event_Subclass="sofia::unregister")
    prefix = [(n, v) for n, v in park[: [n for n, _ in park].index("Event-Sequence") + 1]]

    data = {
        "PREFIX": prefix,
        "CALLING": calling,
        "CALLER_VARS": _variables(park),
        "ANSWER_VARS": [(n, v) for n, v in _variables(answer) if n not in before_answer],
        "HANGUP_COMPLETE_VARS": [
            (n, v) for n, v in _variables(complete) if n not in before_complete
        ],
        "AGENT_VARS": _variables(agent_create),
        "AGENT_ANSWER_VARS": [
            (n, v) for n, v in _variables(agent_answer) if n not in agent_create_vars
        ],
        "HEARTBEAT": _after_sequence(heartbeat),
        "SOFIA_REGISTER": _after_sequence(register),
        "SOFIA_UNREGISTER": _after_sequence(unregister),
    }
    print('"""Header templates from real FreeSWITCH 1.10 captures (made by _gen_templates.py).')
    print()
    print('Values are decoded; the simulator overrides the dynamic ones."""')
    print()
    for name, value in data.items():
        print(f"{name} = {pprint.pformat(value, width=100)}")
        print()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
