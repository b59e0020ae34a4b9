"""The FreeSWITCH configuration the appliance ships (freeswitch-conf/)."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from frontdesk.config.model import FreeswitchSettings

CONF = Path(__file__).resolve().parent.parent / "freeswitch-conf"
VARS_EXAMPLE = CONF / "frontdesk-vars.xml.example"
GENERATED = "frontdesk-vars.xml"
"""Written by the install script; the tests read the shipped example in its place."""

GLOBAL_VAR = re.compile(r"\$\$\{([A-Za-z0-9_]+)\}")
DESK_PHONES = ("1001", "1002", "1003")

FILES = sorted(p for p in CONF.rglob("*") if p.is_file())
XML_FILES = [p for p in FILES if p.name.endswith((".xml", ".xml.example"))]


def defaults() -> dict[str, object]:
    return {
        f.name: f.default
        for f in dataclasses.fields(FreeswitchSettings)
        if f.default is not dataclasses.MISSING
    }


def parse(path: Path, *, comments: bool = False) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=comments))
    return ET.parse(path, parser).getroot()


def expand(path: Path) -> ET.Element:
    """Parse `path` with its X-PRE-PROCESS includes replaced by what they include.

    As FreeSWITCH does: a relative include is taken from the including file's directory, may
    be a glob, and an included file's <include> wrapper is dropped.
    """
    root = parse(path)
    _expand_children(root, path.parent)
    return root


def _expand_children(element: ET.Element, directory: Path) -> None:
    children: list[ET.Element] = []
    for child in element:
        if child.tag == "X-PRE-PROCESS" and child.get("cmd") == "include":
            children.extend(_included(directory, child.get("data", "")))
        else:
            _expand_children(child, directory)
            children.append(child)
    element[:] = children


def _included(directory: Path, pattern: str) -> list[ET.Element]:
    if pattern == GENERATED:
        matches = [VARS_EXAMPLE]
    else:
        matches = sorted(directory.glob(pattern))
    assert matches, f"include {pattern!r} from {directory} matches no file"
    elements = []
    for match in matches:
        root = expand(match)
        elements.extend(list(root) if root.tag == "include" else [root])
    return elements


def global_vars() -> dict[str, str]:
    """The $${...} variables set by vars.xml (with the example in place of the generated file)."""
    values: dict[str, str] = {}
    for element in expand(CONF / "vars.xml").iter("X-PRE-PROCESS"):
        if element.get("cmd") == "set":
            name, _, value = element.get("data", "").partition("=")
            values[name] = GLOBAL_VAR.sub(lambda m: values[m.group(1)], value)
    return values


def resolve(text: str) -> str:
    values = global_vars()
    return GLOBAL_VAR.sub(lambda m: values[m.group(1)], text)


def configuration(name: str) -> ET.Element:
    document = expand(CONF / "freeswitch.xml")
    found = document.findall(f"./section[@name='configuration']/configuration[@name='{name}']")
    assert len(found) == 1, f"{name}: {len(found)} configurations"
    return found[0]


def params(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.iter("param")}


def extension(context: str, name: str) -> list[tuple[str, str]]:
    document = expand(CONF / "freeswitch.xml")
    path = (
        f"./section[@name='dialplan']/context[@name='{context}']"
        f"/extension[@name='{name}']/condition/action"
    )
    return [(a.get("application", ""), a.get("data", "")) for a in document.findall(path)]


# --- every file ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_every_xml_file_parses(path: Path) -> None:
    parse(path)


def test_the_whole_configuration_parses_with_its_includes_and_has_its_sections() -> None:
    document = expand(CONF / "freeswitch.xml")
    assert document.tag == "document"
    assert {s.get("name") for s in document.findall("section")} == {
        "configuration",
        "dialplan",
        "directory",
    }
    names = {c.get("name") for c in document.findall("./section/configuration")}
    assert {"modules.conf", "event_socket.conf", "sofia.conf", "acl.conf"} <= names
    assert document.findall(".//X-PRE-PROCESS[@cmd='include']") == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_no_file_contains_the_default_event_socket_password(path: Path) -> None:
    assert "cluecon" not in path.read_text(encoding="utf-8").lower()


def test_every_global_variable_used_is_defined_in_vars_or_the_generated_vars() -> None:
    defined = set(global_vars())
    used = {
        (name, str(path.relative_to(CONF)))
        for path in FILES
        for name in GLOBAL_VAR.findall(path.read_text(encoding="utf-8"))
    }
    assert {(name, where) for name, where in used if name not in defined} == set()


def test_every_generated_variable_is_documented_and_used() -> None:
    root = parse(VARS_EXAMPLE, comments=True)
    children = list(root)
    uses = "".join(p.read_text(encoding="utf-8") for p in FILES if p != VARS_EXAMPLE)
    for index, element in enumerate(children):
        if element.tag != "X-PRE-PROCESS":
            continue
        name = element.get("data", "").partition("=")[0]
        before = children[:index]
        assert any(e.tag is ET.Comment for e in before[-3:]), f"{name} has no comment"
        assert f"$${{{name}}}" in uses, f"{name} is never used"


def test_the_modules_the_daemon_relies_on_are_loaded() -> None:
    loaded = {m.get("module") for m in configuration("modules.conf").iter("load")}
    assert loaded == {
        "mod_console",
        "mod_logfile",
        "mod_event_socket",
        "mod_sofia",
        "mod_loopback",
        "mod_commands",
        "mod_dptools",
        "mod_dialplan_xml",
        "mod_sndfile",
        "mod_native_file",
        "mod_tone_stream",
        "mod_local_stream",
    }


# --- event socket -------------------------------------------------------------------------


def test_the_event_socket_listens_on_loopback_only_on_the_daemons_default_port() -> None:
    settings = params(configuration("event_socket.conf"))
    assert settings["listen-ip"] == "127.0.0.1" == defaults()["esl_host"]
    assert int(settings["listen-port"]) == defaults()["esl_port"] == 8021
    assert settings["apply-inbound-acl"] == "loopback.auto"
    assert settings["password"] == "$${frontdesk_esl_password}"


# --- dialplan -----------------------------------------------------------------------------


def test_an_incoming_call_goes_to_the_daemon_then_to_the_static_fallback() -> None:
    actions = extension("default", "frontdesk")
    apps = [app for app, _ in actions]
    socket = apps.index("socket")
    assert ("set", "continue_on_fail=true") in actions[:socket]
    assert ("set", "socket_resume=true") in actions[:socket]
    assert actions[socket][1].endswith(" async full")

    after = actions[socket + 1 :]
    steps = [app for app, _ in after if app in ("answer", "bridge", "playback", "record", "hangup")]
    assert steps == ["answer", "bridge", "playback", "playback", "record", "hangup"]
    bridge = dict(after)["bridge"]
    assert bridge.split(",") == [f"user/{ext}@$${{domain}}" for ext in DESK_PHONES]
    assert any(app == "set" and data.startswith("call_timeout=") for app, data in after)
    prompt = next(data for app, data in after if app == "playback")
    assert prompt == "$${frontdesk_prompts_dir}/fallback.wav"
    record = dict(after)["record"]
    assert record.startswith("$${frontdesk_messages_dir}/")


def test_every_prompt_the_fallback_plays_is_a_prompt_of_the_example_practice() -> None:
    """FreeSWITCH plays these without the daemon: they must exist among the shipped prompts."""
    from frontdesk.config import load_config

    example = load_config(CONF.parent / "examples" / "frontdesk.toml", check_files=False)
    shipped = {prompt.path.name for prompt in example.prompts.values() if prompt.path}
    played = [
        data.removeprefix("$${frontdesk_prompts_dir}/")
        for app, data in extension("default", "frontdesk")
        if app == "playback" and data.startswith("$${frontdesk_prompts_dir}/")
    ]
    assert played
    for name in played:
        assert name in shipped
        assert (CONF.parent / "examples" / "prompts" / name).is_file()


def test_the_socket_address_is_the_daemons_default_listen_address() -> None:
    (address,) = [data for app, data in extension("default", "frontdesk") if app == "socket"]
    host, _, port = resolve(address).split()[0].partition(":")
    assert host == defaults()["listen_host"]
    assert int(port) == defaults()["listen_port"] == 8084


def test_desk_phones_call_each_other_without_the_daemon() -> None:
    document = expand(CONF / "freeswitch.xml")
    (condition,) = document.findall(
        "./section[@name='dialplan']/context[@name='default']"
        "/extension[@name='desk_phones']/condition"
    )
    pattern = re.compile(condition.get("expression", ""))
    assert all(pattern.match(ext) for ext in DESK_PHONES)
    assert not pattern.match("5000")
    actions = extension("default", "desk_phones")
    assert ("bridge", "user/$1@$${domain}") in actions
    assert "socket" not in [app for app, _ in actions]


def test_unauthenticated_calls_can_only_reach_the_practices_line() -> None:
    assert extension("public", "to_frontdesk") == [("transfer", "5000 XML default")]


# --- phones -------------------------------------------------------------------------------


def test_the_directory_has_the_desk_phones_with_passwords_from_variables() -> None:
    document = expand(CONF / "freeswitch.xml")
    users = document.findall("./section[@name='directory']/domain//user")
    assert [u.get("id") for u in users] == list(DESK_PHONES)
    for user in users:
        assert params(user)["password"] == f"$${{frontdesk_phone_{user.get('id')}_password}}"


def test_the_desk_phone_profile_authenticates_every_call_and_registration() -> None:
    (profile,) = configuration("sofia.conf").findall("./profiles/profile")
    settings = params(profile)
    assert settings["auth-calls"] == "true"
    assert settings["accept-blind-reg"] == "false"
    assert settings["accept-blind-auth"] == "false"
    assert settings["context"] == "public"
