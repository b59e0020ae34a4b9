"""Loading and validating the config file: each rule reports FILE:LINE: key.path: message."""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
import wave
from pathlib import Path

import pytest

from frontdesk.config import ConfigError, load_config
from frontdesk.config._locate import format_path
from frontdesk.config._types import (
    INVALID,
    NO_DEFAULT,
    Int,
    Issues,
    List,
    Map,
    Str,
    Table,
    TableArray,
    Tagged,
    Value,
    _as_written,
    check_default,
    key,
)
from frontdesk.config.model import MenuNode
from frontdesk.config.schema import OUTSIDE, PROMPTS, ROOT, documented_keys

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "frontdesk.toml"

BASE = """\
[practice]
name = "Cabinet de test"

[freeswitch]
esl_password = "s3cret-for-tests"

[storage]
database = "var/frontdesk.db"
messages = "var/messages"

[schedule]
monday = ["08:30-12:30", "14:00-19:00"]

[emergency]
key = "1"
prompt = "emergency"

[frontdesk]
extensions = ["1001", "1002"]

[outside.numbers]
on_call = "0639980001"

[prompts.hello]
file = "hello.wav"
text = "Bonjour."

[prompts.bye]
file = "silence_stream://500"
text = "Au revoir."

[prompts.emergency]
file = "silence_stream://500"
text = "En cas d'urgence vitale, appelez le 15 ou le 112."

[prompts.closed]
file = "silence_stream://500"
text = "Le cabinet est fermé. Médecin de garde : 116 117. Urgences : 15 ou 112."

[prompts.menu]
file = "silence_stream://500"
text = "Pour laisser un message, tapez 2."

[flow]
greeting = "hello"
goodbye = "bye"
invalid = "bye"

[flow.branches.open]
entry = "main"

[flow.branches.closed]
entry = "main"
announcement = "closed"
duty_number = "116117"

[flow.nodes.main]
type = "menu"
prompt = "menu"
options = { "2" = "message" }
on_failure = "desk"

[flow.nodes.desk]
type = "frontdesk"
then = "message"

[flow.nodes.message]
type = "message"
prompt = "menu"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "hello.wav").write_bytes(b"RIFF")
    (tmp_path / "var" / "messages").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "frontdesk.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o640)  # it holds the ESL password
    return path


def edit(*changes: tuple[str, str]) -> str:
    text = BASE
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.errors


def line_of(text: str, fragment: str) -> int:
    assert fragment in text, fragment
    return text[: text.index(fragment)].count("\n") + 1


def expect_error(tmp_path: Path, text: str, at: str, key: str, message: str) -> list[str]:
    """Exactly the error `FILE:LINE: key: ...message...`, LINE being where `at` is written."""
    errors = errors_of(tmp_path, text)
    prefix = f"{tmp_path / 'frontdesk.toml'}:{line_of(text, at)}: {key}: "
    matching = [e for e in errors if e.startswith(prefix) and message in e]
    assert matching, f"no {prefix}...{message}... in:\n" + "\n".join(errors)
    return errors


# -- the example config -------------------------------------------------------------------


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example, copied with its prompts and a password file, as `make run` prepares it."""
    shutil.copy(EXAMPLE, tmp_path / "frontdesk.toml")
    shutil.copytree(EXAMPLE.parent / "prompts", tmp_path / "prompts")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "esl-password").write_text("generated-password\n")
    (tmp_path / "secrets" / "esl-password").chmod(0o600)
    (tmp_path.parent / "var" / "messages").mkdir(parents=True, exist_ok=True)
    return tmp_path / "frontdesk.toml"


def test_the_example_config_loads(example: Path) -> None:
    config = load_config(example)
    assert config.practice.name == "Cabinet médical des Tilleuls"
    assert config.freeswitch.esl_password == "generated-password"
    assert set(config.flow.branches) == {"open", "lunch", "closed", "holiday", "closure"}
    assert config.schedule.week[5][0].start.hour == 9
    assert config.schedule.week[6] == ()
    assert len(config.scenarios) >= 8
    assert all(p.path is not None and p.path.is_file() for p in config.prompts.values())
    assert config.storage.database == (example.parent.parent / "var" / "frontdesk.db")


def test_the_example_documents_every_key_of_the_schema() -> None:
    # Optional keys may be shown commented out ("# key = value"): uncomment them first.
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# ?([A-Za-z_][A-Za-z0-9_]* = )", r"\1", text)
    data = tomllib.loads(uncommented)

    def present(node: object, pattern: tuple[str, ...]) -> bool:
        if not pattern:
            return True
        head, rest = pattern[0], pattern[1:]
        if head == "*":
            return isinstance(node, dict) and any(present(v, rest) for v in node.values())
        if head == "[]":
            return isinstance(node, list) and any(present(v, rest) for v in node)
        if "=" in head:
            tag, kind = head.split("=")
            return isinstance(node, dict) and node.get(tag) == kind and present(node, rest)
        return isinstance(node, dict) and head in node and present(node[head], rest)

    missing = [".".join(p) for p in documented_keys() if not present(data, p)]
    assert missing == []


