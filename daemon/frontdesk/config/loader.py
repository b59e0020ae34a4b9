"""Read the TOML file, check it against the schema and the rules between keys, build `Config`.

Every problem is collected and reported at once, each as ``FILE:LINE: key.path: message``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import os
import re
import ssl
import stat
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import holidays

from . import schema
from ._locate import Locator, deepest_line, format_path
from ._permissions import config_file_problem, inline_secret_problem, secret_file_problem
from ._types import INVALID, KEY, Issues, did_you_mean, one_of
from .model import (
    ALPHA_LINE,
    CLOSED_STATES,
    FEATURES,
    OUTCOMES,
    OVERFLOW_ACTIONS,
    SCHEDULE_STATES,
    AgendaSettings,
    AppointmentsNode,
    BookingNode,
    Branch,
    Closure,
    Config,
    ConsoleSettings,
    DeskSettings,
    EmergencySettings,
    FeatureSettings,
    FeedbackSettings,
    FlowSettings,
    FreeswitchSettings,
    InfoNode,
    MaintenanceSettings,
    MenuNode,
    MessageNode,
    NetworkSettings,
    Node,
    PanelSettings,
    PhoneSettings,
    PracticeSettings,
    Prompt,
    QueueNode,
    QueueSettings,
    RecordingSettings,
    RemindersSettings,
    ReportSettings,
    RetentionSettings,
    Scenario,
    ScheduleSettings,
    StorageSettings,
    TimeRange,
    TransferNode,
    TrunkSettings,
)

CALLING_CODES = {
    "FR": "33",
    "BE": "32",
    "CH": "41",
    "LU": "352",
    "DE": "49",
    "GB": "44",
    "ES": "34",
    "IT": "39",
    "US": "1",
    "CA": "1",
}
"""International calling code of the countries a practice is likely to be in."""

MAX_OPTIONS = 4
_NODE_CLASSES: dict[str, type] = {
    "menu": MenuNode,
    "info": InfoNode,
    "message": MessageNode,
    "frontdesk": QueueNode,
    "transfer": TransferNode,
    "booking": BookingNode,
    "appointments": AppointmentsNode,
}
_HUMAN_OR_MESSAGE = (QueueNode, TransferNode, MessageNode)
_RECORDED = re.compile(r"enregistr|record", re.IGNORECASE)
"""What a consent prompt says, in French or English: the call is recorded."""
_UNSAFE_ARGUMENT = re.compile(r"[\s'\"\\$\x00-\x1f\x7f]")
"""Characters that break a file name in a FreeSWITCH application's arguments."""
_NUMBER_RUN = re.compile(r"\d+(?:[ .\u00a0\u202f-]\d+)*")


