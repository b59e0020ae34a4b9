"""The typed, validated settings the rest of the daemon reads.

`frontdesk.config.load_config` turns the TOML file into these frozen dataclasses; nothing else
in the daemon looks at the TOML. A call keeps the `Config` object it started with, so a reload
never changes a call in progress.

Each config key is declared once, on its field: ``key(type and range, default)`` (see
`frontdesk.config._types.key`); `schema.py` assembles the file's tables from these fields.
Adding a key is one line here (and its lines in examples/frontdesk.toml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from ._types import (
    Bool,
    Cidr,
    Date,
    Extension,
    Float,
    Int,
    IpAddress,
    Key,
    Keys,
    List,
    Map,
    Number,
    Secret,
    SipName,
    Str,
    TimeRanges,
    Timezone,
    key,
)

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
    "booked",
    "moved",
    "cancelled",
    "requested",
)
"""How a call ended, as stored in its record ("fallback": the daemon never served it and
FreeSWITCH's static fallback took it; "booked", "moved", "cancelled": by the caller in the
agenda; "requested": a request for the staff, who call back to confirm)."""


LANGUAGES = ("fr", "en")
EMERGENCY_NUMBERS = ("15", "112")
"""SAMU and the European emergency number."""

_seconds = Float(minimum=1, maximum=600)
_port = Int(minimum=1, maximum=65535)
_short_number = Str(pattern=r"[0-9]{2,15}", what='a number of digits, like "15" or "116117"')
_reason = Str(choices=REASONS, doc="contact reason recorded with the call")
_feature_code = Str(pattern=r"[*#][0-9]{1,4}", what='* or # then 1 to 4 digits, like "*60"')
_overflow = Str(doc="voicemail, callback, or a name in [outside.numbers]")
_FRONTDESK_PHONES = "[frontdesk] extensions"
_key = key
"""`key`, where a field named key hides it (EmergencySettings)."""


@dataclass(frozen=True)
class Prompt:
    """An audio prompt: a local WAV file (or a FreeSWITCH stream URL) and the words it says."""

    name: str
    file: str = key(Str())
    text: str = key(Str())
    path: Path | None = None
    """Resolved local file; None for FreeSWITCH URLs such as ``tone_stream://`` or ``silence_stream://``."""

    @property
    def uri(self) -> str:
        """What FreeSWITCH is asked to play."""
        return str(self.path) if self.path is not None else self.file


@dataclass(frozen=True)
class PracticeSettings:
    name: str = key(Str())
    language: str = key(Str(choices=LANGUAGES), "fr")
    timezone: str = key(Timezone(), "Europe/Paris")
    country: str = key(
        Str(doc="ISO 3166 code; its public holidays come from the holidays library"), "FR"
    )
    subdivision: str | None = key(
        Str(doc="region whose extra holidays apply, e.g. '57' (Moselle)"), None
    )


@dataclass(frozen=True)
class FreeswitchSettings:
    esl_password: str = key(Secret(), computed="read from esl_password_file")
    esl_host: str = key(Str(), "127.0.0.1")
    esl_port: int = key(_port, 8021)
    allow_remote_esl: bool = key(Bool(), False)
    listen_host: str = key(Str(), "127.0.0.1")
    listen_port: int = key(_port, 8084)
    domain: str = key(SipName(), "127.0.0.1")
    """SIP domain of the staff extensions: a desk phone is dialled as ``user/EXT@domain``."""
    gateway: str = key(SipName(), "trunk")
    """Sofia gateway that reaches outside numbers: ``sofia/gateway/<gateway>/<number>``."""
    heartbeat_timeout: float = key(Float(minimum=5, maximum=600), 40.0)
    reconnect_max_delay: float = key(Float(minimum=1, maximum=600), 30.0)
    command_timeout: float = key(Float(minimum=0.5, maximum=120), 5.0)
    max_calls: int = key(
        Int(minimum=1, maximum=1000, doc="calls at once (the unit's LimitNOFILE is 4096)"), 300
    )
    """Calls taken at once; one more is handed back to FreeSWITCH's dialplan fallback. Each
    call holds one file descriptor: keep it well under the daemon's LimitNOFILE."""
    application_timeout: float = key(Float(minimum=5, maximum=3600), 300.0)
    """Seconds an application (a playback...) may take beyond its own known duration (a
    record's maximum, a menu's timeout); past it the call is handed to the dialplan fallback."""