def test_the_example_prompts_are_telephone_wavs_under_3_5_mb() -> None:
    files = sorted((EXAMPLE.parent / "prompts").glob("*.wav"))
    assert files
    for file in files:
        with wave.open(str(file)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (
                8000,
                1,
                2,
            )
    assert sum(f.stat().st_size for f in files) < 3_500_000  # about 3 min 40 s of speech


def test_the_example_without_its_password_file_says_so(example: Path) -> None:
    (example.parent / "secrets" / "esl-password").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config(example)
    text = example.read_text()
    line = line_of(text, "esl_password_file =")
    assert caught.value.errors == [
        f"{example}:{line}: freeswitch.esl_password_file: cannot read "
        f"{example.parent / 'secrets' / 'esl-password'}: No such file or directory"
    ]


# -- a minimal config, its defaults and resolved paths -----------------------------------------


def test_a_minimal_config_loads_with_the_model_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.freeswitch.esl_port == 8021
    assert config.practice.timezone == "Europe/Paris"
    assert config.schedule.week[1] == ()
    assert config.flow.operator_key == "0"
    assert config.emergency.extensions == ("1001", "1002")
    assert config.flow.branches["holiday"].state == "holiday"
    assert config.flow.branches["holiday"].entry == "main"
    assert isinstance(config.flow.nodes["main"], MenuNode)


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.storage.database == tmp_path / "var" / "frontdesk.db"
    assert config.prompts["hello"].path == tmp_path / "prompts" / "hello.wav"
    assert config.prompts["bye"].path is None
    assert config.prompts["bye"].uri == "silence_stream://500"


def test_the_version_is_a_short_hash_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    assert load_config(path).version == hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# -- each key declared once: its type, range and default in one place ---------------------------


def tables_with_settings() -> dict[str, tuple[Table, str]]:
    """[section] -> (its table, the Config attribute holding its settings)."""
    return {name: (ROOT.fields[name], name) for name in (
        "practice", "freeswitch", "recording", "maintenance", "emergency", "frontdesk",
        "queue", "panel",
    )}


def declared_values(value: Value = ROOT, path: tuple[str, ...] = ()) -> list[tuple[str, Value]]:
    """(key path, declaration) of every key of the schema."""
    found: list[tuple[str, Value]] = [(".".join(path), value)] if path else []
    children: list[tuple[str, Value]] = []
    if isinstance(value, Table):
        children = list(value.fields.items()) + ([("*", value.extra)] if value.extra else [])
    elif isinstance(value, List):
        children = [("[]", value.item)]
    elif isinstance(value, Map):
        children = [("*", value.value)]
    elif isinstance(value, Tagged):
        children = [(f"type={kind}", table) for kind, table in value.variants.items()]
    for name, child in children:
        found += declared_values(child, (*path, name))
    return found


def test_a_default_its_own_key_would_refuse_is_an_error_where_the_key_is_declared() -> None:
    with pytest.raises(ValueError, match="default 0: must be between 1 and 10, not 0"):
        key(Int(minimum=1, maximum=10), 0)
    with pytest.raises(ValueError, match="default 'fixed': must be one of 'a', 'b'"):
        key(Str(choices=("a", "b")), "fixed")
    assert key(Int(minimum=1, maximum=10), None).default is None  # None: not set


def test_every_declared_default_is_a_value_its_key_accepts() -> None:
    problems = [(path, check_default(value)) for path, value in declared_values()]
    assert [p for p in problems if p[1]] == []
    assert any(value.default == 20.0 for path, value in declared_values()
               if path == "queue.ring_timeout")


def test_a_key_left_out_of_the_file_gets_its_declared_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    written = tomllib.loads(BASE)
    checked = 0
    for section, (table, attribute) in tables_with_settings().items():
        settings = getattr(config, attribute)
        for name, default in table.defaults().items():
            if name not in written.get(section, {}):
                assert getattr(settings, name) == default, f"{section}.{name}"
                checked += 1
    assert checked > 50
    assert config.allow_international is OUTSIDE.defaults()["allow_international"]
    assert config.prompt_directory == tmp_path / PROMPTS.defaults()["directory"]
    assert config.flow.nodes["desk"].reason == "speak_to_someone"
    assert config.scenarios == ()


def test_the_example_shows_the_declared_default_of_each_key_it_leaves_commented_out() -> None:
    section: tuple[str, ...] = ()
    compared = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.fullmatch(r"\[+([^\]]+)\]+", line)
        if header:
            section = tuple(header.group(1).split("."))
            continue
        shown = re.match(r"# ?([a-z_]+) = (.*)", line)
        table = _table_at(section)
        if not shown or table is None or shown.group(1) not in table.fields:
            continue
        declared = table.fields[shown.group(1)].default
        if declared is NO_DEFAULT or declared in (None, ""):
            continue  # not set by default: the value shown is an example
        value = tomllib.loads(f"value = {shown.group(2)}")["value"]
        assert value == _as_written(declared), ".".join((*section, shown.group(1)))
        compared.append(shown.group(1))
    assert len(compared) > 25


def _table_at(section: tuple[str, ...]) -> Table | None:
    table: Value | None = ROOT
    for name in section:
        table = table.fields.get(name) if isinstance(table, Table) else None
        if isinstance(table, TableArray):
            table = table.item
    return table if isinstance(table, Table) else None


# -- file and syntax --------------------------------------------------------------------------


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert caught.value.errors[0].startswith(f"{tmp_path / 'nope.toml'}:1: file: cannot read")


def test_a_toml_syntax_error_gives_its_line(tmp_path: Path) -> None:
    text = edit(("[frontdesk]\n", "[frontdesk]\nring_timeout = = 3\n"))
    errors = errors_of(tmp_path, text)
    line = line_of(text, "ring_timeout = = 3")
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'frontdesk.toml'}:{line}: syntax: ")


# -- the schema: unknown keys, types, ranges ---------------------------------------------------


def test_an_unknown_key_suggests_the_closest_one(tmp_path: Path) -> None:
    text = edit(('on_failure = "desk"\n', 'on_failure = "desk"\ntimout = 5\n'))
    errors = expect_error(
        tmp_path, text, "timout = 5", "flow.nodes.main.timout", "unknown key 'timout'"
    )
    assert errors[0].endswith("unknown key 'timout'. Did you mean 'timeout'?")


