"""Typed config values: each one converts a raw TOML value and reports what is wrong with it.

A value never raises: it records an issue (key path + message) and returns `INVALID`, so that
one pass over the file finds every error. Tables return a dict holding only the keys that were
present and valid; the loader applies the model's defaults for the others.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import datetime as dt
import difflib
import ipaddress
import math
import re
import zoneinfo
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from ._locate import Path

INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()
NO_DEFAULT: Any = dataclasses.MISSING
KEY = "frontdesk.config.key"
"""Metadata name, on a dataclass field of `model.py`, of the config key it is (see `key`)."""

DTMF_KEYS = "0123456789*#"


class Issues:
    """Errors found so far, each a key path and a message."""

    def __init__(self) -> None:
        self.items: list[tuple[Path, str]] = []

    def add(self, path: Path, message: str) -> None:
        self.items.append((tuple(path), message))

    def __bool__(self) -> bool:
        return bool(self.items)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def one_of(choices: Iterable[str]) -> str:
    return ", ".join(f"'{c}'" for c in choices)


def describe(raw: Any) -> str:
    """A raw TOML value as the technician wrote it, for messages."""
    kind = toml_type(raw)
    if isinstance(raw, str):
        return repr(raw)
    if kind in ("table", "array"):
        return f"a {kind}"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return f"{kind} {raw}"


def toml_type(raw: Any) -> str:
    if isinstance(raw, bool):
        return "boolean"
    if isinstance(raw, str):
        return "string"
    if isinstance(raw, int):
        return "integer"
    if isinstance(raw, float):
        return "float"
    if isinstance(raw, dict):
        return "table"
    if isinstance(raw, list):
        return "array"
    if isinstance(raw, dt.datetime):
        return "date-time"
    if isinstance(raw, dt.date):
        return "date"
    if isinstance(raw, dt.time):
        return "time"
    return type(raw).__name__


class Value(abc.ABC):
    """Base type: `required` keys must be present; `doc` says what the key is for; `default`
    is the value of an optional key the file leaves out (`NO_DEFAULT`: none, or computed by
    the loader from other keys)."""

    missing = "missing required key"

    def __init__(self, *, required: bool = False, doc: str = "") -> None:
        self.required = required
        self.doc = doc
        self.default: Any = NO_DEFAULT

    @abc.abstractmethod
    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        """The typed value of `raw`; problems go to `issues` (never raised)."""

    def _wrong_type(self, expected: str, raw: Any, path: Path, issues: Issues) -> Any:
        issues.add(path, f"must be {expected}, not {describe(raw)}")
        return INVALID


class Str(Value):
    def __init__(
        self,
        *,
        choices: tuple[str, ...] | None = None,
        allow_empty: bool = False,
        pattern: str | None = None,
        what: str = "",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.choices = choices
        self.allow_empty = allow_empty
        self.pattern = re.compile(pattern) if pattern else None
        self.what = what

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, str):
            return self._wrong_type(self.what or "a string", raw, path, issues)
        if self.choices is not None and raw not in self.choices:
            hint = did_you_mean(raw, self.choices)
            issues.add(
                path, f"must be one of {one_of(self.choices)}, not {raw!r}.{hint}".rstrip(".")
            )
            return INVALID
        if not raw and not self.allow_empty:
            issues.add(path, "must not be empty")
            return INVALID
        if self.pattern is not None and not self.pattern.fullmatch(raw):
            issues.add(path, f"must be {self.what}, not {raw!r}")
            return INVALID
        return raw


class Secret(Str):
    """A string never shown in full (printed as ********)."""


class Key(Str):
    """One telephone key: 0-9, * or #."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(pattern=r"[0-9*#]", what="one telephone key: 0-9, * or #", **kw)


