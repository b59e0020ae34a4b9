"""The callers' messages on disk, and the call rows they belong to.

FreeSWITCH writes two kinds of message files into ``[storage] messages``:

- ``<uuid>.wav``: a message node of the flow (frontdesk.flow). The daemon puts the file on the
  call's row when the record ends; a daemon killed meanwhile never does, so the file is linked
  to its (interrupted) row here. The flow tags it with the caller's number and the reason
  (``IART``, ``ICMT``: `frontdesk.esl.commands.message_tags`), for a row that was lost.
- ``fallback-<YYYYmmdd-HHMMSS>-<uuid>.wav``: the static fallback of the shipped dialplan, run
  when the daemon is down or did not serve the call. Its calls have no row: one is created here
  (outcome and reason "fallback"), with the caller's number FreeSWITCH wrote into the file
  (``RECORD_ARTIST``, which mod_sndfile stores as the WAV's ``LIST/INFO`` ``IART`` tag).

`MessageLinker` does both at start, then every `SCAN_EVERY` seconds, and records a fallback
call the moment it ends when the daemon is running (its CHANNEL_HANGUP_COMPLETE on the control
connection). Linking is idempotent: a row keeps the first message file it was given, and a
fallback call gets one row.

A WAV file comes from FreeSWITCH but its text from the caller: `read_wav_info` reads at most a
few kilobytes of it, whatever its chunk sizes claim, and keeps printable characters only.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import gevent
import structlog

from frontdesk._background import BackgroundLoop
from frontdesk.clock import Clock
from frontdesk.features import feature_of
from frontdesk.flow import MIN_MESSAGE_MS
from frontdesk.logs import mask_number
from frontdesk.store import StoreUnavailable

if TYPE_CHECKING:
    from frontdesk.config.model import Config
    from frontdesk.esl import Event
    from frontdesk.schedule import Schedule
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

SCAN_EVERY = 60.0
"""Seconds between two looks at the messages directory."""
SETTLE_SECONDS = 10.0
"""A file written to less than this long ago may still be recording (FreeSWITCH writes as the
caller speaks): it is left for a later scan."""
MAX_CHUNKS = 32
"""RIFF chunks looked at in one file (a WAV from mod_sndfile has four or five)."""
MAX_INFO_BYTES = 4096
"""A LIST chunk larger than this is skipped unread."""
MAX_TEXT_CHARS = 64
"""Characters kept of a caller-controlled tag (a phone number is well under this)."""

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID = re.compile(_UUID)
FLOW_MESSAGE = re.compile(rf"({_UUID})\.wav")
FALLBACK_MESSAGE = re.compile(rf"fallback-(?:(.*)-)?({_UUID})\.wav")
"""The name the shipped dialplan gives the fallback's message: ``fallback-<time>-<uuid>.wav``,
the time as ``%Y%m%d-%H%M%S`` of FreeSWITCH's strftime (local time: this box's). A name with
another time, or none, is taken too: the file's mtime tells the time then."""


@dataclass(frozen=True)
class WavInfo:
    """What a message file says about itself; empty text when it says nothing readable."""

    artist: str = ""
    """``IART``: the caller's number in the static fallback's messages."""
    comment: str = ""
    """``ICMT``."""
    seconds: float = 0.0
    """Length of the audio (0 when the header does not tell)."""


def read_wav_info(path: Path) -> WavInfo:
    """The INFO tags and length of a WAV file; never raises for a malformed or missing file."""
    try:
        with path.open("rb") as wav:
            return _parse_riff(wav, os.fstat(wav.fileno()).st_size)
    except OSError:
        return WavInfo()


def _parse_riff(wav: IO[bytes], size: int) -> WavInfo:
    head = wav.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
        return WavInfo()
    tags: dict[bytes, bytes] = {}
    byte_rate = data_bytes = 0
    offset = 12
    for _ in range(MAX_CHUNKS):
        wav.seek(offset)
        header = wav.read(8)
        if len(header) < 8:
            break
        chunk, length = header[:4], int.from_bytes(header[4:], "little")
        available = size - offset - 8
        if chunk == b"fmt " and min(length, available) >= 16:
            byte_rate = int.from_bytes(wav.read(16)[8:12], "little")
        elif chunk == b"data":
            data_bytes = min(length, available)  # a file still recording may claim more
        elif chunk == b"LIST" and length <= min(MAX_INFO_BYTES, available):
            tags = {**_info_tags(wav.read(length)), **tags}
        if length > available:
            break
        offset += 8 + length + (length & 1)
    return WavInfo(
        artist=untrusted_text(tags.get(b"IART", b"")),
        comment=untrusted_text(tags.get(b"ICMT", b"")),
        seconds=data_bytes / byte_rate if byte_rate else 0.0,
    )