def test_an_unknown_table_suggests_the_closest_one(tmp_path: Path) -> None:
    text = edit(("[frontdesk]\n", "[frontdesks]\n"))
    errors = expect_error(tmp_path, text, "[frontdesks]", "frontdesks", "Did you mean 'frontdesk'?")
    assert any("frontdesk: missing required table" in e for e in errors)


def test_a_value_outside_its_choices_lists_them(tmp_path: Path) -> None:
    text = edit(('name = "Cabinet de test"\n', 'name = "Cabinet de test"\nlanguage = "de"\n'))
    expect_error(
        tmp_path,
        text,
        'language = "de"',
        "practice.language",
        "must be one of 'fr', 'en', not 'de'",
    )


def test_a_port_out_of_range_is_refused(tmp_path: Path) -> None:
    text = edit(('esl_password = "s3cret-for-tests"\n', 'esl_password = "x1"\nesl_port = 70000\n'))
    expect_error(
        tmp_path, text, "esl_port", "freeswitch.esl_port", "must be between 1 and 65535, not 70000"
    )


@pytest.mark.parametrize("calls", [0, 5000])
def test_max_calls_is_limited_to_what_the_file_limit_allows(tmp_path: Path, calls: int) -> None:
    line = f'esl_password = "x1"\nmax_calls = {calls}\n'
    text = edit(('esl_password = "s3cret-for-tests"\n', line))
    message = f"must be between 1 and 1000, not {calls}"
    expect_error(tmp_path, text, "max_calls", "freeswitch.max_calls", message)


@pytest.mark.parametrize("key", ["domain", "gateway"])
@pytest.mark.parametrize("name", ["trunk,x", "a b", "t}{origination_uuid=x", "up/link", ""])
def test_a_name_that_would_change_freeswitchs_commands_is_refused(
    tmp_path: Path, key: str, name: str
) -> None:
    """Domain and gateway go into dial strings as they are (``user/1001@domain``,
    ``sofia/gateway/NAME/…``): refused where written, not silently changed in the command."""
    line = f'esl_password = "x1"\n{key} = "{name}"\n'
    text = edit(('esl_password = "s3cret-for-tests"\n', line))
    expected = "must not be empty" if not name else "must be a name of letters, digits"
    expect_error(tmp_path, text, f"{key} = ", f"freeswitch.{key}", expected)


def test_max_calls_defaults_to_300(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE)).freeswitch.max_calls == 300


def test_a_value_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    text = edit(('extensions = ["1001", "1002"]\n', 'extensions = ["1001"]\nring_timeout = "25"\n'))
    expect_error(
        tmp_path, text, "ring_timeout", "frontdesk.ring_timeout",
        "must be a finite number, not '25'",
    )


def test_a_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    text = edit(('prompt = "emergency"\n', ""))
    expect_error(tmp_path, text, "[emergency]", "emergency.prompt", "missing required key")


def test_an_unknown_time_zone_suggests_the_closest_one(tmp_path: Path) -> None:
    text = edit(('name = "Cabinet de test"\n', 'name = "C"\ntimezone = "Europe/Pariss"\n'))
    expect_error(tmp_path, text, "timezone", "practice.timezone", "Did you mean 'Europe/Paris'?")


def test_country_and_subdivision_must_be_known_to_the_holidays_library(tmp_path: Path) -> None:
    text = edit(('name = "Cabinet de test"\n', 'name = "C"\ncountry = "XX"\n'))
    expect_error(tmp_path, text, "country", "practice.country", "not a country the holidays")
    text = edit(('name = "Cabinet de test"\n', 'name = "C"\nsubdivision = "99"\n'))
    expect_error(tmp_path, text, "subdivision", "practice.subdivision", "'57'")
    text = edit(('name = "Cabinet de test"\n', 'name = "C"\nsubdivision = "57"\n'))
    assert load_config(write(tmp_path, text)).practice.subdivision == "57"


def test_extensions_are_two_to_six_digits(tmp_path: Path) -> None:
    text = edit(('extensions = ["1001", "1002"]', 'extensions = ["1001", "10a", "1"]'))
    errors = expect_error(
        tmp_path, text, "extensions =", "frontdesk.extensions[1]", "2 to 6 digits"
    )
    assert any("frontdesk.extensions[2]" in e for e in errors)


def test_several_errors_are_reported_together_in_file_order(tmp_path: Path) -> None:
    text = edit(
        ('name = "Cabinet de test"\n', 'name = "C"\nlanguage = "de"\n'),
        ('esl_password = "s3cret-for-tests"\n', 'esl_password = "x1"\nesl_port = 0\n'),
        ('on_failure = "desk"\n', 'on_failure = "desk"\ntries = 0\n'),
    )
    errors = errors_of(tmp_path, text)
    assert len(errors) == 3
    assert [e.split(": ")[1] for e in errors] == [
        "practice.language",
        "freeswitch.esl_port",
        "flow.nodes.main.tries",
    ]


# -- freeswitch: password and hosts ---------------------------------------------------------


def test_the_password_can_come_from_a_file_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "esl-password").write_text("  from-a-file\n")
    (tmp_path / "esl-password").chmod(0o600)
    text = edit(('esl_password = "s3cret-for-tests"', 'esl_password_file = "esl-password"'))
    assert load_config(write(tmp_path, text)).freeswitch.esl_password == "from-a-file"


def test_password_and_password_file_are_exclusive_and_one_is_required(tmp_path: Path) -> None:
    text = edit(
        ('esl_password = "s3cret-for-tests"\n', 'esl_password = "a"\nesl_password_file = "f"\n')
    )
    expect_error(tmp_path, text, "esl_password_file", "freeswitch.esl_password_file", "not both")
    text = edit(('esl_password = "s3cret-for-tests"\n', ""))
    expect_error(tmp_path, text, "[freeswitch]", "freeswitch.esl_password", "missing")