@dataclass(frozen=True)
class NetworkSettings:
    """The practice LAN, for the FreeSWITCH configuration `frontdesk freeswitch-config` writes."""

    lan_ranges: tuple[str, ...] = key(List(Cidr(), nonempty=True))
    """CIDR ranges the desk phones may register and call from (the SIP ACL)."""
    sip_ip: str = key(IpAddress(doc="this box's LAN address (SIP and RTP)"))
    """This box's LAN address: SIP and RTP for the desk phones and the trunk."""
    sip_port: int = key(_port, 5060)
    """SIP port of the desk phones' profile."""
    trunk_sip_port: int = key(_port, 5080)
    """SIP port of the trunk's profile."""


@dataclass(frozen=True)
class PhoneSettings:
    password_file: Path = key(Str(doc="one EXT=password a line (relative to this file)"))
    """Secrets file, one ``EXT=password`` a line: the SIP passwords of the desk phones."""
    names: dict[str, str] = key(Map(Str(), key=Extension()), {})
    """Extension -> name shown on the other phones (and extra phones the flow never rings)."""


@dataclass(frozen=True)
class TrunkSettings:
    """The operator's SIP trunk; its sofia gateway is named by [freeswitch] gateway."""

    proxy: str = key(Str(doc="host or host:port of the operator's SIP proxy"))
    username: str = key(Str())
    password_file: Path = key(Str(doc="file holding the trunk password"))
    """Secrets file holding the trunk password (only its content, on one line)."""
    caller_id: str = key(Number(doc="the practice's number (DID)"))
    """The practice's number (DID), presented on calls frontdesk places through the trunk."""
    realm: str | None = key(Str(), None)
    """Default: the proxy's host."""
    register: bool = key(Bool(), True)


FEATURES = ("login", "logout", "override")
"""What a feature code dialled from a desk phone does."""


@dataclass(frozen=True)
class FeatureSettings:
    """Codes dialled from the staff's desk phones; FreeSWITCH sends them to the daemon."""

    extensions: tuple[str, ...] = key(List(Extension()), computed=_FRONTDESK_PHONES)
    """Phones allowed to use them (default: the front desk's)."""
    login_prompt: str = key(Str())
    logout_prompt: str = key(Str())
    open_prompt: str = key(Str())
    closed_prompt: str = key(Str())
    schedule_prompt: str = key(Str())
    """Said after the override was cleared: the schedule applies again."""
    refused_prompt: str = key(Str())
    login: str = key(_feature_code, "*50")
    logout: str = key(_feature_code, "*51")
    override: str = key(_feature_code, "*60")
    """Toggles the manual override: the opposite of the schedule's state, or back to it."""

    @property
    def codes(self) -> dict[str, str]:
        """Code -> feature (one of FEATURES)."""
        return {getattr(self, feature): feature for feature in FEATURES}


@dataclass(frozen=True)
class StorageSettings:
    database: Path = key(Str())
    messages: Path = key(Str())
    """Directory where FreeSWITCH records callers' messages (on the same box)."""


@dataclass(frozen=True, kw_only=True)
class RecordingSettings:
    """Recording of the conversations callers have with the staff; off unless turned on."""

    enabled: bool = key(Bool(), False)
    purpose: str | None = key(Str(doc="why calls are recorded; stored with each recording"), None)
    """Why calls are recorded (a sentence), stored with each recording; required when enabled."""
    consent_prompt: str | None = key(Str(doc="prompt played right after the greeting"), None)
    """Prompt played right after the greeting; its text says the call is recorded."""
    retention_days: int | None = key(Int(minimum=1, maximum=3650), None)
    """Recordings older than this are deleted by the daily job; required when enabled."""
    directory: Path = key(
        Str(doc="where FreeSWITCH writes the recordings"),
        computed="recordings next to the database",
    )