class Keys(Str):
    """Keys typed in a row ("" = press nothing)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(
            pattern=r"[0-9*#]*", allow_empty=True, what="telephone keys (0-9, * or #)", **kw
        )


class SipName(Str):
    """A name that goes into FreeSWITCH's dial strings and commands as it is (a SIP domain, a
    sofia gateway or profile): a comma, a brace or a blank there would change the command."""

    def __init__(self, **kw: Any) -> None:
        what = "a name of letters, digits, '.', '_' or '-' (as FreeSWITCH's config has it)"
        super().__init__(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]*", what=what, **kw)


class Extension(Str):
    def __init__(self, **kw: Any) -> None:
        what = 'a desk phone extension of 2 to 6 digits (a string, "1001")'
        super().__init__(pattern=r"[0-9]{2,6}", what=what, **kw)


class Cidr(Str):
    """A private IP network in CIDR notation: "192.168.1.0/24" (never the whole internet)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(what='a network in CIDR notation like "192.168.1.0/24"', **kw)

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        value = super().convert(raw, path, issues)
        if value is INVALID:
            return value
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            issues.add(path, f"must be {self.what}, not {value!r}")
            return INVALID
        if str(network) != value:
            issues.add(path, f"{value!r} has host bits set: did you mean '{network}'?")
            return INVALID
        if not network.is_private:
            issues.add(
                path,
                f"{value!r} is not a private network: desk phones live on the practice LAN "
                "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16...)",
            )
            return INVALID
        return value


class IpAddress(Str):
    def __init__(self, **kw: Any) -> None:
        super().__init__(what='an IP address like "192.168.1.10"', **kw)

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        value = super().convert(raw, path, issues)
        if value is INVALID:
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            issues.add(path, f"must be {self.what}, not {value!r}")
            return INVALID
        return value