class ConfigError(Exception):
    """The config file cannot be used; `errors` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def load_config(
    path: str | os.PathLike[str], *, check_files: bool = True, data_directories: bool = True
) -> Config:
    """Load and validate the config file at `path`; raise `ConfigError` listing every problem.

    `check_files=False` is for tools that create the files the config names (`frontdesk prompts`):
    missing prompt files are not errors, and the ESL password file is not read (the password
    is then empty). The daemon always checks them. `data_directories=False` does not require
    the messages directory, for `frontdesk freeswitch-config`, which a staged install
    (DESTDIR) runs before the box's data directories are in their place, and for `frontdesk
    messages`, which lists what it can and says it could not read the directory.
    """
    source = Path(path)
    name = str(path)
    data = _read_regular_file(source, name)
    problem = config_file_problem(source)
    if problem is not None:
        raise ConfigError([f"{name}:1: file: {problem}"])
    text = _decode(name, data)
    raw = _parse(name, text)

    issues = Issues()
    values = schema.ROOT.convert(raw, (), issues)
    absolute = Path(os.path.abspath(source))
    config = _Builder(raw, values, issues, absolute, check_files, data_directories).build(
        absolute, hashlib.sha256(data).hexdigest()[:12]
    )
    if issues or config is None:
        locator = Locator(text)
        lines: list[tuple[int, str]] = []
        for key_path, message in issues.items:
            line = locator.line(key_path)
            entry = (line, f"{name}:{line}: {format_path(key_path) or 'file'}: {message}")
            if entry not in lines:
                lines.append(entry)
        lines.sort(key=lambda item: item[0])
        raise ConfigError([text for _, text in lines] or [f"{name}:1: file: invalid config"])
    return config


def _read_regular_file(source: Path, name: str) -> bytes:
    """The file's bytes; anything but a regular file (a FIFO, a device, a directory) is
    refused before it is opened for reading: reading a FIFO or a terminal would never end."""
    try:
        _require_regular(source.stat().st_mode, name)
        descriptor = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        with os.fdopen(descriptor, "rb") as file:
            _require_regular(os.fstat(file.fileno()).st_mode, name)  # replaced meanwhile?
            return file.read()
    except OSError as exc:
        raise ConfigError([f"{name}:1: file: cannot read: {exc.strerror or exc}"]) from None


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _require_regular(mode: int, name: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((what for test, what in _FILE_KINDS if test(mode)), "not a regular file")
    raise ConfigError(
        [f"{name}:1: file: is {kind}, not a regular file: give the path of the TOML file"]
    )


def _decode(name: str, data: bytes) -> str:
    """UTF-8 text; a leading byte-order mark (Windows editors write one) is dropped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            [
                f"{name}:{line}: syntax: not valid UTF-8 (byte 0x{data[exc.start]:02X} at "
                f"column {column}): save the file as UTF-8"
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _parse(name: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_error(name, text, exc)]) from None
    except RecursionError:
        line = deepest_line(text)
        raise ConfigError(
            [f"{name}:{line}: syntax: arrays or inline tables nested too deeply"]
        ) from None


def _syntax_error(name: str, text: str, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
    if match:
        line = int(match.group(1))
        message = message[: match.start()] + f" (column {match.group(2)})"
    else:
        line = text.count("\n") + 1
        message = re.sub(r"\s*\(at end of document\)", " (at end of file)", message)
    return f"{name}:{line}: syntax: {message}"


def digit_runs(text: str) -> set[str]:
    """Numbers a text says, digits only: "116 117" gives {"116", "117", "116117"}."""
    found: set[str] = set()
    for match in _NUMBER_RUN.finditer(text):
        parts = re.findall(r"\d+", match.group())
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                found.add("".join(parts[i:j]))
    return found


def says_number(text: str, number: str) -> bool:
    return re.sub(r"\D", "", number) in digit_runs(text)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_international(number: str, country: str) -> bool:
    """True for 00… and for +… with a calling code other than the practice country's."""
    if number.startswith("00"):
        return True
    if number.startswith("+"):
        code = CALLING_CODES.get(country)
        return code is None or not number[1:].startswith(code)
    return False


def may_dial(config: Config, digits: str) -> bool:
    """A patient's number frontdesk may call back: international ones only when allowed."""
    return config.allow_international or not is_international(digits, config.practice.country)


def caldav_url_problem(url: str) -> str | None:
    """None when frontdesk may send a password to `url`: https, or http to this box only."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"must be an http(s) URL such as https://agenda.example/dav/, not {url!r}"
    if parsed.scheme == "http" and not is_loopback(parsed.hostname):
        return (
            f"plain http sends the password in clear: use https, or http only to this box "
            f"(127.0.0.1), not {parsed.hostname!r}"
        )
    return None


def _default(cls: type, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(name)


def _make(cls: type, values: dict[str, Any], **extra: Any) -> Any:
    """Build `cls` from what is valid (keys as the file names them), or None when a required
    field is missing or invalid (that problem has already been reported)."""
    renamed = {
        f.metadata[KEY][0]: f.name for f in dataclasses.fields(cls) if f.metadata.get(KEY, ("",))[0]
    }
    kwargs = {renamed.get(k, k): v for k, v in {**values, **extra}.items()}
    for f in dataclasses.fields(cls):
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and f.name not in kwargs:
            return None
    return cls(**kwargs)


class _Builder:
    def __init__(
        self,
        raw: dict[str, Any],
        values: dict[str, Any],
        issues: Issues,
        source: Path,
        check_files: bool = True,
        data_directories: bool = True,
    ) -> None:
        self.check_files = check_files
        self.data_directories = data_directories
        self.raw = raw
        self.v = values
        self.issues = issues
        self.source = source
        self.base = source.parent
        self.add = issues.add

    def section(self, key: str) -> dict[str, Any]:
        value = self.v.get(key, {})
        return value if isinstance(value, dict) else {}

    def raw_section(self, *keys: str) -> dict[str, Any]:
        node: Any = self.raw
        for key in keys:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def resolve(self, value: str) -> Path:
        return Path(os.path.normpath(self.base / Path(value).expanduser()))

    # -- the whole file ----------------------------------------------------------------------

    def build(self, source: Path, version: str) -> Config | None:
        practice = self.practice()
        freeswitch = self.freeswitch()
        storage = self.storage()
        schedule = self.schedule()
        country = practice.country if practice else _default(PracticeSettings, "country")
        outside = {**schema.OUTSIDE.defaults(), **self.section("outside")}
        numbers = self.outside_numbers(country, outside)
        prompt_settings = {**schema.PROMPTS.defaults(), **self.section("prompts")}
        prompt_directory = self.resolve(prompt_settings["directory"])
        prompts = self.prompts(prompt_directory)
        frontdesk = _make(DeskSettings, self.section("frontdesk"))
        flow = self.flow(prompts, numbers)
        emergency = self.emergency(prompts, numbers, frontdesk, flow)
        scenarios = self.scenarios()
        queue = self.queue()
        network = self.network()
        phones = self.phones()
        trunk = self.trunk()
        features = self.features(frontdesk)
        recording = self.recording(prompts, storage)
        maintenance = self.maintenance(storage)
        panel = self.panel(frontdesk)
        agenda = self.agenda()
        if flow is not None:
            self.check_agenda_nodes(flow, agenda, queue)
        reminders = self.reminders(agenda)
        console = self.console(network, freeswitch)
        retention = self.retention()
        report = _make(ReportSettings, self.section("report"))
        feedback = self.feedback()
        if self.issues:
            return None
        # a section reader returns None only after adding an issue
        assert practice and freeswitch and storage and schedule and emergency
        assert flow and recording and maintenance and panel and console
        return Config(
            source=source,
            version=version,
            practice=practice,
            freeswitch=freeswitch,
            storage=storage,
            schedule=schedule,
            emergency=emergency,
            frontdesk=frontdesk,
            numbers=numbers,
            prompts=prompts,
            flow=flow,
            scenarios=scenarios,
            queue=queue,
            network=network,
            phones=phones,
            trunk=trunk,
            features=features,
            recording=recording,
            maintenance=maintenance,
            panel=panel,
            agenda=agenda,
            reminders=reminders,
            console=console,
            retention=retention,
            report=report,
            feedback=feedback,
            allow_international=outside["allow_international"],
            prompt_directory=prompt_directory,
            prompt_voice=prompt_settings.get("voice"),
        )

    # -- sections --------------------------------------------------------------------------

    def practice(self) -> PracticeSettings | None:
        values = dict(self.section("practice"))
        supported = holidays.list_supported_countries()
        country = values.get("country", _default(PracticeSettings, "country"))
        if country not in supported:
            hint = did_you_mean(country.upper(), supported)
            self.add(
                ("practice", "country"),
                f"{country!r} is not a country the holidays library knows "
                f"(an ISO 3166 code such as 'FR').{hint}".rstrip("."),
            )
            values.pop("country", None)
        elif "subdivision" in values:
            sub = values["subdivision"]
            try:
                holidays.country_holidays(country, subdiv=sub)
            except (NotImplementedError, KeyError, ValueError):
                self.add(
                    ("practice", "subdivision"),
                    f"must be one of {one_of(supported[country])} for {country}, not {sub!r}",
                )
                values.pop("subdivision")
        return _make(PracticeSettings, values)

    def freeswitch(self) -> FreeswitchSettings | None:
        values = dict(self.section("freeswitch"))
        raw = self.raw_section("freeswitch")
        here = ("freeswitch",)
        password: str | None = None
        if "esl_password" in raw and "esl_password_file" in raw:
            self.add(
                here + ("esl_password_file",),
                "set either esl_password or esl_password_file, not both",
            )
        elif "esl_password_file" in raw:
            if "esl_password_file" in values and not self.check_files:
                values.pop("esl_password_file")
                password = ""
            elif "esl_password_file" in values:
                file = self.resolve(values.pop("esl_password_file"))
                try:
                    password = file.read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    self.add(here + ("esl_password_file",), f"cannot read {file}: {reason}")
                else:
                    self.check_password(password, here + ("esl_password_file",), f"in {file} ")
                    problem = secret_file_problem(file)
                    if problem is not None:
                        self.add(here + ("esl_password_file",), problem)
        elif "esl_password" in raw:
            password = values.pop("esl_password", None)
            if password is not None:
                self.check_password(password, here + ("esl_password",), "")
                problem = inline_secret_problem(self.source) if self.check_files else None
                if problem is not None:
                    self.add(here + ("esl_password",), problem)
        elif raw or "freeswitch" in self.raw:
            self.add(
                here + ("esl_password",),
                "missing: set esl_password, or esl_password_file naming a file that holds it "
                "(the password of FreeSWITCH's event socket)",
            )
        allow = values.get("allow_remote_esl", _default(FreeswitchSettings, "allow_remote_esl"))
        for key in ("esl_host", "listen_host"):
            host = values.get(key, _default(FreeswitchSettings, key))
            if not allow and not is_loopback(host):
                self.add(
                    here + (key,),
                    f"must be a loopback address (127.0.0.1, ::1 or localhost), not {host!r}: "
                    "the event socket is unencrypted; set allow_remote_esl = true to allow it",
                )
        if password is None:
            return None
        return _make(FreeswitchSettings, values, esl_password=password)

    def check_password(self, password: str, path: tuple[str, ...], where: str) -> None:
        if not password:
            self.add(path, f"the password {where}must not be empty")
        elif password.lower() == "cluecon":
            self.add(
                path,
                f"the password {where}is FreeSWITCH's well-known default 'ClueCon': "
                "choose your own (and set it in event_socket.conf.xml)",
            )

    def storage(self) -> StorageSettings | None:
        values = {k: self.resolve(v) for k, v in self.section("storage").items()}
        if "database" in values:  # spoken sentences are rendered next to it
            self.check_argument(str(values["database"].parent), ("storage", "database"))
        messages = values.get("messages")
        if messages is not None:
            self.check_argument(str(messages), ("storage", "messages"))
            if self.check_files and self.data_directories and not messages.is_dir():
                self.add(
                    ("storage", "messages"),
                    f"directory not found: {messages} (FreeSWITCH records the callers' "
                    "messages there and creates no directory: create it, writable by FreeSWITCH)",
                )
        return _make(StorageSettings, values)

    def check_argument(self, text: str, path: tuple[Any, ...]) -> None:
        """`text` goes into a FreeSWITCH application's arguments (a file to play or record)."""
        bad = sorted(set(_UNSAFE_ARGUMENT.findall(text)))
        if bad:
            shown = ", ".join(repr(char) for char in bad)
            self.add(
                path,
                f"{text!r} contains {shown}: FreeSWITCH splits an application's arguments on "
                "spaces (play_and_get_digits, record) and reads quotes, backslashes and $ "
                "itself; rename it with letters, digits, '-', '_' and '.' only",
            )

    def recording(
        self, prompts: dict[str, Prompt], storage: StorageSettings | None
    ) -> RecordingSettings | None:
        values = dict(self.section("recording"))
        here = ("recording",)
        given = self.raw_section("recording")
        self.check_prompt(values.get("consent_prompt"), here + ("consent_prompt",))
        if values.get("enabled"):
            for key, what in (
                ("purpose", "a sentence saying why calls are recorded"),
                ("consent_prompt", "the prompt telling callers the call is recorded"),
                ("retention_days", "how many days recordings are kept"),
            ):
                if key not in given:
                    self.add(here + (key,), f"missing: recording is enabled, set {what}")
            consent = prompts.get(values.get("consent_prompt", ""))
            if consent is not None and not _RECORDED.search(consent.text):
                self.add(
                    here + ("consent_prompt",),
                    f"the text of prompt {consent.name!r} must tell callers that the call is "
                    "recorded (say 'enregistré' or 'recorded')",
                )
        recording = self.data_directory(
            values, "directory", "recordings", storage, RecordingSettings
        )
        if "directory" in given and recording is not None:
            self.check_argument(str(recording.directory), here + ("directory",))
        return recording

    def maintenance(self, storage: StorageSettings | None) -> MaintenanceSettings | None:
        values = dict(self.section("maintenance"))
        if "daily_at" in values:
            values["daily_at"] = dt.time.fromisoformat(values["daily_at"])
        return self.data_directory(
            values, "backup_directory", "backups", storage, MaintenanceSettings
        )

    def panel(self, frontdesk: DeskSettings | None) -> PanelSettings | None:
        values = dict(self.section("panel"))
        here = ("panel",)
        if values.get("enabled") and not values.get("port"):
            self.add(here + ("port",), "missing: the panel is enabled, set its serial port")
        if values.get("driver") == "alpha":
            values = {**ALPHA_LINE, **values}
        for kind in ("waiting", "wait"):
            amber = values.get(f"amber_{kind}", _default(PanelSettings, f"amber_{kind}"))
            red = values.get(f"red_{kind}", _default(PanelSettings, f"red_{kind}"))
            if red < amber:
                self.add(here + (f"red_{kind}",), f"must not be below amber_{kind} ({amber})")
        away = values.get("away_extension")
        if away is not None and frontdesk is not None and away not in frontdesk.extensions:
            self.add(
                here + ("away_extension",),
                f"{away!r} is not one of [frontdesk] extensions "
                f"({', '.join(frontdesk.extensions)})",
            )
        return _make(PanelSettings, values)

    def agenda(self) -> AgendaSettings | None:
        if "agenda" not in self.raw:
            return None
        values = dict(self.section("agenda"))
        here = ("agenda",)
        if values.get("adapter") == "caldav":
            for name in ("caldav_url", "caldav_username", "caldav_password_file"):
                if name not in self.raw_section("agenda"):
                    self.add(here + (name,), "missing: the agenda is on a CalDAV server, set it")
        if "caldav_url" in values:
            problem = caldav_url_problem(values["caldav_url"])
            if problem is not None:
                self.add(here + ("caldav_url",), problem)
        if "caldav_password_file" in values:
            file = values["caldav_password_file"] = self.resolve(values["caldav_password_file"])
            if self.check_files:
                self.check_secret_file(file, here + ("caldav_password_file",))
        return _make(AgendaSettings, values)

    def check_agenda_nodes(
        self, flow: FlowSettings, agenda: AgendaSettings | None, queue: QueueSettings
    ) -> None:
        """Without an agenda to book in (hand-off), a caller's request is stored with the
        number to call back, confirmed as for a callback: that needs [queue] callback_prompt."""
        if agenda is not None and agenda.adapter != "handoff":
            return
        for node in flow.nodes.values():
            if isinstance(node, BookingNode | AppointmentsNode) and queue.callback_prompt is None:
                self.add(
                    ("flow", "nodes", node.name),
                    "needs queue.callback_prompt: with the hand-off agenda (or no [agenda]) the "
                    "caller confirms the number the desk calls back on",
                )

    def reminders(self, agenda: AgendaSettings | None) -> RemindersSettings:
        values = self.section("reminders")
        here = ("reminders",)
        if values.get("enabled"):
            if agenda is None and "agenda" not in self.raw:
                self.add(here + ("enabled",), "reminder calls need an [agenda] section")
            elif agenda is not None and agenda.adapter == "handoff":
                self.add(here + ("enabled",),
                         "reminder calls need an agenda that can be read: [agenda] adapter "
                         "'builtin' or 'caldav', not 'handoff'")
            if "trunk" not in self.raw:
                self.add(here + ("enabled",),
                         "reminder calls go out through the trunk: set [trunk] (its caller_id "
                         "is the number patients see)")
            if values.get("window") == ():
                self.add(here + ("window",), "must not be empty: calls are placed only there")
        return RemindersSettings(**values)

    def retention(self) -> RetentionSettings:
        values = dict(self.section("retention"))
        records = values.get("call_records_days", _default(RetentionSettings, "call_records_days"))
        if values.setdefault("messages_open_days", records) > records:
            self.add(("retention", "messages_open_days"),
                     f"must not exceed call_records_days ({records}): a message goes with its "
                     "call's record at the latest")
        return RetentionSettings(**values)

    def console(self, network: NetworkSettings | None,
                freeswitch: FreeswitchSettings | None) -> ConsoleSettings | None:
        values = dict(self.section("console"))
        here = ("console",)
        self.check_console_port(values.get("port", _default(ConsoleSettings, "port")),
                                network, freeswitch)
        listen = values.get("listen", _default(ConsoleSettings, "listen"))
        if not ipaddress.ip_address(listen).is_loopback and (
            network is None or "network" not in self.raw
        ):
            self.add(here + ("listen",),
                     f"{listen} is not loopback: set [network] lan_ranges, the only addresses "
                     "the console then answers")
        given = [name for name in ("certificate", "private_key") if name in values]
        if len(given) == 1:
            missing = ({"certificate", "private_key"} - set(given)).pop()
            self.add(here + (missing,), "missing: HTTPS needs both certificate and private_key")
        token = ["metrics_token_file"] if "metrics_token_file" in values else []
        for name in given + token:
            file = values[name] = self.resolve(values[name])
            if not self.check_files:
                continue
            if name in ("private_key", "metrics_token_file"):
                self.check_secret_file(file, here + (name,))
            elif not os.access(file, os.R_OK):
                self.add(here + (name,), f"cannot read {file}")
        unusable = any(path[:1] == here for path, _message in self.issues.items)
        if len(given) == 2 and self.check_files and not unusable:
            self.check_tls_pair(values["certificate"], values["private_key"])
        return _make(ConsoleSettings, values)

    def feedback(self) -> FeedbackSettings:
        values = self.section("feedback")
        here = ("feedback",)
        for name in ("prompt", "thanks_prompt"):
            self.check_prompt(values.get(name), here + (name,))
        if values.get("enabled") and values.get("prompt") is None:
            self.add(here + ("prompt",), "missing: feedback is enabled, set the question's prompt")
        return FeedbackSettings(**values)

    def check_console_port(self, port: int, network: NetworkSettings | None,
                           freeswitch: FreeswitchSettings | None) -> None:
        """The console's port must be one the daemon may listen on (it runs without
        privileges) and no other part of the box listens on."""
        path = ("console", "port")
        if port is INVALID:
            return
        if port < UNPRIVILEGED_PORTS:
            self.add(path, f"must be {UNPRIVILEGED_PORTS} or more, not {port}: the daemon runs "
                     "without privileges and cannot listen below it")
            return
        taken = {
            "freeswitch.listen_port": freeswitch and freeswitch.listen_port,
            "freeswitch.esl_port": freeswitch and freeswitch.esl_port,
            "network.sip_port": network and network.sip_port,
            "network.trunk_sip_port": network and network.trunk_sip_port,
        }
        for key, used in taken.items():
            if used == port:
                self.add(path, f"{port} is already {key}: choose another port (8480)")

    def check_tls_pair(self, certificate: Path, private_key: Path) -> None:
        """What the daemon does at start: load both into a TLS context."""
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certificate, private_key)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            self.add(("console", "certificate"),
                     f"the certificate and private_key are not a pair HTTPS can use: {error}")

    def check_secret_file(self, file: Path, path: tuple[str, ...]) -> None:
        """A secrets file must be readable, not empty, and readable by its owner only."""
        try:
            secret = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.add(path, f"cannot read {file}: {reason}")
            return
        if not secret:
            self.add(path, f"{file} is empty")
        problem = secret_file_problem(file)
        if problem is not None:
            self.add(path, problem)

    def data_directory(
        self,
        values: dict[str, Any],
        key: str,
        default: str,
        storage: StorageSettings | None,
        cls: type,
    ) -> Any:
        """Build `cls` with its directory `key` resolved, by default `default` next to the
        database (the daemon's only writable place)."""
        if key in values:
            values[key] = self.resolve(values[key])
        elif storage is not None:
            values[key] = storage.database.parent / default
        return _make(cls, values)

    def schedule(self) -> ScheduleSettings | None:
        values = self.section("schedule")
        week = {index: values.get(day, ()) for index, day in enumerate(schema.DAYS)}
        week = {day: tuple(TimeRange(a, b) for a, b in ranges) for day, ranges in week.items()}
        closures = []
        for index, item in enumerate(values.get("closures", ())):
            if item is INVALID or "from" not in item or "to" not in item:
                continue
            if item["to"] < item["from"]:
                self.add(
                    ("schedule", "closures", index, "to"),
                    f"must not be before from ({item['to']} is before {item['from']})",
                )
                continue
            closures.append(_make(Closure, item))
        extra = {}
        if "public_holidays" in values:
            extra["public_holidays"] = values["public_holidays"]
        return ScheduleSettings(week=week, closures=tuple(closures), **extra)

    def outside_numbers(self, country: str, outside: dict[str, Any]) -> dict[str, str]:
        numbers = dict(outside.get("numbers", {}))
        if not outside["allow_international"]:
            for name, number in numbers.items():
                if is_international(number, country):
                    self.add(
                        ("outside", "numbers", name),
                        f"{number!r} is an international number (practice country {country}): "
                        "set outside.allow_international = true to allow it",
                    )
        return numbers

    def prompts(self, directory: Path) -> dict[str, Prompt]:
        values = self.section("prompts")
        check_files = self.check_files
        if check_files and not directory.is_dir():
            self.add(("prompts", "directory"), f"directory not found: {directory}")
            check_files = False  # one error rather than one per prompt
        self.check_argument(str(directory), ("prompts", "directory"))
        prompts = {}
        for name, entry in values.items():
            if name in schema.PROMPT_SETTINGS or "file" not in entry or "text" not in entry:
                continue
            file = entry["file"]
            self.check_argument(file, ("prompts", name, "file"))
            path = None
            if "://" not in file:
                path = Path(os.path.normpath(directory / file))
                if check_files and not path.is_file():
                    self.add(("prompts", name, "file"), f"file not found: {path}")
            prompts[name] = Prompt(name=name, file=file, text=entry["text"], path=path)
        return prompts

    # -- references ------------------------------------------------------------------------

    def declared(self, *keys: str) -> set[str]:
        return set(self.raw_section(*keys))

    def check_prompt(self, name: str | None, path: tuple[Any, ...]) -> None:
        known = self.declared("prompts") - set(schema.PROMPT_SETTINGS)
        if name is not None and name not in known:
            self.add(path, f"unknown prompt {name!r}.{did_you_mean(name, known)}".rstrip("."))

    def check_node(self, name: str | None, path: tuple[Any, ...]) -> bool:
        known = self.declared("flow", "nodes")
        if name is not None and name not in known:
            self.add(path, f"unknown node {name!r}.{did_you_mean(name, known)}".rstrip("."))
            return False
        return name is not None

    def check_number(self, name: str | None, path: tuple[Any, ...]) -> None:
        known = self.declared("outside", "numbers")
        if name is not None and name not in known:
            hint = did_you_mean(name, known)
            self.add(
                path,
                f"unknown number {name!r}: it must be a name in [outside.numbers].{hint}".rstrip(
                    "."
                ),
            )

    # -- flow --------------------------------------------------------------------------------

    def flow(self, prompts: dict[str, Prompt], numbers: dict[str, str]) -> FlowSettings | None:
        values = dict(self.section("flow"))
        for key in ("greeting", "goodbye", "invalid", "no_choice"):
            self.check_prompt(values.get(key), ("flow", key))
        operator = values.get("operator_key", _default(FlowSettings, "operator_key"))
        repeat = values.get("repeat_key", _default(FlowSettings, "repeat_key"))
        if operator == repeat:
            self.add(("flow", "repeat_key"), f"must differ from operator_key ({operator!r})")
        nodes = self.nodes(values.pop("nodes", {}), operator, repeat)
        branches = self.branches(values.pop("branches", {}), nodes, prompts)
        return _make(FlowSettings, values, nodes=nodes, branches=branches)

    def nodes(self, raw_nodes: dict[str, Any], operator: str, repeat: str) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for name, (kind, values) in raw_nodes.items():
            node = _make(_NODE_CLASSES[kind], values, name=name)
            if node is not None:
                nodes[name] = node
        for name, (_kind, values) in raw_nodes.items():
            here = ("flow", "nodes", name)
            for key in ("prompt", "invalid_prompt", "no_choice_prompt", "thanks_prompt"):
                self.check_prompt(values.get(key), here + (key,))
            if "then" in values:
                self.check_node(values["then"], here + ("then",))
            if "number" in values:
                self.check_number(values["number"], here + ("number",))
            node = nodes.get(name)
            if isinstance(node, MenuNode):
                self.check_menu(node, operator, repeat, nodes)
            if isinstance(node, QueueNode):
                target = nodes.get(node.then)
                if target is not None and not isinstance(target, MessageNode):
                    self.add(
                        here + ("then",),
                        f"must be a message node (when nobody answers the caller can leave a "
                        f"message), not {_kind_of(target)} node {node.then!r}",
                    )
            if isinstance(node, BookingNode | AppointmentsNode):
                target = nodes.get(node.then)
                if target is not None and not isinstance(target, QueueNode):
                    self.add(
                        here + ("then",),
                        f"must be a frontdesk node (a caller the agenda cannot serve reaches "
                        f"the desk), not {_kind_of(target)} node {node.then!r}",
                    )
        self.check_circles(nodes)
        return nodes

    def check_circles(self, nodes: dict[str, Node]) -> None:
        """A caller who presses nothing follows one way out of each node (`_unattended_next`):
        a circle of those ways is a caller kept going round for ever, never reaching a human
        or the end of the call (info nodes leading to each other, transfers failing over to
        each other, a menu whose failure leads back to it)."""
        reported: set[str] = set()
        for start in nodes:
            circle: list[str] = []
            name: str | None = start
            while name is not None and name not in circle and name not in reported:
                circle.append(name)
                name = _unattended_next(nodes.get(name))
            reported.update(circle)
            if name is None or name not in circle:
                continue
            circle = circle[circle.index(name):]
            first = nodes[circle[0]]
            key = _unattended_key(first)
            if key is None:  # a node of a circle always has the key that continues it
                continue
            route = " -> ".join(f"{n} ({_unattended_key(nodes[n])})" for n in circle)
            self.add(
                ("flow", "nodes", first.name, key),
                f"goes round in a circle: {route} -> {first.name}: a caller who presses nothing "
                "never reaches a human or the end of the call; end the circle with a "
                "frontdesk or message node (or an info node without then)",
            )

    def check_menu(self, node: MenuNode, operator: str, repeat: str, nodes: dict[str, Node]):
        here = ("flow", "nodes", node.name)
        if len(node.options) > MAX_OPTIONS:
            self.add(
                here + ("options",),
                f"has {len(node.options)} options: at most {MAX_OPTIONS} a level "
                "(callers cannot keep more in mind); move some into a submenu",
            )
        for key, target in node.options.items():
            if key == operator:
                self.add(
                    here + ("options", key),
                    f"key {key!r} is the operator key (flow.operator_key): "
                    "it always reaches someone and cannot be a menu option",
                )
            elif key == repeat:
                self.add(
                    here + ("options", key),
                    f"key {key!r} is the repeat key (flow.repeat_key) and cannot be a menu option",
                )
            self.check_node(target, here + ("options", key))
        if self.check_node(node.on_failure, here + ("on_failure",)):
            last = nodes.get(node.on_failure)
            if last is not None and not isinstance(last, _HUMAN_OR_MESSAGE):
                self.add(
                    here + ("on_failure",),
                    "must be a frontdesk, transfer or message node (after the last failed try "
                    "the caller reaches a human or can leave a message, never a hang-up), "
                    f"not {_kind_of(last)} node {node.on_failure!r}",
                )

    def branches(
        self, values: dict[str, Any], nodes: dict[str, Node], prompts: dict[str, Prompt]
    ) -> dict[str, Branch]:
        branches: dict[str, Branch] = {}
        for state in SCHEDULE_STATES:
            if state in values:
                branch = _make(Branch, values[state], state=state)
                if branch is not None:
                    branches[state] = branch
        for state, branch in branches.items():
            here = ("flow", "branches", state)
            self.check_node(branch.entry, here + ("entry",))
            self.check_prompt(branch.announcement, here + ("announcement",))
            if state in CLOSED_STATES:
                self.check_closed_branch(branch, prompts)
        for state in SCHEDULE_STATES:
            if state not in branches and state not in ("open", "closed") and "closed" in branches:
                branches[state] = dataclasses.replace(branches["closed"], state=state)
        return branches

    def check_closed_branch(self, branch: Branch, prompts: dict[str, Prompt]) -> None:
        here = ("flow", "branches", branch.state)
        lead = "closed branch gives patients nowhere to turn"
        missing = [
            key
            for key, value in (
                ("announcement", branch.announcement),
                ("duty_number", branch.duty_number),
                ("emergency_numbers", branch.emergency_numbers),
            )
            if not value
        ]
        if missing:
            self.add(
                here,
                f"{lead}: set {' and '.join(missing)} (an announcement giving the duty number, "
                "e.g. 116117 for the duty GP, and the emergency numbers 15 and 112)",
            )
            return
        prompt = prompts.get(branch.announcement or "")
        if prompt is None:
            return
        unsaid = [n for n in (branch.duty_number, *branch.emergency_numbers) if n]
        unsaid = [n for n in unsaid if not says_number(prompt.text, n)]
        if unsaid:
            self.add(
                here + ("announcement",),
                f"{lead}: the text of prompt {prompt.name!r} never says "
                f"{', '.join(unsaid)} (it must give the duty number and every emergency number)",
            )

    # -- emergency and rehearsals -------------------------------------------------------------

    def emergency(
        self,
        prompts: dict[str, Prompt],
        numbers: dict[str, str],
        frontdesk: DeskSettings | None,
        flow: FlowSettings | None,
    ) -> EmergencySettings | None:
        values = dict(self.section("emergency"))
        here = ("emergency",)
        self.check_prompt(values.get("prompt"), here + ("prompt",))
        self.check_number(values.get("on_call"), here + ("on_call",))
        said = values.get("numbers", _default(EmergencySettings, "numbers"))
        prompt = prompts.get(values.get("prompt", ""))
        if prompt is not None:
            unsaid = [n for n in said if not says_number(prompt.text, n)]
            if unsaid:
                self.add(
                    here + ("prompt",),
                    f"the text of prompt {prompt.name!r} never says {', '.join(unsaid)} "
                    "(it must give every emergency number)",
                )
        key = values.get("key")
        flow_values = self.section("flow")
        for other in ("operator_key", "repeat_key"):
            if key is not None and key == flow_values.get(other, _default(FlowSettings, other)):
                self.add(here + ("key",), f"must differ from flow.{other} ({key!r})")
        if key is not None and flow is not None:
            self.check_entry_menus(key, flow)
        if "extensions" not in values and frontdesk is not None:
            values["extensions"] = frontdesk.extensions
        return _make(EmergencySettings, values)

    def check_entry_menus(self, key: str, flow: FlowSettings) -> None:
        explicit = set(self.raw_section("flow", "branches"))
        by_menu: dict[str, list[str]] = {}
        for state, branch in flow.branches.items():
            node = flow.nodes.get(branch.entry)
            if state in explicit and isinstance(node, MenuNode) and key in node.options:
                by_menu.setdefault(node.name, []).append(state)
        for name, states in by_menu.items():
            self.add(
                ("flow", "nodes", name, "options", key),
                f"key {key!r} is the emergency key (emergency.key), active in the greeting and "
                f"in this first menu of branch {', '.join(states)}: choose another key",
            )

    def queue(self) -> QueueSettings:
        values = self.section("queue")
        for key in ("announce_prompt", "nobody_prompt", "callback_prompt",
                    "callback_thanks_prompt"):
            self.check_prompt(values.get(key), ("queue", key))
        numbers = self.declared("outside", "numbers")
        for key in ("on_max_wait", "on_max_length", "on_nobody"):
            action = values.get(key)
            if action is not None and action not in OVERFLOW_ACTIONS and action not in numbers:
                hint = did_you_mean(action, [*OVERFLOW_ACTIONS, *numbers])
                self.add(
                    ("queue", key),
                    f"must be {one_of(OVERFLOW_ACTIONS)} or a name in [outside.numbers], "
                    f"not {action!r}.{hint}".rstrip("."),
                )
            elif action == "callback" and "callback_key" not in values:
                self.add(("queue", key), "'callback' needs queue.callback_key")
        if "callback_key" in values and "callback_prompt" not in values:
            self.add(("queue", "callback_prompt"),
                     "missing: callback_key is set, so the caller must be asked to confirm "
                     "their number (a prompt name)")
        return QueueSettings(**values)

    def scenarios(self) -> tuple[Scenario, ...]:
        out = []
        nodes = self.declared("flow", "nodes")
        seen: set[str] = set()
        for index, item in enumerate(self.v.get("rehearse", ())):
            if item is INVALID:
                continue
            here: tuple[Any, ...] = ("rehearse", index)
            when = item.get("when")
            if when is not None and when not in SCHEDULE_STATES and not _local_datetime(when):
                self.add(
                    here + ("when",),
                    f"must be one of {one_of(SCHEDULE_STATES)} or a local date-time like "
                    f"'2026-12-24T10:30', not {when!r}",
                )
            expect = item.get("expect")
            if expect is not None and expect not in nodes and expect not in OUTCOMES:
                hint = did_you_mean(expect, [*nodes, *OUTCOMES])
                self.add(
                    here + ("expect",),
                    f"must be a node name or an outcome ({one_of(OUTCOMES)}), "
                    f"not {expect!r}.{hint}".rstrip("."),
                )
            name = item.get("name")
            if name in seen:
                self.add(here + ("name",), f"another scenario is already named {name!r}")
            seen.add(name)
            scenario = _make(Scenario, item)
            if scenario is not None:
                out.append(scenario)
        return tuple(out)

    # -- the appliance: network, phones, trunk, feature codes ---------------------------------

    def network(self) -> NetworkSettings | None:
        values = self.section("network")
        here = ("network",)
        ranges = [ipaddress.ip_network(r) for r in values.get("lan_ranges", ())]
        sip_ip = values.get("sip_ip")
        if ranges and sip_ip and not any(ipaddress.ip_address(sip_ip) in r for r in ranges):
            self.add(
                here + ("sip_ip",),
                f"{sip_ip} is in none of network.lan_ranges "
                f"({', '.join(map(str, ranges))}): the desk phones could not reach it",
            )
        ports = [values.get(key, _default(NetworkSettings, key)) for key in _SIP_PORTS]
        if ports[0] == ports[1]:
            self.add(here + (_SIP_PORTS[1],), f"must differ from network.sip_port ({ports[0]})")
        return _make(NetworkSettings, values)

    def phones(self) -> PhoneSettings | None:
        return _make(PhoneSettings, self.with_path(self.section("phones"), "password_file"))

    def trunk(self) -> TrunkSettings | None:
        return _make(TrunkSettings, self.with_path(self.section("trunk"), "password_file"))

    def with_path(self, values: dict[str, Any], key: str) -> dict[str, Any]:
        """`values` with its file name `key` resolved against the config's directory."""
        return {k: self.resolve(v) if k == key else v for k, v in values.items()}

    def features(self, frontdesk: DeskSettings | None) -> FeatureSettings | None:
        if "features" not in self.raw:
            return None
        values = dict(self.section("features"))
        here = ("features",)
        for f in dataclasses.fields(FeatureSettings):
            if f.name.endswith("_prompt"):
                self.check_prompt(values.get(f.name), here + (f.name,))
        seen: dict[str, str] = {}
        for feature in FEATURES:
            code = values.get(feature, _default(FeatureSettings, feature))
            if code in seen:
                self.add(here + (feature,), f"{code!r} is already features.{seen[code]}")
            seen[code] = feature
        if "extensions" not in values and frontdesk is not None:
            values["extensions"] = frontdesk.extensions
        return _make(FeatureSettings, values)


_SIP_PORTS = ("sip_port", "trunk_sip_port")
UNPRIVILEGED_PORTS = 1024
"""The lowest port the daemon may listen on: its unit grants it no capability."""


def _local_datetime(text: str) -> bool:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return value.tzinfo is None and "T" in text


def _unattended_next(node: Node | None) -> str | None:
    """Where a caller who presses nothing goes after `node`; None: the call ends there (or it
    reaches a human, or a message node)."""
    key = _unattended_key(node) if node is not None else None
    return getattr(node, key) if key is not None else None


def _unattended_key(node: Node) -> str | None:
    if isinstance(node, MenuNode):
        return "on_failure"
    if isinstance(node, InfoNode | TransferNode):
        return "then"
    return None  # a message ends the call; a frontdesk node reaches a human or a message


def _kind_of(node: Node) -> str:
    for kind, cls in _NODE_CLASSES.items():
        if isinstance(node, cls):
            return kind
    return type(node).__name__