@dataclass(frozen=True, kw_only=True)
class MaintenanceSettings:
    """The daemon's daily jobs: what is past its retention purged, database backed up."""

    daily_at: time = key(
        Str(pattern=r"([01][0-9]|2[0-3]):[0-5][0-9]", what='a local time like "03:30"'),
        time(3, 30),
    )
    """Local time of the practice at which they run."""
    backup_directory: Path = key(Str(), computed="backups next to the database")
    backups_kept: int = key(Int(minimum=1, maximum=365), 7)


PANEL_DRIVERS = ("frontdesk", "alpha")
"""The serial protocols the desk panel can speak (docs/panel-protocol.md): ours, or the Alpha
Sign Communications Protocol of the LED message signs sold as call-centre wallboards."""
ALPHA_LINE = {"bytesize": 7, "parity": "E"}
"""An Alpha sign's factory line setting: the defaults of bytesize and parity with that driver."""


@dataclass(frozen=True)
class PanelSettings:
    """The desk status panel on a serial line (frontdesk.panel); off unless enabled."""

    enabled: bool = key(Bool(), False)
    port: str = key(
        Str(
            allow_empty=True,
            doc="/dev/ttyUSB0, /dev/serial/by-id/..., socket://host:port, rfc2217://...",
        ),
        "",
    )
    """A device path or a pyserial URL (socket://host:port, rfc2217://..., loop://); "": none."""
    driver: str = key(Str(choices=PANEL_DRIVERS), "frontdesk")
    baudrate: int = key(Int(minimum=300, maximum=4_000_000), 9600)
    bytesize: int = key(Int(minimum=5, maximum=8), 8)
    parity: str = key(Str(choices=("N", "E", "O", "M", "S")), "N")
    stopbits: int = key(Int(minimum=1, maximum=2), 1)
    heartbeat_seconds: float = key(Float(minimum=0.5, maximum=60), 2.0)
    amber_waiting: int = key(Int(minimum=1, maximum=999), 2)
    red_waiting: int = key(Int(minimum=1, maximum=999), 4)
    amber_wait: float = key(Float(minimum=1, maximum=7200), 60.0)
    red_wait: float = key(Float(minimum=1, maximum=7200), 180.0)
    """Levels: amber (red) when this many callers wait or the longest has waited this long."""
    away_extension: str | None = key(Extension(), None)
    """The desk's phone that the panel's away button logs out and in again."""


@dataclass(frozen=True)
class TimeRange:
    start: time
    end: time


@dataclass(frozen=True)
class Closure:
    start: date = key(Date(), name="from")
    end: date = key(Date(), name="to")
    """Inclusive."""
    reason: str = key(Str(allow_empty=True), "")


@dataclass(frozen=True)
class ScheduleSettings:
    week: dict[int, tuple[TimeRange, ...]]
    """Opening ranges per weekday (0 = Monday). A gap between two ranges of a day is lunch."""
    closures: tuple[Closure, ...] = ()
    public_holidays: bool = key(Bool(), True)


@dataclass(frozen=True)
class Branch:
    """What a caller hears in one schedule state, after the greeting."""

    state: str
    entry: str = key(Str())
    """Name of the first node."""
    announcement: str | None = key(Str(), None)
    """Prompt played before the entry node."""
    duty_number: str | None = key(_short_number, None)
    """Number told to patients when closed (e.g. the duty GP line 116 117), spoken in the
    announcement."""
    emergency_numbers: tuple[str, ...] = key(List(_short_number), EMERGENCY_NUMBERS)