class Number(Str):
    """A telephone number: digits, with an optional leading '+'."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(
            pattern=r"\+?[0-9]{2,20}",
            what="a telephone number: digits with an optional leading '+' (a string, no spaces)",
            **kw,
        )


class Timezone(Str):
    def __init__(self, **kw: Any) -> None:
        super().__init__(what="an IANA time zone such as 'Europe/Paris'", **kw)

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        value = super().convert(raw, path, issues)
        if value is INVALID:
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(value, zoneinfo.available_timezones())
            issues.add(path, f"unknown time zone {value!r}.{hint}".rstrip("."))
            return INVALID
        return value


class Int(Value):
    """A count. Both bounds are required (for `Float` too), so that no numeric key accepts a
    negative or absurd value."""

    def __init__(self, *, minimum: float, maximum: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.minimum: float = minimum
        self.maximum: float = maximum

    def _accepts(self, raw: Any) -> bool:
        return isinstance(raw, int) and not isinstance(raw, bool)

    def _expected(self) -> str:
        return "an integer"

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not self._accepts(raw):
            return self._wrong_type(self._expected(), raw, path, issues)
        if not self.minimum <= raw <= self.maximum:
            low, high = _plain(self.minimum), _plain(self.maximum)
            issues.add(path, f"must be between {low} and {high}, not {raw}")
            return INVALID
        return raw


class Float(Int):
    """A number of seconds and the like: integer or float, returned as float; never nan or
    inf (TOML allows both, and every comparison with nan is false)."""

    def _accepts(self, raw: Any) -> bool:
        return isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)

    def _expected(self) -> str:
        return "a finite number"

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        value = super().convert(raw, path, issues)
        return value if value is INVALID else float(value)


def _plain(number: float) -> str:
    """`5.0` -> "5", `0.5` -> "0.5"."""
    return str(int(number)) if float(number).is_integer() else str(number)


class Bool(Value):
    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, bool):
            return self._wrong_type("true or false", raw, path, issues)
        return raw


class Date(Value):
    """A TOML local date, written without quotes: 2026-12-24."""

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if isinstance(raw, dt.datetime) or not isinstance(raw, dt.date):
            return self._wrong_type("a date without quotes, like 2026-12-24", raw, path, issues)
        return raw


class TimeRanges(Value):
    """Opening hours of one day: ["08:30-12:30", "14:00-19:00"], ascending, not overlapping."""

    _RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, list):
            return self._wrong_type('an array of ranges like ["08:30-12:30"]', raw, path, issues)
        ranges: list[tuple[dt.time, dt.time]] = []
        ok = True
        for index, item in enumerate(raw):
            here = path + (index,)
            match = self._RANGE.fullmatch(item) if isinstance(item, str) else None
            times = None
            if match:
                h1, m1, h2, m2 = (int(g) for g in match.groups())
                if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60:
                    times = dt.time(h1, m1), dt.time(h2, m2)
            if times is None:
                issues.add(
                    here, f'must be a range of hours like "08:30-12:30", not {describe(item)}'
                )
                ok = False
                continue
            start, end = times
            if start >= end:
                issues.add(here, f"must start before it ends ({item!r})")
                ok = False
                continue
            if ranges and start < ranges[-1][1]:
                issues.add(
                    here,
                    f"{item!r} must come after and not overlap the range before it "
                    "(ranges are written in order, the gap between two is lunch)",
                )
                ok = False
                continue
            ranges.append(times)
        return tuple(ranges) if ok else INVALID


class List(Value):
    def __init__(self, item: Value, *, nonempty: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.item = item
        self.nonempty = nonempty

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, list):
            return self._wrong_type("an array", raw, path, issues)
        if self.nonempty and not raw:
            issues.add(path, "must not be empty")
            return INVALID
        out = [self.item.convert(item, path + (index,), issues) for index, item in enumerate(raw)]
        return INVALID if any(v is INVALID for v in out) else tuple(out)


class Table(Value):
    """A TOML table with known keys; `extra` is the type of any other key holding a table
    (e.g. one table per prompt next to `directory`)."""

    missing = "missing required table"

    def __init__(self, fields: dict[str, Value], *, extra: Value | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.fields = fields
        self.extra = extra

    @classmethod
    def of(cls, settings: type, *, extra: Value | None = None, **kw: Any) -> Table:
        """The table of the keys declared on the fields of the dataclass `settings`."""
        return cls(declared_keys(settings), extra=extra, **kw)

    def with_keys(self, **fields: Value) -> Table:
        """This table with more keys: those of the file with no field of their own (each
        declared once: here, not on a dataclass)."""
        twice = set(fields) & set(self.fields)
        if twice:
            raise ValueError(f"keys declared twice: {sorted(twice)}")
        return Table(
            {**self.fields, **fields}, extra=self.extra, required=self.required, doc=self.doc
        )

    def defaults(self) -> dict[str, Any]:
        """The default of each optional key that has one."""
        return {k: v.default for k, v in self.fields.items() if v.default is not NO_DEFAULT}

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, dict):
            return self._wrong_type("a table", raw, path, issues)
        out: dict[str, Any] = {}
        for key, value in raw.items():
            here = path + (key,)
            if key in self.fields:
                kind = self.fields[key]
            elif self.extra is not None and isinstance(value, dict):
                kind = self.extra
            else:
                issues.add(
                    here, f"unknown key {key!r}.{did_you_mean(key, self.fields)}".rstrip(".")
                )
                continue
            converted = kind.convert(value, here, issues)
            if converted is not INVALID:
                out[key] = converted
        for key, kind in self.fields.items():
            if kind.required and key not in raw:
                issues.add(path + (key,), kind.missing)
        return out


class Map(Value):
    """A table of names chosen by the technician, each holding a `value`."""

    missing = "missing required table"

    def __init__(self, value: Value, *, key: Value | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.value = value
        self.key = key

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, dict):
            return self._wrong_type("a table", raw, path, issues)
        out: dict[str, Any] = {}
        for key, value in raw.items():
            here = path + (key,)
            if self.key is not None and self.key.convert(key, here, issues) is INVALID:
                continue
            converted = self.value.convert(value, here, issues)
            if converted is not INVALID:
                out[key] = converted
        return out


class TableArray(List):
    """[[name]] tables, in order; an invalid one is kept as INVALID."""

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, list):
            return self._wrong_type("an array of tables", raw, path, issues)
        # Invalid items stay in place (as INVALID) so that indexes match the file.
        return tuple(self.item.convert(item, path + (i,), issues) for i, item in enumerate(raw))


class Tagged(Value):
    """A table whose `tag` key chooses which table type the rest of it is."""

    def __init__(self, tag: str, variants: dict[str, Table], **kw: Any) -> None:
        super().__init__(**kw)
        self.tag = tag
        self.variants = variants

    def convert(self, raw: Any, path: Path, issues: Issues) -> Any:
        if not isinstance(raw, dict):
            return self._wrong_type("a table", raw, path, issues)
        kind = raw.get(self.tag)
        if kind is None:
            issues.add(path + (self.tag,), f"missing required key (one of {one_of(self.variants)})")
            return INVALID
        if not isinstance(kind, str) or kind not in self.variants:
            hint = did_you_mean(str(kind), self.variants)
            issues.add(
                path + (self.tag,),
                f"must be one of {one_of(self.variants)}, not {describe(kind)}.{hint}".rstrip("."),
            )
            return INVALID
        rest = {k: v for k, v in raw.items() if k != self.tag}
        return kind, self.variants[kind].convert(rest, path, issues)


# -- declaring a key once ------------------------------------------------------------------


def key(kind: Value, default: Any = NO_DEFAULT, *, computed: str = "", name: str = "") -> Any:
    """A dataclass field that is a config key: its type and range (`kind`), its default, its
    TOML name (`name`, when not the field's) -- the one place they are written (see
    `declare`). A `Secret` is left out of the dataclass's repr."""
    metadata = {KEY: (name, declare(kind, default, computed=computed))}
    shown = not isinstance(kind, Secret)
    if isinstance(default, dict):
        return dataclasses.field(
            default_factory=lambda: dict(default), repr=shown, metadata=metadata
        )
    return dataclasses.field(default=default, repr=shown, metadata=metadata)