@pytest.mark.parametrize("password", ["ClueCon", "cluecon", ""])
def test_the_default_or_an_empty_password_is_refused(tmp_path: Path, password: str) -> None:
    text = edit(('esl_password = "s3cret-for-tests"', f'esl_password = "{password}"'))
    message = "must not be empty" if not password else "well-known default 'ClueCon'"
    expect_error(tmp_path, text, "esl_password", "freeswitch.esl_password", message)


def test_cluecon_is_refused_from_a_password_file_too(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("CLUECON\n")
    text = edit(('esl_password = "s3cret-for-tests"', 'esl_password_file = "pw"'))
    expect_error(tmp_path, text, "esl_password_file", "freeswitch.esl_password_file", "ClueCon")


def test_remote_hosts_are_refused_unless_allowed(tmp_path: Path) -> None:
    remote = (
        'esl_password = "s3cret-for-tests"\n',
        'esl_password = "x1"\nesl_host = "192.0.2.7"\n',
    )
    expect_error(tmp_path, edit(remote), "esl_host", "freeswitch.esl_host", "loopback")
    listen = (
        'esl_password = "s3cret-for-tests"\n',
        'esl_password = "x1"\nlisten_host = "0.0.0.0"\n',
    )
    expect_error(
        tmp_path, edit(listen), "listen_host", "freeswitch.listen_host", "allow_remote_esl"
    )
    allowed = (remote[0], remote[1] + "allow_remote_esl = true\n")
    assert load_config(write(tmp_path, edit(allowed))).freeswitch.esl_host == "192.0.2.7"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost"])
def test_loopback_hosts_are_accepted(tmp_path: Path, host: str) -> None:
    text = edit(
        ('esl_password = "s3cret-for-tests"\n', f'esl_password = "x1"\nesl_host = "{host}"\n')
    )
    assert load_config(write(tmp_path, text)).freeswitch.esl_host == host


# -- schedule ------------------------------------------------------------------------------------


def test_opening_ranges_must_be_valid_and_in_order(tmp_path: Path) -> None:
    text = edit(
        (
            'monday = ["08:30-12:30", "14:00-19:00"]',
            'monday = [\n  "08:30-12:30",\n  "12:00-13:00",\n  "15:00-14:00",\n  "9h-10h",\n]',
        )
    )
    expect_error(tmp_path, text, '"12:00-13:00"', "schedule.monday[1]", "not overlap")
    expect_error(tmp_path, text, '"15:00-14:00"', "schedule.monday[2]", "must start before")
    expect_error(tmp_path, text, '"9h-10h"', "schedule.monday[3]", 'like "08:30-12:30"')


def test_a_closure_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    closures = (
        "\n[[schedule.closures]]\nfrom = 2026-08-01\nto = 2026-08-15\n"
        "\n[[schedule.closures]]\nfrom = 2026-12-26\nto = 2026-12-24\n"
    )
    text = edit(
        ('monday = ["08:30-12:30", "14:00-19:00"]\n', 'monday = ["08:30-12:30"]\n' + closures)
    )
    expect_error(tmp_path, text, "to = 2026-12-24", "schedule.closures[1].to", "must not be before")


def test_closure_dates_are_toml_dates(tmp_path: Path) -> None:
    closure = '\n[[schedule.closures]]\nfrom = "2026-08-01"\nto = 2026-08-15\n'
    text = edit(('monday = ["08:30-12:30", "14:00-19:00"]\n', "monday = []\n" + closure))
    expect_error(tmp_path, text, 'from = "2026', "schedule.closures[0].from", "without quotes")


# -- references between prompts, nodes and numbers ----------------------------------------------


def test_an_unknown_prompt_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    text = edit(('greeting = "hello"', 'greeting = "helo"'))
    expect_error(tmp_path, text, 'greeting = "helo"', "flow.greeting", "Did you mean 'hello'?")


def test_a_missing_prompt_file_is_reported_at_its_file_key(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    (tmp_path / "prompts" / "hello.wav").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line = line_of(BASE, 'file = "hello.wav"')
    assert caught.value.errors == [
        f"{path}:{line}: prompts.hello.file: file not found: {tmp_path / 'prompts' / 'hello.wav'}"
    ]


def test_unknown_nodes_are_refused(tmp_path: Path) -> None:
    text = edit(('options = { "2" = "message" }', 'options = { "2" = "mesage" }'))
    expect_error(
        tmp_path, text, "options =", 'flow.nodes.main.options."2"', "unknown node 'mesage'"
    )
    text = edit(('entry = "main"', 'entry = "mian"'))
    expect_error(tmp_path, text, 'entry = "mian"', "flow.branches.open.entry", "Did you mean")


def test_a_menu_has_at_most_four_options(tmp_path: Path) -> None:
    many = 'options = { "2" = "message", "3" = "desk", "4" = "desk", "5" = "desk", "6" = "desk" }'
    text = edit(('options = { "2" = "message" }', many))
    expect_error(tmp_path, text, "options =", "flow.nodes.main.options", "at most 4")


@pytest.mark.parametrize(
    ("key", "message"),
    [("0", "operator key"), ("*", "repeat key"), ("1", "emergency key"), ("a", "0-9, * or #")],
)
def test_menu_option_keys_are_checked(tmp_path: Path, key: str, message: str) -> None:
    text = edit(
        ('options = { "2" = "message" }', f'options = {{ "2" = "message", "{key}" = "desk" }}')
    )
    path = format_path(("flow", "nodes", "main", "options", key))
    expect_error(tmp_path, text, "options =", path, message)


def test_the_emergency_key_is_free_in_menus_that_are_not_a_branch_entry(tmp_path: Path) -> None:
    text = edit(
        (
            "[flow.nodes.desk]",
            '[flow.nodes.sub]\ntype = "menu"\nprompt = "menu"\n'
            'options = { "1" = "message" }\non_failure = "desk"\n\n[flow.nodes.desk]',
        ),
        ('options = { "2" = "message" }', 'options = { "2" = "sub" }'),
    )
    assert load_config(write(tmp_path, text)).flow.nodes["sub"].options == {"1": "message"}


def test_a_menu_never_ends_in_a_hang_up(tmp_path: Path) -> None:
    text = edit(('on_failure = "desk"', 'on_failure = "main"'))
    expect_error(
        tmp_path,
        text,
        'on_failure = "main"',
        "flow.nodes.main.on_failure",
        "must be a frontdesk, transfer or message node",
    )


BOOKING = '[flow.nodes.book]\ntype = "booking"\nkind = "consultation"\nthen = "desk"\n\n'


def test_a_booking_node_books_in_the_agenda_and_falls_back_on_the_desk(tmp_path: Path) -> None:
    text = edit(
        ('options = { "2" = "message" }', 'options = { "2" = "message", "3" = "book" }'),
        ("[flow.nodes.desk]", BOOKING + "[flow.nodes.desk]"),
        ("[flow]\n", '[agenda]\nadapter = "builtin"\n\n[flow]\n'),
    )
    node = load_config(write(tmp_path, text)).flow.nodes["book"]
    assert (node.kind, node.then, node.reason) == ("consultation", "desk", "appointment_new")


def test_a_caller_the_agenda_cannot_serve_reaches_the_desk(tmp_path: Path) -> None:
    text = edit(
        ("[flow.nodes.desk]", BOOKING.replace('then = "desk"', 'then = "message"')
         + "[flow.nodes.desk]"),
        ("[flow]\n", '[agenda]\nadapter = "builtin"\n\n[flow]\n'),
    )
    expect_error(tmp_path, text, 'then = "message"', "flow.nodes.book.then",
                 "must be a frontdesk node")


def test_a_handoff_agenda_needs_the_callback_number_question(tmp_path: Path) -> None:
    text = edit(
        ("[flow.nodes.desk]", BOOKING + "[flow.nodes.desk]"),
        ("[flow]\n", '[agenda]\nadapter = "handoff"\n\n[flow]\n'),
    )
    expect_error(tmp_path, text, "[flow.nodes.book]", "flow.nodes.book",
                 "needs queue.callback_prompt")


def test_nobody_answering_at_the_desk_leads_to_a_message(tmp_path: Path) -> None:
    text = edit(('type = "frontdesk"\nthen = "message"', 'type = "frontdesk"\nthen = "main"'))
    expect_error(tmp_path, text, 'then = "main"', "flow.nodes.desk.then", "must be a message node")


def test_a_transfer_dials_only_a_named_outside_number(tmp_path: Path) -> None:
    node = '\n[flow.nodes.out]\ntype = "transfer"\nnumber = "0612345678"\nthen = "message"\n'
    text = BASE + node
    expect_error(
        tmp_path, text, 'number = "0612345678"', "flow.nodes.out.number", "[outside.numbers]"
    )
    ok = BASE + node.replace('"0612345678"', '"on_call"')
    assert load_config(write(tmp_path, ok)).flow.nodes["out"].number == "on_call"


def test_the_emergency_on_call_must_be_a_named_number(tmp_path: Path) -> None:
    text = edit(('prompt = "emergency"\n', 'prompt = "emergency"\non_call = "doctor"\n'))
    expect_error(tmp_path, text, 'on_call = "doctor"', "emergency.on_call", "unknown number")


def test_outside_numbers_are_digits_with_an_optional_plus(tmp_path: Path) -> None:
    text = edit(('on_call = "0639980001"', 'on_call = "06 39 98 00 01"'))
    expect_error(tmp_path, text, "on_call =", "outside.numbers.on_call", "digits")


@pytest.mark.parametrize("number", ["+4930123456", "004930123456"])
def test_international_numbers_need_permission(tmp_path: Path, number: str) -> None:
    text = edit(('on_call = "0639980001"', f'on_call = "{number}"'))
    expect_error(tmp_path, text, "on_call =", "outside.numbers.on_call", "international")
    allowed = text.replace(
        "[outside.numbers]", "[outside]\nallow_international = true\n\n[outside.numbers]"
    )
    config = load_config(write(tmp_path, allowed))
    assert config.allow_international is True


def test_a_number_with_the_practice_country_code_is_national(tmp_path: Path) -> None:
    text = edit(('on_call = "0639980001"', 'on_call = "+33639980001"'))
    assert load_config(write(tmp_path, text)).numbers["on_call"] == "+33639980001"


def test_reasons_must_be_known(tmp_path: Path) -> None:
    text = edit(
        ('type = "message"\nprompt = "menu"', 'type = "message"\nprompt = "menu"\nreason = "chat"')
    )
    expect_error(tmp_path, text, 'reason = "chat"', "flow.nodes.message.reason", "must be one of")


# -- patients always have somewhere to turn ------------------------------------------------------


def test_a_closed_branch_without_duty_number_is_refused(tmp_path: Path) -> None:
    text = edit(('duty_number = "116117"\n', ""))
    expect_error(
        tmp_path,
        text,
        "[flow.branches.closed]",
        "flow.branches.closed",
        "closed branch gives patients nowhere to turn: set duty_number",
    )


def test_an_announcement_must_say_the_duty_and_emergency_numbers(tmp_path: Path) -> None:
    text = edit(("Urgences : 15 ou 112.", "Urgences : le 15."))
    errors = expect_error(
        tmp_path,
        text,
        'announcement = "closed"',
        "flow.branches.closed.announcement",
        "closed branch gives patients nowhere to turn",
    )
    assert "112" in errors[0] and "116117" not in errors[0]


def test_numbers_are_compared_by_digits_only(tmp_path: Path) -> None:
    text = edit(("116 117", "116.117"), ('duty_number = "116117"', 'duty_number = "116117"'))
    load_config(write(tmp_path, text))
    text = edit(("116 117", "116 118"))
    expect_error(
        tmp_path, text, 'announcement = "closed"', "flow.branches.closed.announcement", "116117"
    )


def test_an_explicit_holiday_branch_must_also_give_somewhere_to_turn(tmp_path: Path) -> None:
    text = BASE + '\n[flow.branches.holiday]\nentry = "main"\n'
    expect_error(
        tmp_path, text, "[flow.branches.holiday]", "flow.branches.holiday", "nowhere to turn"
    )


def test_the_open_and_closed_branches_are_required(tmp_path: Path) -> None:
    text = edit(('[flow.branches.open]\nentry = "main"\n', ""))
    expect_error(
        tmp_path, text, "[flow.branches.closed]", "flow.branches.open", "missing required table"
    )


def test_the_emergency_prompt_must_say_every_emergency_number(tmp_path: Path) -> None:
    text = edit(("appelez le 15 ou le 112", "appelez le 15"))
    expect_error(tmp_path, text, 'prompt = "emergency"', "emergency.prompt", "never says 112")


# -- rehearsals ------------------------------------------------------------------------------


def test_rehearsal_scenarios_are_checked(tmp_path: Path) -> None:
    scenarios = (
        '\n[[rehearse]]\nname = "ok"\nwhen = "2026-12-24T10:30"\nkeys = ["2"]\nexpect = "message"\n'
        '\n[[rehearse]]\nname = "bad"\nwhen = "tomorrow"\nkeys = ["3a"]\nexpect = "mesage"\n'
    )
    text = BASE + scenarios
    errors = expect_error(
        tmp_path, text, 'when = "tomorrow"', "rehearse[1].when", "local date-time"
    )
    expect_error(tmp_path, text, 'keys = ["3a"]', "rehearse[1].keys[0]", "telephone keys")
    expect_error(
        tmp_path, text, 'expect = "mesage"', "rehearse[1].expect", "Did you mean 'message'?"
    )
    assert len(errors) == 3
    config = load_config(write(tmp_path, BASE + scenarios.split('\n[[rehearse]]\nname = "bad"')[0]))
    assert config.scenarios[0].keys == ("2",)
    assert config.scenarios[0].when == "2026-12-24T10:30"


def test_any_wrong_value_in_the_example_is_an_error_never_a_crash(example: Path) -> None:
    lines = example.read_text(encoding="utf-8").split("\n")
    for index, line in enumerate(lines):
        match = re.match(r"([A-Za-z_]\w*) = ", line)
        if match is None or line.startswith(("file =", "text =")):
            continue
        for wrong in ("[1]", '"x"', "{}"):
            broken = [*lines[:index], f"{match.group(1)} = {wrong}", *lines[index + 1 :]]
            example.write_text("\n".join(broken), encoding="utf-8")
            try:
                load_config(example)
            except ConfigError as exc:
                assert all(
                    re.match(rf"{re.escape(str(example))}:\d+: \S+: ", e) for e in exc.errors
                )


def test_a_missing_prompt_directory_is_one_error(tmp_path: Path) -> None:
    text = edit(("[prompts.hello]", '[prompts]\ndirectory = "sounds"\n\n[prompts.hello]'))
    errors = expect_error(
        tmp_path, text, 'directory = "sounds"', "prompts.directory", "directory not found"
    )
    assert len(errors) == 1


# -- files that are not a plain UTF-8 TOML text ---------------------------------------------


@pytest.mark.parametrize(
    "nested", ["[" * 100_000 + "]" * 100_000, "{ a = " * 100_000 + "1" + " }" * 100_000]
)
def test_a_value_nested_too_deeply_is_an_error_at_its_line(tmp_path: Path, nested: str) -> None:
    text = edit(("[frontdesk]\n", f"[frontdesk]\n# a [ in a comment\ndeep = {nested}\n"))

    errors = errors_of(tmp_path, text)

    line = line_of(text, "deep = ")
    assert errors == [f"{tmp_path / 'frontdesk.toml'}:{line}: syntax: arrays or inline tables "
                      "nested too deeply"]


def check_config(path: Path) -> subprocess.CompletedProcess:
    """`frontdesk check-config` as a process: a hang fails the test instead of blocking it."""
    return subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", "check-config", str(path)],
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_check_config_refuses_what_is_not_a_regular_file_without_reading_it(
    tmp_path: Path, kind: str
) -> None:
    path = {"fifo": tmp_path / "fifo.toml", "directory": tmp_path, "device": Path("/dev/zero")}[
        kind
    ]
    if kind == "fifo":
        os.mkfifo(path)

    done = check_config(path)

    assert done.returncode == 1
    assert done.stderr.startswith(f"{path}:1: file: is ")
    assert "not a regular file" in done.stderr


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    assert load_config(path).practice.name == "Cabinet de test"


def test_invalid_utf8_names_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    path.write_bytes(path.read_bytes().replace(b"Cabinet", b"Cabin\xe9t"))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    line = line_of(BASE, "Cabinet")
    assert caught.value.errors == [
        f"{path}:{line}: syntax: not valid UTF-8 (byte 0xE9 at column 14): save the file as UTF-8"
    ]


# -- values that pass the types but break calls ---------------------------------------------


def numeric_keys(value: Value = ROOT, path: tuple[str, ...] = ()) -> list[tuple[str, Int]]:
    """Every Int and Float of the schema, with where it is."""
    if isinstance(value, Int):
        return [(".".join(path), value)]
    children: list[tuple[str, Value]] = []
    if isinstance(value, Table):
        children = [*value.fields.items(), *([("*", value.extra)] if value.extra else [])]
    elif isinstance(value, Map | List):
        children = [("*", value.value if isinstance(value, Map) else value.item)]
    elif isinstance(value, Tagged):
        children = list(value.variants.items())
    return [found for key, child in children for found in numeric_keys(child, (*path, key))]


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, -1, -0.5, 10**9, 1e300])
def test_no_numeric_key_accepts_nan_infinity_a_negative_or_an_absurd_value(raw: float) -> None:
    keys = numeric_keys()
    assert len(keys) >= 30, "the walk found the schema's numbers"
    for name, kind in keys:
        issues = Issues()
        assert kind.convert(raw, ("x",), issues) is INVALID, name
        assert issues.items, name


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
def test_a_menu_timeout_of_nan_or_inf_is_an_error(tmp_path: Path, value: str) -> None:
    text = edit(('on_failure = "desk"\n', f'on_failure = "desk"\ntimeout = {value}\n'))
    expect_error(
        tmp_path, text, f"timeout = {value}", "flow.nodes.main.timeout",
        "must be a finite number, not float",
    )