@dataclass(frozen=True, kw_only=True)
class EmergencySettings:
    key: str = key(Key())
    """Active during the greeting and in the first menu of every branch."""
    prompt: str = _key(Str())
    """Played when nobody can take the emergency: must say the emergency numbers."""
    numbers: tuple[str, ...] = _key(List(_short_number, nonempty=True), EMERGENCY_NUMBERS)
    on_call: str | None = _key(Str(doc="name in [outside.numbers]"), None)
    """Name (in [numbers]) of the on-call doctor, transferred to after the prompt when closed."""
    extensions: tuple[str, ...] = _key(List(Extension()), computed=_FRONTDESK_PHONES)
    """Staff phones rung first while open."""
    ring_timeout: float = _key(_seconds, 30.0)


@dataclass(frozen=True)
class DeskSettings:
    extensions: tuple[str, ...] = key(List(Extension(), nonempty=True))
    ring_timeout: float = key(_seconds, 25.0)


@dataclass(frozen=True)
class MenuNode:
    name: str
    prompt: str = key(Str())
    options: dict[str, str] = key(Map(Str(), key=Key()))
    """Key -> node name; at most four."""
    on_failure: str = key(Str())
    """Node reached after the last failed try: a human or a message, never a hang-up."""
    timeout: float = key(Float(minimum=1, maximum=60), 5.0)
    tries: int = key(Int(minimum=1, maximum=9), 3)
    invalid_prompt: str | None = key(Str(), None)
    no_choice_prompt: str | None = key(Str(), None)
    """Played when the caller pressed nothing (default: flow.no_choice)."""
    reason: str | None = key(_reason, None)


@dataclass(frozen=True)
class InfoNode:
    """Play information, then go on to `then` or hang up."""

    name: str
    prompt: str = key(Str())
    reason: str = key(_reason, "information")
    then: str | None = key(Str(), None)


@dataclass(frozen=True)
class MessageNode:
    """Record a message (voicemail, prescription request...) with the caller's number."""

    name: str
    prompt: str = key(Str())
    reason: str = key(_reason, "other")
    max_seconds: int = key(Int(minimum=5, maximum=3600), 120)
    thanks_prompt: str | None = key(Str(), None)


@dataclass(frozen=True)
class QueueNode:
    """Ring the front-desk phones together; nobody answers -> `then` (a message node)."""

    name: str
    then: str = key(Str())
    prompt: str | None = key(Str(), None)
    reason: str = key(_reason, "speak_to_someone")
    extensions: tuple[str, ...] = key(List(Extension()), ())
    """Empty means the front desk's extensions."""
    ring_timeout: float | None = key(_seconds, None)


@dataclass(frozen=True)
class TransferNode:
    """Transfer to an outside number named in [numbers] (never one the caller typed)."""

    name: str
    number: str = key(Str(doc="name in [outside.numbers]"))
    then: str = key(Str())
    """Node reached when the transfer fails."""
    prompt: str | None = key(Str(), None)
    reason: str = key(_reason, "other")
    ring_timeout: float = key(_seconds, 30.0)


@dataclass(frozen=True)
class BookingNode:
    """The caller books an appointment of `kind` in the agenda ([agenda]); with the hand-off
    adapter (or no [agenda]) their request is stored for the staff, who call back."""

    name: str
    then: str = key(Str())
    """A frontdesk node: where the caller goes when the agenda cannot be reached, they may not
    book by phone, or they ask for someone (operator key)."""
    kind: str = key(Str(doc="appointment type name (frontdesk agenda type add)"), "consultation")
    prompt: str | None = key(Str(), None)
    reason: str = key(_reason, "appointment_new")


@dataclass(frozen=True)
class AppointmentsNode:
    """The caller's upcoming appointments are read back to be cancelled or moved; with the
    hand-off adapter (or no [agenda]) their request is stored for the staff."""

    name: str
    then: str = key(Str())
    """A frontdesk node, as for `booking`."""
    prompt: str | None = key(Str(), None)
    reason: str = key(_reason, "appointment_change")


