"""The FreeSWITCH configuration the appliance ships (freeswitch-conf/), completed by the files
`frontdesk freeswitch-config` generates from the frontdesk config (frontdesk.fsconf)."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from frontdesk.config import load_config
from frontdesk.config.model import Config
from frontdesk.esl import socket_token
from frontdesk.esl.commands import AFTER_SOCKET, TALKED
from frontdesk.fsconf import (
    ACL_FILE,
    GATEWAY_FILE,
    PHONES_FILE,
    VARS_FILE,
    FreeswitchConfigError,
    desk_phones,
    render,
    write,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "freeswitch-conf"
EXAMPLE = REPO / "examples" / "frontdesk.toml"
GENERATED = (VARS_FILE, ACL_FILE, PHONES_FILE, GATEWAY_FILE)
GLOBAL_VAR = re.compile(r"\$\$\{([A-Za-z0-9_]+)\}")
ESL_PASSWORD = "esl-Secret-4242"
TRUNK_PASSWORD = "trunk-Secret-9876"
LISTEN_PORT = 8090
"""Not the default 8084: proves the socket address comes from the config."""


def phone_password(ext: str) -> str:
    return f"phone-{ext}-Secret"


def make_practice(directory: Path, *, listen_port: int = LISTEN_PORT) -> Path:
    """The example practice with its secrets files (0600), listening on `listen_port`."""
    directory.mkdir(parents=True)
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "listen_port = 8084", f"listen_port = {listen_port}"
    )
    (directory / "frontdesk.toml").write_text(text, encoding="utf-8")
    shutil.copytree(EXAMPLE.parent / "prompts", directory / "prompts")
    secrets = directory / "secrets"
    secrets.mkdir()
    (directory.parent / "var" / "messages").mkdir(parents=True, exist_ok=True)
    config = load_config(directory / "frontdesk.toml", check_files=False)
    lines = [f"{ext}={phone_password(ext)}" for ext in desk_phones(config)]
    for name, content in (
        ("esl-password", ESL_PASSWORD),
        ("phone-passwords", "# EXT=password\n" + "\n".join(lines)),
        ("trunk-password", TRUNK_PASSWORD),
    ):
        (secrets / name).write_text(content + "\n")
        (secrets / name).chmod(0o600)
    return directory / "frontdesk.toml"


@pytest.fixture(scope="module")
def practice_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return load_config(make_practice(tmp_path_factory.mktemp("fs") / "practice"))


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory, practice_config: Config) -> Path:
    """FreeSWITCH's conf dir as installed: the shipped files plus the generated ones."""
    directory = tmp_path_factory.mktemp("fs") / "freeswitch"
    shutil.copytree(SHIPPED, directory)
    write(render(practice_config), directory)
    return directory


# --- reading FreeSWITCH's XML as FreeSWITCH does -------------------------------------------


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
    matches = sorted(directory.glob(pattern))
    assert matches, f"include {pattern!r} from {directory} matches no file"
    elements = []
    for match in matches:
        root = expand(match)
        elements.extend(list(root) if root.tag == "include" else [root])
    return elements


def global_vars(conf: Path) -> dict[str, str]:
    """The $${...} variables set by vars.xml and the generated frontdesk-vars.xml."""
    values: dict[str, str] = {}
    for element in expand(conf / "vars.xml").iter("X-PRE-PROCESS"):
        if element.get("cmd") == "set":
            name, _, value = element.get("data", "").partition("=")
            values[name] = GLOBAL_VAR.sub(lambda m: values[m.group(1)], value)
    return values


def resolve(conf: Path, text: str) -> str:
    values = global_vars(conf)
    return GLOBAL_VAR.sub(lambda m: values[m.group(1)], text)


def document(conf: Path) -> ET.Element:
    return expand(conf / "freeswitch.xml")


def configuration(conf: Path, name: str) -> ET.Element:
    path = f"./section[@name='configuration']/configuration[@name='{name}']"
    found = document(conf).findall(path)
    assert len(found) == 1, f"{name}: {len(found)} configurations"
    return found[0]


def params(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.iter("param")}


def profile(conf: Path, name: str) -> ET.Element:
    return configuration(conf, "sofia.conf").findall(f"./profiles/profile[@name='{name}']")[0]