@pytest.mark.parametrize(
    "file", ["menu principal.wav", "menu\tprincipal.wav", "it's.wav", "a\\b.wav", "${x}.wav"]
)
def test_a_prompt_file_name_freeswitch_would_split_is_an_error(tmp_path: Path, file: str) -> None:
    written = file.replace("\\", "\\\\").replace("\t", "\\t")
    text = edit(('file = "hello.wav"', f'file = "{written}"'))
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / file).write_bytes(b"RIFF")

    expect_error(
        tmp_path, text, f'file = "{written}"', "prompts.hello.file",
        "FreeSWITCH splits an application's arguments on spaces",
    )


def test_a_prompt_directory_with_a_space_is_an_error(tmp_path: Path) -> None:
    text = edit(("[prompts.hello]", '[prompts]\ndirectory = "my prompts"\n\n[prompts.hello]'))
    (tmp_path / "my prompts").mkdir()
    (tmp_path / "my prompts" / "hello.wav").write_bytes(b"RIFF")

    expect_error(tmp_path, text, 'directory = "my', "prompts.directory", "contains ' '")


def test_a_missing_messages_directory_is_an_error(tmp_path: Path) -> None:
    text = edit(('messages = "var/messages"', 'messages = "var/voicemail"'))
    expect_error(
        tmp_path, text, 'messages = "var/voicemail"', "storage.messages",
        f"directory not found: {tmp_path / 'var' / 'voicemail'}",
    )