AgendaNode = BookingNode | AppointmentsNode
Node = MenuNode | InfoNode | MessageNode | QueueNode | TransferNode | BookingNode | AppointmentsNode


@dataclass(frozen=True, kw_only=True)
class FlowSettings:
    greeting: str = key(Str())
    goodbye: str = key(Str())
    invalid: str = key(Str())
    """After a key the menu does not offer."""
    nodes: dict[str, Node]
    branches: dict[str, Branch]
    """One per schedule state (see SCHEDULE_STATES)."""
    operator_key: str = key(Key(), "0")
    repeat_key: str = key(Key(), "*")
    no_choice: str | None = key(
        Str(doc="prompt after a menu timeout with no key; none: repeat at once"), None
    )
    """After a menu timeout with no key pressed; None: the menu is repeated at once."""


REHEARSAL_CALLERS = ("patient", "unknown")


@dataclass(frozen=True)
class Scenario:
    """A rehearsal: a call at `when` pressing `keys` must end at `expect`."""

    name: str = key(Str())
    when: str = key(Str(doc="schedule state or local date-time 2026-12-24T10:30"))
    """A schedule state ("open", "lunch"...) or a local ISO date-time ("2026-12-24T10:30")."""
    expect: str = key(Str(doc="node name or outcome"))
    """The node where the call ends, or an outcome (see frontdesk.flow.OUTCOMES)."""
    keys: tuple[str, ...] = key(List(Keys()), ())
    caller: str = key(Str(choices=REHEARSAL_CALLERS), "patient")
    """``patient``: the rehearsal's patient calls (their number is in the seeded agenda, with
    one upcoming appointment); ``unknown``: a number no patient has."""
    slot_taken_meanwhile: bool = key(Bool(), False)
    """The first slot offered to the caller is booked by someone else before they confirm."""


QUEUE_STRATEGIES = ("longest_idle", "ring_all", "fixed_order")
OVERFLOW_ACTIONS = ("voicemail", "callback")
"""Built-in overflow actions; a name in [outside.numbers] (an answering service) is the third
kind."""


@dataclass(frozen=True)
class QueueSettings:
    """The front-desk queue (frontdesk.queue). Durations are seconds."""

    strategy: str = key(Str(choices=QUEUE_STRATEGIES), "longest_idle")
    ring_timeout: float = key(Float(minimum=5, maximum=120), 20.0)
    """How long one staff phone rings for one caller before the next one is tried."""
    skip_seconds: float = key(Float(minimum=0, maximum=3600), 60.0)
    """A phone that did not answer is not rung again for this long."""
    wrapup_seconds: float = key(Float(minimum=0, maximum=600), 15.0)
    announce_every: float = key(Float(minimum=15, maximum=600), 45.0)
    announce_prompt: str | None = key(Str(), None)
    """Played on entry and every `announce_every` seconds (position and wait are spoken once
    frontdesk.speech is available)."""
    nobody_prompt: str | None = key(Str(), None)
    """Played instead when no staff member is logged in."""
    callback_key: str | None = key(Key(), None)
    callback_prompt: str | None = key(Str(), None)
    """Asks the caller to confirm their number with 1 (or type one when it is hidden)."""
    callback_thanks_prompt: str | None = key(Str(), None)
    callback_retries: int = key(Int(minimum=0, maximum=10), 2)
    callback_retry_seconds: float = key(Float(minimum=30, maximum=86400), 300.0)
    max_wait: float = key(Float(minimum=30, maximum=7200), 600.0)
    max_length: int = key(Int(minimum=1, maximum=500), 10)
    on_max_wait: str = key(_overflow, "voicemail")
    on_max_length: str = key(_overflow, "voicemail")
    on_nobody: str = key(_overflow, "voicemail")
    missed_after: float = key(Float(minimum=0, maximum=3600), 0.0)
    """A caller who hung up unserved after waiting longer than this (in the queue, or at the
    voicemail it sent them to, without a message) is a missed patient. 0: every one of them,
    since a caller in the queue has already chosen to speak to someone (no misdial to filter
    out)."""
    call_back_missed: bool = key(Bool(), True)
    """Missed patients are called back when the desk is free (staff phone first, as any
    callback); off: they are only listed (`frontdesk callbacks`)."""
    moh: str = key(
        Str(doc="hold music: local_stream://moh, tone_stream://..., silence_stream://..."),
        "local_stream://moh",
    )
    sofia_profile: str = key(SipName(doc="SIP profile of the desk phones"), "desk")
    """SIP profile of the desk phones (registrations are read from it)."""


