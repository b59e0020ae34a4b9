"""The config file's schema: every table of the file, assembled from the keys declared once
on the fields of `model.py` (`key(type and range, default)`).

Only the keys with no field of their own (they feed `Config` otherwise: [outside], the
settings of [prompts], the days of [schedule], the password file) and the tables of tables
(nodes, branches, closures) are declared here. Checks that involve several keys (references
between prompts, nodes and numbers; closed branches; loopback hosts...) are in `loader.py`.
`examples/frontdesk.toml` documents every key declared here (a test keeps it complete).
"""

from __future__ import annotations

from ._types import (
    Bool,
    Map,
    Number,
    Str,
    Table,
    TableArray,
    Tagged,
    TimeRanges,
    Value,
    declare,
)
from .model import (
    SCHEDULE_STATES,
    AgendaSettings,
    AppointmentsNode,
    BookingNode,
    Branch,
    Closure,
    ConsoleSettings,
    DeskSettings,
    EmergencySettings,
    FeatureSettings,
    FlowSettings,
    FreeswitchSettings,
    InfoNode,
    MaintenanceSettings,
    MenuNode,
    MessageNode,
    NetworkSettings,
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
    TransferNode,
    TrunkSettings,
)

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

PRACTICE = Table.of(PracticeSettings, required=True)
FREESWITCH = Table.of(FreeswitchSettings, required=True).with_keys(
    esl_password_file=Str(doc="file holding the password (relative to this file)")
)
STORAGE = Table.of(StorageSettings, required=True)
RECORDING = Table.of(RecordingSettings)
MAINTENANCE = Table.of(MaintenanceSettings)
SCHEDULE = Table.of(ScheduleSettings, required=True).with_keys(
    closures=TableArray(Table.of(Closure)), **{day: TimeRanges() for day in DAYS}
)
EMERGENCY = Table.of(EmergencySettings, required=True)
FRONTDESK = Table.of(DeskSettings, required=True)
OUTSIDE = Table({"allow_international": declare(Bool(), False), "numbers": Map(Number())})
NETWORK = Table.of(NetworkSettings)
PHONES = Table.of(PhoneSettings)
TRUNK = Table.of(TrunkSettings)
FEATURES = Table.of(FeatureSettings)
PROMPTS = Table(
    {
        "directory": declare(Str(), "prompts"),
        "voice": declare(
            Str(doc="espeak-ng voice of the rendered prompts"),
            computed="the practice language's voice",
        ),
    },
    extra=Table.of(Prompt),
    required=True,
)
PROMPT_SETTINGS = tuple(PROMPTS.fields)
"""Keys of [prompts] that are settings, not prompts."""

BRANCH = Table.of(Branch)
BRANCHES = Table(
    {
        state: Table(BRANCH.fields, required=state in ("open", "closed"))
        for state in SCHEDULE_STATES
    },
    required=True,
)

NODE = Tagged(
    "type",
    {
        "menu": Table.of(MenuNode),
        "info": Table.of(InfoNode),
        "message": Table.of(MessageNode),
        "frontdesk": Table.of(QueueNode),
        "transfer": Table.of(TransferNode),
        "booking": Table.of(BookingNode),
        "appointments": Table.of(AppointmentsNode),
    },
)

FLOW = Table.of(FlowSettings, required=True).with_keys(
    branches=BRANCHES, nodes=Map(NODE, required=True)
)

QUEUE = Table.of(QueueSettings)
PANEL = Table.of(PanelSettings)
AGENDA = Table.of(AgendaSettings)
REMINDERS = Table.of(RemindersSettings)
CONSOLE = Table.of(ConsoleSettings)
RETENTION = Table.of(RetentionSettings)
REPORT = Table.of(ReportSettings)

ROOT = Table(
    {
        "practice": PRACTICE,
        "freeswitch": FREESWITCH,
        "storage": STORAGE,
        "recording": RECORDING,
        "maintenance": MAINTENANCE,
        "schedule": SCHEDULE,
        "emergency": EMERGENCY,
        "frontdesk": FRONTDESK,
        "outside": OUTSIDE,
        "network": NETWORK,
        "phones": PHONES,
        "trunk": TRUNK,
        "features": FEATURES,
        "prompts": PROMPTS,
        "flow": FLOW,
        "queue": QUEUE,
        "panel": PANEL,
        "agenda": AGENDA,
        "reminders": REMINDERS,
        "console": CONSOLE,
        "retention": RETENTION,
        "report": REPORT,
        "rehearse": TableArray(Table.of(Scenario)),
    }
)


def documented_keys(value: Value = ROOT, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of the schema. ``"*"`` stands for a name chosen by the technician,
    ``"[]"`` for an item of an array of tables, ``"type=menu"`` for a variant of a node."""
    out: list[tuple[str, ...]] = []
    if isinstance(value, Table):
        for key, field in value.fields.items():
            out.append(prefix + (key,))
            out += documented_keys(field, prefix + (key,))
        if value.extra is not None:
            out += documented_keys(value.extra, prefix + ("*",))
    elif isinstance(value, TableArray):
        out += documented_keys(value.item, prefix + ("[]",))
    elif isinstance(value, Map):
        out += documented_keys(value.value, prefix + ("*",))
    elif isinstance(value, Tagged):
        for kind, variant in value.variants.items():
            out.append(prefix + (f"{value.tag}={kind}",))
            out += documented_keys(variant, prefix + (f"{value.tag}={kind}",))
    return out