def condition(conf: Path, context: str, name: str) -> ET.Element:
    path = (
        f"./section[@name='dialplan']/context[@name='{context}']/extension[@name='{name}']"
        "/condition"
    )
    (found,) = document(conf).findall(path)
    return found


def extension(conf: Path, context: str, name: str) -> list[tuple[str, str]]:
    actions = condition(conf, context, name).findall("action")
    return [(a.get("application", ""), a.get("data", "")) for a in actions]


def dialled(conf: Path, context: str, name: str) -> re.Pattern[str]:
    return re.compile(resolve(conf, condition(conf, context, name).get("expression", "")))


def conf_files(conf: Path) -> list[Path]:
    return sorted(p for p in conf.rglob("*") if p.is_file())


# --- every file -----------------------------------------------------------------------------


def test_every_xml_file_shipped_or_generated_parses(conf: Path) -> None:
    files = conf_files(conf)
    assert {p.name for p in files} >= set(GENERATED)
    for path in files:
        parse(path)


def test_the_whole_configuration_parses_with_every_include_found(conf: Path) -> None:
    root = document(conf)
    assert root.tag == "document"
    assert {s.get("name") for s in root.findall("section")} == {
        "configuration",
        "dialplan",
        "directory",
    }
    names = {c.get("name") for c in root.findall("./section/configuration")}
    assert {"modules.conf", "event_socket.conf", "sofia.conf", "acl.conf"} <= names
    assert root.findall(".//X-PRE-PROCESS[@cmd='include']") == []


def test_no_file_contains_the_default_event_socket_password(conf: Path) -> None:
    for path in conf_files(conf):
        assert "cluecon" not in path.read_text(encoding="utf-8").lower(), path


def test_every_global_variable_used_is_defined_by_vars_or_the_generated_vars(conf: Path) -> None:
    defined = set(global_vars(conf))
    used = {
        (name, str(path.relative_to(conf)))
        for path in conf_files(conf)
        for name in GLOBAL_VAR.findall(path.read_text(encoding="utf-8"))
    }
    assert {(name, where) for name, where in used if name not in defined} == set()


def test_every_generated_variable_is_documented_and_used(conf: Path) -> None:
    children = list(parse(conf / VARS_FILE, comments=True))
    uses = "".join(p.read_text(encoding="utf-8") for p in conf_files(conf) if p.name != VARS_FILE)
    for index, element in enumerate(children):
        if element.tag != "X-PRE-PROCESS":
            continue
        name = element.get("data", "").partition("=")[0]
        assert children[index - 1].tag is ET.Comment, f"{name} has no comment"
        assert f"$${{{name}}}" in uses, f"{name} is never used"


def test_the_modules_the_daemon_relies_on_are_loaded(conf: Path) -> None:
    loaded = {m.get("module") for m in configuration(conf, "modules.conf").iter("load")}
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


def test_the_directories_freeswitch_uses_are_the_daemons(
    conf: Path, practice_config: Config
) -> None:
    values = global_vars(conf)
    prompts = Path(values["frontdesk_prompts_dir"])
    assert prompts == practice_config.prompt_directory
    assert (prompts / "fallback.wav").is_file()
    assert Path(values["frontdesk_messages_dir"]) == practice_config.storage.messages


def test_the_ports_are_the_configs_and_all_differ(conf: Path, practice_config: Config) -> None:
    values = global_vars(conf)
    network, fs = practice_config.network, practice_config.freeswitch
    assert network is not None
    ports = {
        "esl": int(values["frontdesk_esl_port"]),
        "socket": int(values["frontdesk_socket_address"].rpartition(":")[2]),
        "desk": int(resolve(conf, params(profile(conf, "desk"))["sip-port"])),
        "trunk": int(resolve(conf, params(profile(conf, "trunk"))["sip-port"])),
    }
    assert ports == {
        "esl": fs.esl_port,
        "socket": fs.listen_port,
        "desk": network.sip_port,
        "trunk": network.trunk_sip_port,
    }
    assert len(set(ports.values())) == len(ports)


# --- event socket ---------------------------------------------------------------------------