def _info_tags(payload: bytes) -> dict[bytes, bytes]:
    """The sub-chunks of a ``LIST`` chunk of type ``INFO`` (the first of each tag)."""
    if payload[:4] != b"INFO":
        return {}
    tags: dict[bytes, bytes] = {}
    position = 4
    while position + 8 <= len(payload):
        tag = payload[position : position + 4]
        length = int.from_bytes(payload[position + 4 : position + 8], "little")
        tags.setdefault(tag, payload[position + 8 : position + 8 + length])
        position += 8 + length + (length & 1)
    return tags


def untrusted_text(raw: bytes | str | None) -> str:
    """Caller-controlled text as it may be stored: printable characters only (no escape
    sequence reaches a terminal later), at most `MAX_TEXT_CHARS`."""
    if raw is None:
        return ""
    text = raw.split(b"\0", 1)[0].decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return "".join(char for char in text if char.isprintable())[:MAX_TEXT_CHARS]


def _local_stamp(stamp: str) -> datetime | None:
    """``20261127-091502`` in this box's local time (FreeSWITCH's strftime), as UTC."""
    try:
        return datetime.strptime(stamp, "%Y%m%d-%H%M%S").astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _from_uepoch(value: str | None) -> datetime | None:
    """A FreeSWITCH ``*_uepoch`` variable (microseconds; "0" = never) as a datetime."""
    if not value or not value.isdigit() or int(value) == 0:
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1_000_000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def is_message(path: Path) -> bool:
    """Long enough to be a message rather than a caller hanging up at the beep (as the flow
    judges its own recordings)."""
    return read_wav_info(path).seconds * 1000 >= MIN_MESSAGE_MS


@dataclass(frozen=True)
class MessageFile:
    """A file of the messages directory named as the flow or the static fallback name theirs."""

    path: Path
    call_uuid: str
    fallback: bool
    """Recorded by the static fallback (``fallback-<time>-<uuid>.wav``)."""
    stamp: datetime | None = None
    """The time in a fallback's name, when readable."""


def message_file(path: Path) -> MessageFile | None:
    """What the file's name says, or None for a name neither the flow nor the fallback gives."""
    if flow := FLOW_MESSAGE.fullmatch(path.name):
        return MessageFile(path, flow.group(1), fallback=False)
    if fallback := FALLBACK_MESSAGE.fullmatch(path.name):
        stamp = _local_stamp(fallback.group(1) or "")
        return MessageFile(path, fallback.group(2), fallback=True, stamp=stamp)
    return None