AGENDA_ADAPTERS = ("builtin", "caldav", "handoff")
WHO_MAY_BOOK = ("known", "everyone")


@dataclass(frozen=True)
class AgendaSettings:
    """The practice's agenda (frontdesk.agenda): where the flow's booking nodes book."""

    adapter: str = key(Str(choices=AGENDA_ADAPTERS), "builtin")
    timeout: float = key(Float(minimum=0.5, maximum=60), 5.0)
    """Seconds one read of the agenda may take before the caller is sent to the desk (writes
    are waited for: nobody is told "not booked" about an appointment written)."""
    who_may_book: str = key(Str(choices=WHO_MAY_BOOK), "known")
    """``known``: only callers whose number (or date of birth) is in the patients; a new
    patient's request is handed to the desk. ``everyone``: a new patient books too."""
    slots_offered: int = key(Int(minimum=1, maximum=5), 3)
    horizon_days: int = key(Int(minimum=1, maximum=365), 60)
    """How far ahead free slots are searched."""
    min_notice_minutes: int = key(Int(minimum=0, maximum=10080), 120)
    """No slot is offered that starts sooner than this."""
    caldav_url: str | None = key(Str(doc="the CalDAV server's URL (https, or http on loopback)"),
                                 None)
    caldav_username: str | None = key(Str(), None)
    caldav_password_file: Path | None = key(Str(doc="file holding the CalDAV password"), None)


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class RemindersSettings:
    """Reminder calls the day before an appointment (frontdesk.agenda.reminders)."""

    enabled: bool = key(Bool(), False)
    window: tuple[tuple[time, time], ...] = key(
        TimeRanges(), ((time(10, 0), time(12, 0)), (time(17, 0), time(19, 0)))
    )
    """Local times in which reminder calls may be placed (a retry waits for the next range)."""
    days: tuple[str, ...] = key(List(Str(choices=WEEKDAY_NAMES), nonempty=True),
                                WEEKDAY_NAMES[:6])
    """Days on which reminder calls are placed (never on a public holiday of the schedule); a
    day's appointments are reminded on the last of these days at least `days_before` days
    ahead (Saturday for Monday)."""
    days_before: int = key(Int(minimum=1, maximum=7), 1)
    max_calls: int = key(Int(minimum=1, maximum=10), 2)
    """Reminder calls at once."""
    retries: int = key(Int(minimum=0, maximum=5), 2)
    """More attempts after no answer or busy."""
    retry_minutes: int = key(Int(minimum=5, maximum=600), 30)
    ring_seconds: int = key(Int(minimum=10, maximum=120), 30)


@dataclass(frozen=True)
class ConsoleSettings:
    """The receptionists' web console (frontdesk.console), served by the daemon; off unless
    enabled. On 127.0.0.1 unless `listen` is a LAN address: then only [network] lan_ranges may
    connect. HTTPS when `certificate` and `private_key` are set."""

    enabled: bool = key(Bool(), False)
    listen: str = key(IpAddress(doc="127.0.0.1, or this box's LAN address"), "127.0.0.1")
    port: int = key(_port, 8480)
    certificate: Path | None = key(Str(doc="PEM certificate file: the console speaks HTTPS"),
                                   None)
    private_key: Path | None = key(Str(doc="PEM private key of the certificate (mode 600)"),
                                   None)
    session_hours: int = key(Int(minimum=1, maximum=24), 12)
    """A login lasts this long (a working day), or until logout or a change of password."""
    hostnames: tuple[str, ...] = key(
        List(Str(pattern=r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?",
                 what='a host name like "accueil.cabinet.lan"')), ())
    """Names the desk's browsers use for the console, besides its address: a request naming
    another host is refused (a web page cannot reach the console through a name of its own,
    DNS rebinding)."""
    metrics_token_file: Path | None = key(
        Str(doc="file holding the token a Prometheus server sends to read /metrics (mode 600)"),
        None)
    """Set: ``/metrics`` answers requests with ``Authorization: Bearer <token>``, from any
    address the console answers. Unset: only requests from this box (loopback)."""

    @property
    def https(self) -> bool:
        return self.certificate is not None