def declare(kind: Value, default: Any = NO_DEFAULT, *, computed: str = "") -> Value:
    """`kind` as a key with `default`. No `default` and no `computed`: a required key.
    `computed` says how the loader derives the value of an optional key from other keys (it
    has no default of its own). A default the key's own type refuses (out of its range, not
    one of its choices) is an error at import."""
    declared = copy.copy(kind)
    declared.required = default is NO_DEFAULT and not computed
    declared.default = default
    if computed:
        declared.doc = f"{declared.doc}; default: {computed}".lstrip("; ")
    problem = check_default(declared)
    if problem:
        raise ValueError(problem)
    return declared


def declared_keys(settings: type) -> dict[str, Value]:
    """TOML name -> type of each key declared on the fields of the dataclass `settings`."""
    keys: dict[str, Value] = {}
    for f in dataclasses.fields(settings):
        if KEY in f.metadata:
            name, kind = f.metadata[KEY]
            keys[name or f.name] = kind
    return keys


def check_default(kind: Value) -> str:
    """What is wrong with `kind.default` as a value of the key (empty: nothing). None means
    "not set" and is always allowed."""
    if kind.default is NO_DEFAULT or kind.default is None:
        return ""
    issues = Issues()
    kind.convert(_as_written(kind.default), ("default",), issues)
    return "; ".join(f"default {kind.default!r}: {message}" for _, message in issues.items)


def _as_written(value: Any) -> Any:
    """A default as the technician would write it in the file."""
    if isinstance(value, tuple) and value and all(isinstance(v, dt.time) for v in value):
        return "-".join(v.strftime("%H:%M") for v in value)  # a range of TimeRanges
    if isinstance(value, tuple):
        return [_as_written(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value