NODES_ADDED = """
[flow.nodes.hours]
type = "info"
prompt = "menu"
then = "{hours_then}"

[flow.nodes.address]
type = "info"
prompt = "menu"
then = "{address_then}"

[flow.nodes.doctor]
type = "transfer"
number = "on_call"
then = "{doctor_then}"

[flow.nodes.colleague]
type = "transfer"
number = "on_call"
then = "{colleague_then}"
"""


def nodes(**then: str) -> str:
    targets = {"hours_then": "main", "address_then": "main", "doctor_then": "message",
               "colleague_then": "message", **then}
    return edit(('options = { "2" = "message" }', 'options = { "2" = "hours", "3" = "doctor" }')
                ) + NODES_ADDED.format(**targets)


@pytest.mark.parametrize(
    ("then", "at", "key", "circle"),
    [
        (
            {"hours_then": "hours"},
            'then = "hours"', "flow.nodes.hours.then", "hours (then) -> hours",
        ),
        (
            {"hours_then": "address", "address_then": "hours"},
            'then = "address"', "flow.nodes.hours.then",
            "hours (then) -> address (then) -> hours",
        ),
        (
            {"doctor_then": "colleague", "colleague_then": "doctor"},
            'then = "colleague"', "flow.nodes.doctor.then",
            "doctor (then) -> colleague (then) -> doctor",
        ),
    ],
    ids=["info to itself", "info circle", "transfer circle"],
)
def test_a_circle_a_caller_cannot_leave_without_pressing_a_key_is_an_error(
    tmp_path: Path, then: dict[str, str], at: str, key: str, circle: str
) -> None:
    errors = expect_error(tmp_path, nodes(**then), at, key, f"goes round in a circle: {circle}")
    assert len(errors) == 1, "one error per circle"


