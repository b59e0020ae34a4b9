"""The typed, validated settings the rest of the daemon reads.

`frontdesk.config.load_config` turns the TOML file into these frozen dataclasses; nothing else
in the daemon looks at the TOML. A call keeps the `Config` object it started with, so a reload
never changes a call in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

SCHEDULE_STATES = ("open", "lunch", "closed", "holiday", "closure")
"""Every state the schedule can be in; each one has a branch of the flow."""

CLOSED_STATES = ("closed", "holiday", "closure")
"""States in which nobody is at the desk: their branch must tell patients where to turn."""

OVERRIDE_MODES = ("open", "lunch", "closed")

REASONS = (
    "appointment_new",
    "appointment_change",
    "prescription",
    "results",
    "information",
    "emergency",
    "speak_to_someone",
    "other",
)
"""Contact reasons a node can record (the request types of the menu)."""


OUTCOMES = (
    "information",
    "message",
    "answered",
    "transferred",
    "emergency_answered",
    "emergency_transferred",
    "emergency_information",
    "voicemail",
    "callback",
    "abandoned",
    "interrupted",
    "failed",
    "fallback",
)
"""How a call ended, as stored in its record ("fallback": the daemon never served it and
FreeSWITCH's static fallback took it)."""


@dataclass(frozen=True)
class Prompt:
    """An audio prompt: a local WAV file (or a FreeSWITCH stream URL) and the words it says."""

    name: str
    file: str
    text: str
    path: Path | None = None
    """Resolved local file; None for FreeSWITCH URLs such as ``tone_stream://`` or ``silence_stream://``."""

    @property
    def uri(self) -> str:
        """What FreeSWITCH is asked to play."""
        return str(self.path) if self.path is not None else self.file


@dataclass(frozen=True)
class PracticeSettings:
    name: str
    language: str = "fr"
    timezone: str = "Europe/Paris"
    country: str = "FR"
    subdivision: str | None = None


@dataclass(frozen=True)
class FreeswitchSettings:
    esl_password: str = field(repr=False)
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    allow_remote_esl: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = 8084
    domain: str = "127.0.0.1"
    """SIP domain of the staff extensions: a desk phone is dialled as ``user/EXT@domain``."""
    gateway: str = "trunk"
    """Sofia gateway that reaches outside numbers: ``sofia/gateway/<gateway>/<number>``."""
    heartbeat_timeout: float = 40.0
    reconnect_max_delay: float = 30.0
    command_timeout: float = 5.0
    max_calls: int = 300
    """Calls taken at once; one more is handed back to FreeSWITCH's dialplan fallback. Each
    call holds one file descriptor: keep it well under the daemon's LimitNOFILE."""
    application_timeout: float = 300.0
    """Seconds an application (a playback...) may take beyond its own known duration (a
    record's maximum, a menu's timeout); past it the call is handed to the dialplan fallback."""


@dataclass(frozen=True)
class NetworkSettings:
    """The practice LAN, for the FreeSWITCH configuration `frontdesk freeswitch-config` writes."""

    lan_ranges: tuple[str, ...]
    """CIDR ranges the desk phones may register and call from (the SIP ACL)."""
    sip_ip: str
    """This box's LAN address: SIP and RTP for the desk phones and the trunk."""
    sip_port: int = 5060
    """SIP port of the desk phones' profile."""
    trunk_sip_port: int = 5080
    """SIP port of the trunk's profile."""


@dataclass(frozen=True)
class PhoneSettings:
    password_file: Path
    """Secrets file, one ``EXT=password`` a line: the SIP passwords of the desk phones."""
    names: dict[str, str] = field(default_factory=dict)
    """Extension -> name shown on the other phones (and extra phones the flow never rings)."""


@dataclass(frozen=True)
class TrunkSettings:
    """The operator's SIP trunk; its sofia gateway is named by [freeswitch] gateway."""

    proxy: str
    username: str
    password_file: Path
    """Secrets file holding the trunk password (only its content, on one line)."""
    caller_id: str
    """The practice's number (DID), presented on calls frontdesk places through the trunk."""
    realm: str | None = None
    """Default: the proxy's host."""
    register: bool = True


FEATURES = ("login", "logout", "override")
"""What a feature code dialled from a desk phone does."""


@dataclass(frozen=True)
class FeatureSettings:
    """Codes dialled from the staff's desk phones; FreeSWITCH sends them to the daemon."""

    extensions: tuple[str, ...]
    """Phones allowed to use them (default: the front desk's)."""
    login_prompt: str
    logout_prompt: str
    open_prompt: str
    closed_prompt: str
    schedule_prompt: str
    """Said after the override was cleared: the schedule applies again."""
    refused_prompt: str
    login: str = "*50"
    logout: str = "*51"
    override: str = "*60"
    """Toggles the manual override: the opposite of the schedule's state, or back to it."""

    @property
    def codes(self) -> dict[str, str]:
        """Code -> feature (one of FEATURES)."""
        return {getattr(self, feature): feature for feature in FEATURES}


@dataclass(frozen=True)
class StorageSettings:
    database: Path
    messages: Path
    """Directory where FreeSWITCH records callers' messages (on the same box)."""


@dataclass(frozen=True)
class RecordingSettings:
    """Recording of the conversations callers have with the staff; off unless turned on."""

    enabled: bool = False
    purpose: str = ""
    """Why calls are recorded (a sentence), stored with each recording."""
    consent_prompt: str | None = None
    """Prompt played right after the greeting; its text says the call is recorded."""
    retention_days: int = 0
    """Recordings older than this are deleted by the daily job."""
    directory: Path = Path("/var/lib/frontdesk/recordings")
    """Where FreeSWITCH writes them (default: ``recordings`` next to the database)."""


@dataclass(frozen=True)
class MaintenanceSettings:
    """The daemon's daily jobs: recordings past retention purged, database backed up."""

    daily_at: time = time(3, 30)
    """Local time of the practice at which they run."""
    backup_directory: Path = Path("/var/lib/frontdesk/backups")
    """Default: ``backups`` next to the database."""
    backups_kept: int = 7


PANEL_DRIVERS = ("frontdesk", "alpha")
"""The serial protocols the desk panel can speak (docs/panel-protocol.md): ours, or the Alpha
Sign Communications Protocol of the LED message signs sold as call-centre wallboards."""


@dataclass(frozen=True)
class PanelSettings:
    """The desk status panel on a serial line (frontdesk.panel); off unless enabled."""

    enabled: bool = False
    port: str = ""
    """A device path or a pyserial URL (socket://host:port, rfc2217://..., loop://)."""
    driver: str = "frontdesk"
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    heartbeat_seconds: float = 2.0
    amber_waiting: int = 2
    red_waiting: int = 4
    amber_wait: float = 60.0
    red_wait: float = 180.0
    """Levels: amber (red) when this many callers wait or the longest has waited this long."""
    away_extension: str | None = None
    """The desk's phone that the panel's away button logs out and in again."""


@dataclass(frozen=True)
class TimeRange:
    start: time
    end: time


@dataclass(frozen=True)
class Closure:
    start: date
    end: date
    """Inclusive."""
    reason: str = ""


@dataclass(frozen=True)
class ScheduleSettings:
    week: dict[int, tuple[TimeRange, ...]]
    """Opening ranges per weekday (0 = Monday). A gap between two ranges of a day is lunch."""
    closures: tuple[Closure, ...] = ()
    public_holidays: bool = True


@dataclass(frozen=True)
class Branch:
    """What a caller hears in one schedule state, after the greeting."""

    state: str
    entry: str
    """Name of the first node."""
    announcement: str | None = None
    """Prompt played before the entry node."""
    duty_number: str | None = None
    """Number told to patients when closed (e.g. the duty GP line 116 117), spoken in the
    announcement."""
    emergency_numbers: tuple[str, ...] = ("15", "112")


@dataclass(frozen=True)
class EmergencySettings:
    key: str
    """Active during the greeting and in the first menu of every branch."""
    prompt: str
    """Played when nobody can take the emergency: must say the emergency numbers."""
    numbers: tuple[str, ...] = ("15", "112")
    on_call: str | None = None
    """Name (in [numbers]) of the on-call doctor, transferred to after the prompt when closed."""
    extensions: tuple[str, ...] = ()
    """Staff phones rung first while open (defaults to the front desk's)."""
    ring_timeout: float = 30.0


@dataclass(frozen=True)
class DeskSettings:
    extensions: tuple[str, ...]
    ring_timeout: float = 25.0


@dataclass(frozen=True)
class MenuNode:
    name: str
    prompt: str
    options: dict[str, str]
    """Key -> node name; at most four."""
    on_failure: str
    """Node reached after the last failed try: a human or a message, never a hang-up."""
    timeout: float = 5.0
    tries: int = 3
    invalid_prompt: str | None = None
    no_choice_prompt: str | None = None
    """Played when the caller pressed nothing (default: flow.no_choice)."""
    reason: str | None = None


@dataclass(frozen=True)
class InfoNode:
    """Play information, then go on to `then` or hang up."""

    name: str
    prompt: str
    reason: str = "information"
    then: str | None = None


@dataclass(frozen=True)
class MessageNode:
    """Record a message (voicemail, prescription request...) with the caller's number."""

    name: str
    prompt: str
    reason: str = "other"
    max_seconds: int = 120
    thanks_prompt: str | None = None


@dataclass(frozen=True)
class QueueNode:
    """Ring the front-desk phones together; nobody answers -> `then` (a message node)."""

    name: str
    then: str
    prompt: str | None = None
    reason: str = "speak_to_someone"
    extensions: tuple[str, ...] = ()
    """Empty means the front desk's extensions."""
    ring_timeout: float | None = None


@dataclass(frozen=True)
class TransferNode:
    """Transfer to an outside number named in [numbers] (never one the caller typed)."""

    name: str
    number: str
    then: str
    """Node reached when the transfer fails."""
    prompt: str | None = None
    reason: str = "other"
    ring_timeout: float = 30.0


Node = MenuNode | InfoNode | MessageNode | QueueNode | TransferNode


@dataclass(frozen=True)
class FlowSettings:
    greeting: str
    goodbye: str
    invalid: str
    """After a key the menu does not offer."""
    nodes: dict[str, Node]
    branches: dict[str, Branch]
    """One per schedule state (see SCHEDULE_STATES)."""
    operator_key: str = "0"
    repeat_key: str = "*"
    no_choice: str | None = None
    """After a menu timeout with no key pressed; None: the menu is repeated at once."""


@dataclass(frozen=True)
class Scenario:
    """A rehearsal: a call at `when` pressing `keys` must end at `expect`."""

    name: str
    when: str
    """A schedule state ("open", "lunch"...) or a local ISO date-time ("2026-12-24T10:30")."""
    keys: tuple[str, ...]
    expect: str
    """The node where the call ends, or an outcome (see frontdesk.flow.OUTCOMES)."""


QUEUE_STRATEGIES = ("longest_idle", "ring_all", "fixed_order")
OVERFLOW_ACTIONS = ("voicemail", "callback")
"""Built-in overflow actions; a name in [outside.numbers] (an answering service) is the third
kind."""


@dataclass(frozen=True)
class QueueSettings:
    """The front-desk queue (frontdesk.queue). Durations are seconds."""

    strategy: str = "longest_idle"
    ring_timeout: float = 20.0
    """How long one staff phone rings for one caller before the next one is tried."""
    skip_seconds: float = 60.0
    """A phone that did not answer is not rung again for this long."""
    wrapup_seconds: float = 15.0
    announce_every: float = 45.0
    announce_prompt: str | None = None
    """Played on entry and every `announce_every` seconds (position and wait are spoken once
    frontdesk.speech is available)."""
    nobody_prompt: str | None = None
    """Played instead when no staff member is logged in."""
    callback_key: str | None = None
    callback_prompt: str | None = None
    """Asks the caller to confirm their number with 1 (or type one when it is hidden)."""
    callback_thanks_prompt: str | None = None
    callback_retries: int = 2
    callback_retry_seconds: float = 300.0
    max_wait: float = 600.0
    max_length: int = 10
    on_max_wait: str = "voicemail"
    on_max_length: str = "voicemail"
    on_nobody: str = "voicemail"
    missed_after: float = 0.0
    """A caller who hung up unserved after waiting longer than this (in the queue, or at the
    voicemail it sent them to, without a message) is a missed patient. 0: every one of them,
    since a caller in the queue has already chosen to speak to someone (no misdial to filter
    out)."""
    call_back_missed: bool = True
    """Missed patients are called back when the desk is free (staff phone first, as any
    callback); off: they are only listed (`frontdesk callbacks`)."""
    moh: str = "local_stream://moh"
    sofia_profile: str = "desk"
    """SIP profile of the desk phones (registrations are read from it)."""


@dataclass(frozen=True)
class Config:
    source: Path
    version: str
    """Short hash of the file's bytes: stored with each call to tell which config it ran on."""
    practice: PracticeSettings
    freeswitch: FreeswitchSettings
    storage: StorageSettings
    schedule: ScheduleSettings
    emergency: EmergencySettings
    frontdesk: DeskSettings
    numbers: dict[str, str]
    """Allowed outside numbers by name; the only numbers frontdesk ever dials out."""
    prompts: dict[str, Prompt]
    flow: FlowSettings
    scenarios: tuple[Scenario, ...] = ()
    queue: QueueSettings = QueueSettings()
    recording: RecordingSettings = RecordingSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    panel: PanelSettings = PanelSettings()
    allow_international: bool = False
    network: NetworkSettings | None = None
    phones: PhoneSettings | None = None
    trunk: TrunkSettings | None = None
    features: FeatureSettings | None = None
    """None: no feature codes."""
    prompt_directory: Path | None = None
    """[prompts] directory; its ``custom/`` subdirectory holds the technician's recordings."""
    prompt_voice: str | None = None
    """espeak-ng voice of the rendered prompts; None: the practice language's default."""

    @property
    def presented_number(self) -> str | None:
        """The practice's number, shown on every call frontdesk places outside ([trunk]
        caller_id); None without [trunk]."""
        return self.trunk.caller_id if self.trunk is not None else None