def test_the_event_socket_listens_on_loopback_with_the_daemons_password(
    conf: Path, practice_config: Config
) -> None:
    raw = params(configuration(conf, "event_socket.conf"))
    settings = {name: resolve(conf, value) for name, value in raw.items()}
    fs = practice_config.freeswitch
    assert ipaddress.ip_address(settings["listen-ip"]).is_loopback
    assert settings["listen-ip"] == fs.esl_host
    assert int(settings["listen-port"]) == fs.esl_port
    assert settings["password"] == fs.esl_password == ESL_PASSWORD
    assert settings["apply-inbound-acl"] == "loopback.auto"


# --- dialplan -------------------------------------------------------------------------------


def test_the_socket_address_is_the_daemons_listen_address(
    conf: Path, practice_config: Config
) -> None:
    for name in ("frontdesk", "features"):
        (address,) = [data for app, data in extension(conf, "default", name) if app == "socket"]
        host, _, port = resolve(conf, address).split()[0].partition(":")
        fs = practice_config.freeswitch
        assert (host, int(port)) == (fs.listen_host, fs.listen_port) == ("127.0.0.1", LISTEN_PORT)


def test_every_socket_action_shows_the_daemon_the_token_it_checks(
    conf: Path, practice_config: Config
) -> None:
    """frontdesk_token is set right before `socket`: the daemon refuses a connection without
    it, so a local process cannot pose as FreeSWITCH (*60, *51, a forged call)."""
    for name in ("frontdesk", "features"):
        actions = extension(conf, "default", name)
        socket = [app for app, _ in actions].index("socket")
        assert actions[socket - 1] == ("set", "frontdesk_token=$${frontdesk_token}")
    token = resolve(conf, "$${frontdesk_token}")
    assert token == socket_token(practice_config.freeswitch.esl_password)
    assert practice_config.freeswitch.esl_password not in token


def test_the_fallback_extension_is_reachable_after_the_socket_action(
    conf: Path, practice_config: Config
) -> None:
    actions = extension(conf, "default", "frontdesk")
    apps = [app for app, _ in actions]
    socket = apps.index("socket")
    assert ("set", "continue_on_fail=true") in actions[:socket]
    assert ("set", "socket_resume=true") in actions[:socket]
    assert actions[socket][1].endswith(" async full")
    assert "hangup" not in apps[:socket] and "transfer" not in apps[:socket]
    assert actions[socket + 1 :] == [("transfer", f"{AFTER_SOCKET} XML default")]

    after = extension(conf, "default", "frontdesk_after_socket")
    assert dialled(conf, "default", "frontdesk_after_socket").fullmatch(AFTER_SOCKET)
    steps = [app for app, _ in after if app in ("answer", "bridge", "playback", "record", "hangup")]
    assert steps == ["answer", "bridge", "playback", "playback", "record", "hangup"]
    bridge = resolve(conf, dict(after)["bridge"])
    domain = practice_config.freeswitch.domain
    desk = practice_config.frontdesk.extensions
    assert bridge.split(",") == [f"user/{ext}@{domain}" for ext in desk]
    assert any(app == "set" and data.startswith("call_timeout=") for app, data in after)
    prompt = next(data for app, data in after if app == "playback")
    assert prompt == "$${frontdesk_prompts_dir}/fallback.wav"
    assert dict(after)["record"].startswith("$${frontdesk_messages_dir}/")


def test_a_caller_who_talked_with_the_desk_is_hung_up_after_the_socket_not_sent_to_the_fallback(
    conf: Path,
) -> None:
    """The staff hung up first (or the daemon is gone): no silence, no fallback ringing."""
    names = [
        element.get("name")
        for element in document(conf).findall(
            "./section[@name='dialplan']/context[@name='default']/extension"
        )
    ]
    assert names.index("frontdesk_conversation_over") < names.index("frontdesk_after_socket")
    over = condition(conf, "default", "frontdesk_conversation_over")
    assert over.get("regex") == "all"
    fields = {r.get("field"): re.compile(r.get("expression", "")) for r in over.findall("regex")}
    assert fields["destination_number"].fullmatch(AFTER_SOCKET)
    talked = fields["${" + TALKED + "}"]
    assert talked.fullmatch("true") and not talked.fullmatch("")
    assert extension(conf, "default", "frontdesk_conversation_over") == [
        ("hangup", "NORMAL_CLEARING")
    ]
    for pattern in (dialled(conf, "default", name) for name in ("desk_phones", "features")):
        assert not pattern.fullmatch(AFTER_SOCKET)