def test_a_menu_whose_failure_leads_back_to_it_is_an_error(tmp_path: Path) -> None:
    text = nodes(doctor_then="main").replace('on_failure = "desk"', 'on_failure = "doctor"')
    expect_error(
        tmp_path, text, 'on_failure = "doctor"', "flow.nodes.main.on_failure",
        "main (on_failure) -> doctor (then) -> main",
    )


def test_menus_leading_back_to_each_other_are_fine(tmp_path: Path) -> None:
    """A caller chooses to go round; pressing nothing leads to the desk."""
    assert load_config(write(tmp_path, nodes()))


def test_feedback_enabled_needs_the_question_and_known_prompts(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, BASE + '\n[feedback]\nenabled = true\nthanks_prompt = "merci"\n')
    assert any("feedback.prompt: missing: feedback is enabled" in e for e in errors), errors
    assert any("feedback.thanks_prompt: unknown prompt 'merci'" in e for e in errors), errors


def test_feedback_share_is_a_part_of_the_callers(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, BASE + "\n[feedback]\nshare = 1.5\n")
    assert any("feedback.share" in e for e in errors), errors


# -- [console] ---------------------------------------------------------------------------------

CONSOLE = "\n[console]\nenabled = true\n"
LAN = '\n[network]\nlan_ranges = ["192.168.1.0/24"]\nsip_ip = "192.168.1.10"\n'


