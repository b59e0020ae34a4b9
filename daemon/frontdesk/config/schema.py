"""The config file's schema: every key, its type, its range, in one place.

Defaults of optional keys live in the dataclasses of `model.py` (the loader passes only the
keys the file sets). Checks that involve several keys (references between prompts, nodes and
numbers; closed branches; loopback hosts...) are in `loader.py`.
`examples/frontdesk.toml` documents every key declared here (a test keeps it complete).
"""

from __future__ import annotations

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
    Str,
    Table,
    TableArray,
    Tagged,
    TimeRanges,
    Timezone,
    Value,
)
from .model import PANEL_DRIVERS, QUEUE_STRATEGIES, REASONS, SCHEDULE_STATES

LANGUAGES = ("fr", "en")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_reason = Str(choices=REASONS, doc="contact reason recorded with the call")
_seconds = Float(minimum=1, maximum=600)
_port = Int(minimum=1, maximum=65535)
_short_number = Str(pattern=r"[0-9]{2,15}", what='a number of digits, like "15" or "116117"')

PRACTICE = Table(
    {
        "name": Str(required=True),
        "language": Str(choices=LANGUAGES),
        "timezone": Timezone(),
        "country": Str(doc="ISO 3166 code; its public holidays come from the holidays library"),
        "subdivision": Str(doc="region whose extra holidays apply, e.g. '57' (Moselle)"),
    },
    required=True,
)

FREESWITCH = Table(
    {
        "esl_host": Str(),
        "esl_port": _port,
        "esl_password": Secret(),
        "esl_password_file": Str(doc="file holding the password (relative to this file)"),
        "allow_remote_esl": Bool(),
        "listen_host": Str(),
        "listen_port": _port,
        "domain": Str(),
        "gateway": Str(),
        "heartbeat_timeout": Float(minimum=5, maximum=600),
        "reconnect_max_delay": Float(minimum=1, maximum=600),
        "command_timeout": Float(minimum=0.5, maximum=120),
        "max_calls": Int(
            minimum=1, maximum=1000, doc="calls at once (the unit's LimitNOFILE is 4096)"
        ),
        "application_timeout": Float(minimum=5, maximum=3600),
    },
    required=True,
)

STORAGE = Table(
    {"database": Str(required=True), "messages": Str(required=True)},
    required=True,
)

RECORDING = Table(
    {
        "enabled": Bool(),
        "purpose": Str(doc="why calls are recorded; stored with each recording"),
        "consent_prompt": Str(doc="prompt played right after the greeting"),
        "retention_days": Int(minimum=1, maximum=3650),
        "directory": Str(doc="where FreeSWITCH writes the recordings"),
    }
)

MAINTENANCE = Table(
    {
        "daily_at": Str(
            pattern=r"([01][0-9]|2[0-3]):[0-5][0-9]", what='a local time like "03:30"'
        ),
        "backup_directory": Str(),
        "backups_kept": Int(minimum=1, maximum=365),
    }
)

CLOSURE = Table(
    {"from": Date(required=True), "to": Date(required=True), "reason": Str(allow_empty=True)}
)

SCHEDULE = Table(
    {
        **{day: TimeRanges() for day in DAYS},
        "public_holidays": Bool(),
        "closures": TableArray(CLOSURE),
    },
    required=True,
)

EMERGENCY = Table(
    {
        "key": Key(required=True),
        "prompt": Str(required=True),
        "numbers": List(_short_number, nonempty=True),
        "on_call": Str(doc="name in [outside.numbers]"),
        "extensions": List(Extension()),
        "ring_timeout": _seconds,
    },
    required=True,
)

FRONTDESK = Table(
    {"extensions": List(Extension(), nonempty=True, required=True), "ring_timeout": _seconds},
    required=True,
)

OUTSIDE = Table({"allow_international": Bool(), "numbers": Map(Number())})

NETWORK = Table(
    {
        "lan_ranges": List(Cidr(), nonempty=True, required=True),
        "sip_ip": IpAddress(required=True, doc="this box's LAN address (SIP and RTP)"),
        "sip_port": _port,
        "trunk_sip_port": _port,
    }
)

PHONES = Table(
    {
        "password_file": Str(required=True, doc="one EXT=password a line (relative to this file)"),
        "names": Map(Str(), key=Extension()),
    }
)

TRUNK = Table(
    {
        "proxy": Str(required=True, doc="host or host:port of the operator's SIP proxy"),
        "realm": Str(),
        "username": Str(required=True),
        "password_file": Str(required=True, doc="file holding the trunk password"),
        "caller_id": Number(required=True, doc="the practice's number (DID)"),
        "register": Bool(),
    }
)