def test_every_prompt_the_fallback_plays_is_a_prompt_of_the_example_practice(
    conf: Path, practice_config: Config
) -> None:
    """FreeSWITCH plays these without the daemon: they must exist among the shipped prompts."""
    shipped = {prompt.path.name for prompt in practice_config.prompts.values() if prompt.path}
    played = [
        data.removeprefix("$${frontdesk_prompts_dir}/")
        for app, data in extension(conf, "default", "frontdesk_after_socket")
        if app == "playback" and data.startswith("$${frontdesk_prompts_dir}/")
    ]
    assert played
    for name in played:
        assert name in shipped
        assert (EXAMPLE.parent / "prompts" / name).is_file()


def test_desk_phones_call_each_other_without_the_daemon(
    conf: Path, practice_config: Config
) -> None:
    pattern = dialled(conf, "default", "desk_phones")
    assert all(pattern.fullmatch(ext) for ext in desk_phones(practice_config))
    assert not pattern.fullmatch("5000") and not pattern.fullmatch("0639980001")
    actions = extension(conf, "default", "desk_phones")
    assert ("bridge", "user/$1@$${domain}") in actions
    assert "socket" not in [app for app, _ in actions]


def test_feature_codes_from_desk_phones_go_to_the_daemon_and_nothing_else_does(
    conf: Path, practice_config: Config
) -> None:
    assert practice_config.features is not None
    pattern = dialled(conf, "default", "features")
    codes = set(practice_config.features.codes)
    assert codes == {"*50", "*51", "*60"}
    assert all(pattern.fullmatch(code) for code in codes)
    for other in ("*5", "*500", "*61", "5000", "1001", "*50*"):
        assert not pattern.fullmatch(other), other
    apps = [app for app, _ in extension(conf, "default", "features")]
    assert apps.index("socket") < apps.index("hangup")
    assert "bridge" not in apps and "record" not in apps


def test_unauthenticated_calls_can_only_reach_the_practices_line(conf: Path) -> None:
    assert extension(conf, "public", "to_frontdesk") == [("transfer", "5000 XML default")]
    assert params(profile(conf, "trunk"))["context"] == "public"
    assert params(profile(conf, "desk"))["context"] == "public"


# --- phones and LAN -------------------------------------------------------------------------


def test_the_generated_acl_contains_exactly_the_lan_ranges(
    conf: Path, practice_config: Config
) -> None:
    assert practice_config.network is not None
    lists = configuration(conf, "acl.conf").findall("./network-lists/list")
    assert [(x.get("name"), x.get("default")) for x in lists] == [("frontdesk_lan", "deny")]
    nodes = [(n.get("type"), n.get("cidr")) for n in lists[0]]
    assert nodes == [("allow", cidr) for cidr in practice_config.network.lan_ranges]


def test_every_desk_phone_has_its_password_accepted_only_from_the_lan(
    conf: Path, practice_config: Config
) -> None:
    users = document(conf).findall("./section[@name='directory']/domain//user")
    assert [u.get("id") for u in users] == desk_phones(practice_config)
    assert {"1001", "1002", "1003", "1011", "1012", "1013"} <= set(desk_phones(practice_config))
    for user in users:
        ext = user.get("id", "")
        assert params(user) == {"password": phone_password(ext), "auth-acl": "frontdesk_lan"}
        number = user.find("./variables/variable[@name='effective_caller_id_number']")
        assert number is not None and number.get("value") == ext
    assert stat.S_IMODE((conf / PHONES_FILE).stat().st_mode) == 0o640


def test_the_desk_phone_profile_authenticates_every_call_and_registration(conf: Path) -> None:
    settings = params(profile(conf, "desk"))
    assert settings["auth-calls"] == "true"
    assert settings["accept-blind-reg"] == "false"
    assert settings["accept-blind-auth"] == "false"
    # In FreeSWITCH an address these ACLs allow registers or calls WITHOUT a password.
    assert "apply-register-acl" not in settings and "apply-inbound-acl" not in settings
    assert settings["local-network-acl"] == "frontdesk_lan"
    assert resolve(conf, settings["sip-ip"]) == "192.168.1.10"