def pem_pair(directory: Path, name: str = "console") -> tuple[Path, Path]:
    """A self-signed certificate and its key (mode 600), made as docs/console.md shows."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=frontdesk console", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    key.chmod(0o600)
    return cert, key


def test_the_console_is_off_on_loopback_by_default(tmp_path: Path) -> None:
    console = load_config(write(tmp_path, BASE)).console
    assert (console.enabled, console.listen, console.port, console.https) == (
        False, "127.0.0.1", 8480, False)


def test_a_lan_console_needs_the_lan_ranges_it_answers(tmp_path: Path) -> None:
    text = BASE + CONSOLE + 'listen = "192.168.1.10"\n'
    expect_error(tmp_path, text, 'listen = "192.168.1.10"', "console.listen",
                 "192.168.1.10 is not loopback: set [network] lan_ranges")
    assert load_config(write(tmp_path, text + LAN)).console.listen == "192.168.1.10"


@pytest.mark.parametrize("wrong", ['"box.local"', '"192.168.1"', "8480", "[1]", "{}"])
@pytest.mark.parametrize("key", ["listen", "port", "certificate", "private_key",
                                 "session_hours", "enabled"])
def test_a_wrong_console_value_is_an_error_at_its_line(tmp_path: Path, key: str,
                                                       wrong: str) -> None:
    text = BASE + CONSOLE.replace("enabled = true\n", "") + f"{key} = {wrong}\n"
    try:
        load_config(write(tmp_path, text))
    except ConfigError as exc:
        line = line_of(text, f"{key} = {wrong}")
        assert any(e.startswith(f"{tmp_path / 'frontdesk.toml'}:{line}: console.{key}: ")
                   for e in exc.errors), exc.errors


@pytest.mark.parametrize("given", ["certificate", "private_key"])
def test_https_needs_both_the_certificate_and_its_key(tmp_path: Path, given: str) -> None:
    cert, key = pem_pair(tmp_path)
    missing = ({"certificate", "private_key"} - {given}).pop()
    text = BASE + CONSOLE + f'{given} = "{cert if given == "certificate" else key}"\n'
    expect_error(tmp_path, text, "[console]", f"console.{missing}",
                 "missing: HTTPS needs both certificate and private_key")


def test_a_console_key_readable_by_others_or_unreadable_is_refused(tmp_path: Path) -> None:
    cert, key = pem_pair(tmp_path)
    text = BASE + CONSOLE + f'certificate = "{cert}"\nprivate_key = "{key}"\n'
    assert load_config(write(tmp_path, text)).console.https
    key.chmod(0o640)
    expect_error(tmp_path, text, "private_key =", "console.private_key",
                 f"{key} holds a secret but is readable or writable by its group")
    key.chmod(0o600)
    gone = text.replace(f'private_key = "{key}"', f'private_key = "{tmp_path}/nothing.key"')
    expect_error(tmp_path, gone, "private_key =", "console.private_key",
                 f"cannot read {tmp_path}/nothing.key")
    gone = text.replace(f'certificate = "{cert}"', f'certificate = "{tmp_path}/nothing.crt"')
    expect_error(tmp_path, gone, "certificate =", "console.certificate",
                 f"cannot read {tmp_path}/nothing.crt")


def test_a_certificate_and_a_key_that_are_not_a_pair_are_refused(tmp_path: Path) -> None:
    """The daemon would start without its console: check-config says so beforehand."""
    cert, _key = pem_pair(tmp_path)
    _other_cert, other_key = pem_pair(tmp_path, "other")
    text = BASE + CONSOLE + f'certificate = "{cert}"\nprivate_key = "{other_key}"\n'
    expect_error(tmp_path, text, "certificate =", "console.certificate",
                 "the certificate and private_key are not a pair HTTPS can use")
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    text = BASE + CONSOLE + f'certificate = "{tmp_path}/notes.txt"\nprivate_key = "{other_key}"\n'
    expect_error(tmp_path, text, "certificate =", "console.certificate",
                 "the certificate and private_key are not a pair HTTPS can use")


@pytest.mark.parametrize("port", [0, 80, 443, 1023, 65536])
def test_a_console_port_the_daemon_cannot_listen_on_is_refused(tmp_path: Path,
                                                               port: int) -> None:
    text = BASE + CONSOLE + f"port = {port}\n"
    errors = errors_of(tmp_path, text)
    line = line_of(text, f"port = {port}")
    assert [e for e in errors if e.startswith(f"{tmp_path / 'frontdesk.toml'}:{line}: "
                                              "console.port: ")], errors


@pytest.mark.parametrize(("section", "key", "port"), [
    ("freeswitch", "listen_port", 8084),
    ("freeswitch", "esl_port", 8021),
    ("network", "sip_port", 5060),
    ("network", "trunk_sip_port", 5080),
])
def test_a_console_port_another_part_of_the_box_uses_is_refused(
    tmp_path: Path, section: str, key: str, port: int
) -> None:
    text = BASE + LAN + CONSOLE + f"port = {port}\n"
    expect_error(tmp_path, text, f"port = {port}", "console.port",
                 f"{port} is already {section}.{key}")
    moved = {"freeswitch": ('esl_password = "s3cret-for-tests"\n',
                            f'esl_password = "s3cret-for-tests"\n{key} = 9999\n'),
             "network": ('sip_ip = "192.168.1.10"\n', f'sip_ip = "192.168.1.10"\n{key} = 9999\n')}
    old, new = moved[section]
    assert load_config(write(tmp_path, text.replace(old, new))).console.port == port