_feature_code = Str(pattern=r"[*#][0-9]{1,4}", what='* or # then 1 to 4 digits, like "*60"')
FEATURES = Table(
    {
        "extensions": List(Extension()),
        "login": _feature_code,
        "logout": _feature_code,
        "override": _feature_code,
        "login_prompt": Str(required=True),
        "logout_prompt": Str(required=True),
        "open_prompt": Str(required=True),
        "closed_prompt": Str(required=True),
        "schedule_prompt": Str(required=True),
        "refused_prompt": Str(required=True),
    }
)

PROMPT = Table({"file": Str(required=True), "text": Str(required=True)})
PROMPTS = Table(
    {"directory": Str(), "voice": Str(doc="espeak-ng voice of the rendered prompts")},
    extra=PROMPT,
    required=True,
)
PROMPT_SETTINGS = ("directory", "voice")
"""Keys of [prompts] that are settings, not prompts."""

BRANCH = Table(
    {
        "entry": Str(required=True),
        "announcement": Str(),
        "duty_number": _short_number,
        "emergency_numbers": List(_short_number),
    }
)
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
        "menu": Table(
            {
                "prompt": Str(required=True),
                "options": Map(Str(), key=Key(), required=True),
                "on_failure": Str(required=True),
                "timeout": Float(minimum=1, maximum=60),
                "tries": Int(minimum=1, maximum=9),
                "invalid_prompt": Str(),
                "no_choice_prompt": Str(),
                "reason": _reason,
            }
        ),
        "info": Table({"prompt": Str(required=True), "reason": _reason, "then": Str()}),
        "message": Table(
            {
                "prompt": Str(required=True),
                "reason": _reason,
                "max_seconds": Int(minimum=5, maximum=3600),
                "thanks_prompt": Str(),
            }
        ),
        "frontdesk": Table(
            {
                "then": Str(required=True),
                "prompt": Str(),
                "reason": _reason,
                "extensions": List(Extension()),
                "ring_timeout": _seconds,
            }
        ),
        "transfer": Table(
            {
                "number": Str(required=True, doc="name in [outside.numbers]"),
                "then": Str(required=True),
                "prompt": Str(),
                "reason": _reason,
                "ring_timeout": _seconds,
            }
        ),
    },
)

FLOW = Table(
    {
        "greeting": Str(required=True),
        "goodbye": Str(required=True),
        "invalid": Str(required=True),
        "no_choice": Str(doc="prompt after a menu timeout with no key; none: repeat at once"),
        "operator_key": Key(),
        "repeat_key": Key(),
        "branches": BRANCHES,
        "nodes": Map(NODE, required=True),
    },
    required=True,
)

SCENARIO = Table(
    {
        "name": Str(required=True),
        "when": Str(required=True, doc="schedule state or local date-time 2026-12-24T10:30"),
        "keys": List(Keys()),
        "expect": Str(required=True, doc="node name or outcome"),
    }
)

_overflow = Str(doc="voicemail, callback, or a name in [outside.numbers]")

QUEUE = Table(
    {
        "strategy": Str(choices=QUEUE_STRATEGIES),
        "ring_timeout": Float(minimum=5, maximum=120),
        "skip_seconds": Float(minimum=0, maximum=3600),
        "wrapup_seconds": Float(minimum=0, maximum=600),
        "announce_every": Float(minimum=15, maximum=600),
        "announce_prompt": Str(),
        "nobody_prompt": Str(),
        "callback_key": Key(),
        "callback_prompt": Str(),
        "callback_thanks_prompt": Str(),
        "callback_retries": Int(minimum=0, maximum=10),
        "callback_retry_seconds": Float(minimum=30, maximum=86400),
        "max_wait": Float(minimum=30, maximum=7200),
        "max_length": Int(minimum=1, maximum=500),
        "on_max_wait": _overflow,
        "on_max_length": _overflow,
        "on_nobody": _overflow,
        "missed_after": Float(minimum=0, maximum=3600),
        "call_back_missed": Bool(),
        "moh": Str(doc="hold music: local_stream://moh, tone_stream://..., silence_stream://..."),
        "sofia_profile": Str(doc="SIP profile of the desk phones"),
    }
)

PANEL = Table(
    {
        "enabled": Bool(),
        "port": Str(doc="/dev/ttyUSB0, /dev/serial/by-id/..., socket://host:port, rfc2217://..."),
        "driver": Str(choices=PANEL_DRIVERS),
        "baudrate": Int(minimum=300, maximum=4_000_000),
        "bytesize": Int(minimum=5, maximum=8),
        "parity": Str(choices=("N", "E", "O", "M", "S")),
        "stopbits": Int(minimum=1, maximum=2),
        "heartbeat_seconds": Float(minimum=0.5, maximum=60),
        "amber_waiting": Int(minimum=1, maximum=999),
        "red_waiting": Int(minimum=1, maximum=999),
        "amber_wait": Float(minimum=1, maximum=7200),
        "red_wait": Float(minimum=1, maximum=7200),
        "away_extension": Extension(),
    }
)

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
        "rehearse": TableArray(SCENARIO),
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