def settled_messages(
    directory: Path, skip: Container[str] = ()
) -> Iterator[tuple[MessageFile, float]]:
    """The message files of `directory` (names in `skip` left out) with their mtime, except
    those written to in the last `SETTLE_SECONDS` (maybe still recording). Nothing for a
    missing directory (reported at the daemon's start)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if entry.name in skip or (found := message_file(Path(directory, entry.name))) is None:
            continue
        try:
            mtime = entry.stat().st_mtime
        except OSError:  # deleted meanwhile
            continue
        if now - mtime >= SETTLE_SECONDS:
            yield found, mtime


class MessageDesk(Protocol):
    """What the message linker uses of the running daemon (the config of its last reload)."""

    config: Config
    schedule: Schedule
    store: Store
    clock: Clock


class MessageLinker(BackgroundLoop):
    """Links the message files of a running daemon to their calls' rows (module docstring)."""

    def __init__(self, daemon: MessageDesk) -> None:
        super().__init__()
        self.daemon = daemon
        self._settled: set[str] = set()
        """Names of the files dealt with since the start (linked, or no call of ours)."""

    def _loop(self) -> None:
        while True:
            try:
                self.scan()
            except StoreUnavailable as error:  # said by the store: the next scan tries again
                log.warning("messages.scan_postponed", error=str(error))
            except Exception:  # a failing disk: the next scan tries again
                log.exception("messages.scan_failed")
            self.daemon.clock.sleep(SCAN_EVERY)

    @property
    def directory(self) -> Path:
        return self.daemon.config.storage.messages

    def scan(self) -> int:
        """Link every message file written to long enough ago and not dealt with yet;
        returns how many rows were created or given a message."""
        linked: set[str] | None = None
        changed = 0
        for found, mtime in settled_messages(self.directory, skip=self._settled):
            if linked is None:
                linked = self.daemon.store.message_files()
            if str(found.path) not in linked:
                changed += self._link(found, mtime)
            self._settled.add(found.path.name)
        return changed

    def _link(self, found: MessageFile, mtime: float) -> bool:
        if found.fallback:
            return self._fallback_file(found, mtime)
        store, path = self.daemon.store, found.path
        linked = is_message(path) and store.link_message(found.call_uuid, str(path))
        if linked:
            log.info("messages.linked_after_restart", call=found.call_uuid, file=str(path))
        return linked

    def _fallback_file(self, found: MessageFile, mtime: float) -> bool:
        """A fallback message found on disk: all the call's row can say is in the file."""
        info = read_wav_info(found.path)
        ended = datetime.fromtimestamp(mtime, UTC)
        started = min(found.stamp or ended, ended)
        message = str(found.path) if info.seconds * 1000 >= MIN_MESSAGE_MS else None
        return self._record_fallback(
            found.call_uuid, caller_number=info.artist, caller_name="", destination="",
            started_at=started, answered_at=None, ended_at=ended, hangup_cause=None,
            message_file=message,
        )

    # -- calls the daemon never served, as they end ------------------------------------

    def call_ended_unserved(self, event: Event) -> None:
        """CHANNEL_HANGUP_COMPLETE of a channel the daemon did not serve: a caller of the
        practice's line (an inbound channel that ran the `socket` application, which sets
        ``socket_host``; not a feature code) was taken by the static fallback. Recorded in a
        greenlet of its own: the control connection's events never wait on the database."""
        destination = event.get("Caller-Destination-Number") or ""
        if (
            event.get("Call-Direction") == "inbound"
            and event.variable("socket_host")
            and feature_of(self.daemon.config, destination) is None
            and UUID.fullmatch(event.uuid)
        ):
            gevent.spawn(self._record_ended, event, destination)

    def _record_ended(self, event: Event, destination: str) -> None:
        uuid = event.uuid
        ended = _from_uepoch(event.variable("end_uepoch")) or self.daemon.clock.wall()
        started = min(_from_uepoch(event.variable("start_uepoch")) or ended, ended)
        message = self._fallback_message_of(uuid)
        try:
            self._record_fallback(
                uuid,
                caller_number=untrusted_text(event.get("Caller-Caller-ID-Number")),
                caller_name=untrusted_text(event.get("Caller-Caller-ID-Name")),
                destination=untrusted_text(destination),
                started_at=started,
                answered_at=_from_uepoch(event.variable("answer_uepoch")),
                ended_at=ended,
                hangup_cause=untrusted_text(event.get("Hangup-Cause")) or None,
                message_file=None if message is None else str(message),
            )
        except StoreUnavailable as error:  # the file, if any, is linked by the next scans
            log.warning("messages.fallback_call_not_recorded", call=uuid, error=str(error))
            return
        except Exception:
            log.exception("messages.fallback_call_not_recorded", call=uuid)
            return
        if message is not None:
            self._settled.add(message.name)

    def _fallback_message_of(self, uuid: str) -> Path | None:
        """The fallback's message file of this call, if the caller left one."""
        for path in sorted(self.directory.glob(f"fallback-*{uuid}.wav")):
            if FALLBACK_MESSAGE.fullmatch(path.name) and is_message(path):
                return path
        return None

    def _record_fallback(self, uuid: str, **call) -> bool:
        daemon, store = self.daemon, self.daemon.store
        started = call["started_at"]
        state = daemon.schedule.state_at(started, store.get_override(now=started))
        changed = store.fallback_call(
            uuid, **call, schedule_state=state.state, schedule_detail=state.detail,
            config_version=daemon.config.version,
        )
        if changed:
            log.info(
                "messages.fallback_call_recorded",
                call=uuid,
                caller=mask_number(call["caller_number"]),
                message=call["message_file"],
            )
        return changed