def test_the_trunk_accepts_rfc2833_and_sip_info_digits_like_the_desk_profile(
    conf: Path,
) -> None:
    dtmf = ("dtmf-type", "rfc2833-pt", "liberal-dtmf")
    desk, trunk = params(profile(conf, "desk")), params(profile(conf, "trunk"))
    assert [trunk.get(key) for key in dtmf] == [desk.get(key) for key in dtmf]
    # without liberal-dtmf an rfc2833 channel logs "IGNORE INFO DTMF" for every INFO digit
    assert trunk["liberal-dtmf"] == "true"


def test_only_g711_is_offered(conf: Path) -> None:
    for name in ("desk", "trunk"):
        settings = params(profile(conf, name))
        assert settings["inbound-codec-prefs"] == settings["outbound-codec-prefs"] == "PCMA,PCMU"


# --- trunk and secrets ----------------------------------------------------------------------


def test_the_gateway_has_the_trunk_credentials_and_is_0600(
    conf: Path, practice_config: Config
) -> None:
    trunk = practice_config.trunk
    assert trunk is not None
    (gateway,) = profile(conf, "trunk").findall("./gateways/gateway")
    assert gateway.get("name") == practice_config.freeswitch.gateway
    settings = params(gateway)
    assert (settings["proxy"], settings["username"], settings["password"]) == (
        trunk.proxy,
        trunk.username,
        TRUNK_PASSWORD,
    )
    outbound = gateway.find("./variables/variable[@name='effective_caller_id_number']")
    assert outbound is not None and outbound.get("value") == trunk.caller_id
    for name in GENERATED:
        secret = name != ACL_FILE
        assert stat.S_IMODE((conf / name).stat().st_mode) == (0o640 if secret else 0o644), name


def test_no_credential_is_in_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [name for name in tracked if Path(name).name in GENERATED]
    assert not [name for name in tracked if name.startswith("examples/secrets/")]
    for path in SHIPPED.rglob("*.xml"):
        for element in parse(path).iter("param"):
            if "password" in element.get("name", ""):
                assert GLOBAL_VAR.fullmatch(element.get("value", "")), path


def test_the_command_writes_the_files_and_prints_no_secret(tmp_path: Path) -> None:
    config = make_practice(tmp_path / "practice")
    command = [
        sys.executable,
        "-m",
        "frontdesk.cli",
        "freeswitch-config",
        "--config",
        str(config),
        "--output",
        str(tmp_path / "freeswitch"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "freeswitch").iterdir()) == sorted(GENERATED)
    token = socket_token(ESL_PASSWORD)
    for secret in (ESL_PASSWORD, token, TRUNK_PASSWORD, phone_password("1001")):
        assert secret not in done.stdout + done.stderr
        assert secret in "".join(p.read_text() for p in (tmp_path / "freeswitch").iterdir())


def test_a_bad_phone_secrets_file_is_refused_with_its_line_and_without_the_passwords(
    tmp_path: Path,
) -> None:
    config_path = make_practice(tmp_path / "practice")
    secrets = config_path.parent / "secrets" / "phone-passwords"
    secrets.write_text("1001=short\n1001=phone-1001-again\n9999=phone-9999-Secret\nnonsense\n")
    with pytest.raises(FreeswitchConfigError) as refused:
        render(load_config(config_path))
    text = str(refused.value)
    assert f"{secrets}:1: the password must be 8 to 128" in text
    assert f"{secrets}:2: a second password for 1001" in text
    assert f"{secrets}:3: '9999' is not a desk phone" in text
    assert f"{secrets}:4: expected EXT=password" in text
    assert f"{secrets}: no password for 1002, 1003" in text
    assert "short" not in text and "again" not in text


def test_without_network_and_phones_nothing_is_generated(tmp_path: Path) -> None:
    config = load_config(make_practice(tmp_path / "practice"))
    bare = dataclasses.replace(config, network=None, phones=None)
    with pytest.raises(FreeswitchConfigError) as refused:
        render(bare)
    assert "[network] is missing" in str(refused.value)
    assert "[phones] is missing" in str(refused.value)