@dataclass(frozen=True)
class RetentionSettings:
    """How long frontdesk keeps what it records (docs/retention.md); the daily job
    ([maintenance]) deletes what is older. Recordings: [recording] retention_days."""

    call_records_days: int = key(Int(minimum=30, maximum=3650), 365)
    """Calls, their queue events and agenda actions, callbacks, reminder calls, staff logins,
    states and overrides, console actions: kept this many days (from the call, the event)."""
    messages_done_days: int = key(Int(minimum=0, maximum=3650), 30)
    """A caller's message (its file) and a booking request, once marked done: kept this many
    days after the mark."""
    messages_open_days: int = key(Int(minimum=30, maximum=3650), 365,
                                  computed="call_records_days")
    """A message or booking request never marked done: kept this many days from the call
    (at most call_records_days; the loader gives it call_records_days when not set)."""


@dataclass(frozen=True)
class ReportSettings:
    """The figures of `frontdesk report` and the console's figures page (docs/report.md)."""

    answered_within_seconds: int = key(Int(minimum=10, maximum=60), 20)
    """A caller answered within this many seconds of waiting counts as answered in time."""
    short_abandon_seconds: int = key(Int(minimum=0, maximum=30), 5)
    """A caller who hangs up within this many seconds of waiting is counted apart."""
    repeat_call_hours: int = key(Int(minimum=1, maximum=168), 48)
    """A caller who calls again within this many hours was not resolved at the first call."""
    abandonment_target: float = key(Float(minimum=0, maximum=1), 0.05)
    """The abandonment rate the practice aims to stay under (0.05: 5 %)."""


@dataclass(frozen=True)
class FeedbackSettings:
    """The satisfaction question asked after the receptionist hangs up (1 to 5 on the keypad),
    stored with the call; off unless enabled. Never asked after an emergency call, a transfer
    outside, or a callback (see frontdesk.flow)."""

    enabled: bool = key(Bool(), False)
    prompt: str | None = key(Str(doc="the question; its text says to press 1 to 5"), None)
    """The question; required when enabled."""
    thanks_prompt: str | None = key(Str(doc="played after an answer"), None)
    share: float = key(Float(minimum=0, maximum=1), 1.0)
    """The part of the callers who talked with the desk that is asked (0 to 1, drawn at
    random when they are put through)."""
    timeout: float = key(Float(minimum=2, maximum=30), 6.0)
    """Seconds the caller has to press a key after the question."""


@dataclass(frozen=True, kw_only=True)
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
    allow_international: bool
    """[outside] allow_international."""
    prompts: dict[str, Prompt]
    flow: FlowSettings
    scenarios: tuple[Scenario, ...] = ()
    queue: QueueSettings = QueueSettings()
    recording: RecordingSettings
    maintenance: MaintenanceSettings
    panel: PanelSettings = PanelSettings()
    agenda: AgendaSettings | None = None
    """None: no [agenda] section (no booking by phone)."""
    reminders: RemindersSettings = RemindersSettings()
    console: ConsoleSettings = ConsoleSettings()
    retention: RetentionSettings = RetentionSettings()
    report: ReportSettings = ReportSettings()
    feedback: FeedbackSettings = FeedbackSettings()
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
