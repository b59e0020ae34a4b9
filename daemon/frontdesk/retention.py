"""How long frontdesk keeps what it records, and the daily purge (``[retention]``; the choice
of the defaults is explained in docs/retention.md).

`purge_expired` runs in the daily job (frontdesk.housekeeping), in this order:
1. recordings past ``[recording] retention_days`` (frontdesk.recording);
2. callers' messages: the file, then its name on the call's row, once marked done
   ``messages_done_days`` ago, or when the call began ``messages_open_days`` ago (marked done
   or not: a message nobody dealt with is not kept for ever either);
3. booking requests left for the desk, by the same two rules;
4. call records older than ``call_records_days`` (`Store.purge_call_records`), and the
   console's expired sessions;
5. message files that no call's row names (the static fallback's not linked yet, those of
   rows just purged), by their done mark, else by their age (the file's time).
A file that is gone already is counted, its name cleared, and the purge goes on; one that
cannot be deleted keeps its name (tried again the next day); an unreadable directory is
logged and the rest is purged. Everything is logged once, as counts (``retention.purged``).

What is purged is gone from the figures too: a report over a period older than
``call_records_days`` only counts what is kept (docs/retention.md).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from frontdesk._files import Deleted, delete_file, would_delete
from frontdesk.messages import message_file
from frontdesk.recording import purge_recordings

if TYPE_CHECKING:
    from frontdesk.config.model import Config, RetentionSettings
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

MESSAGE_COUNTS = (
    "messages_done",
    "messages_never_done",
    "message_files_missing",
    "messages_kept_undeletable",
)
"""What `retention.purged` says of the messages: files deleted (or found gone already) of
messages marked done and of messages nobody marked; of those, files that were gone already;
files that could not be deleted (each logged as ``file.delete_failed``; tried again the next
day)."""


class _MessagePurge:
    """The two moments before which a message goes: marked done before `done_before`, or
    left before `open_before`; and how its file goes (`remove`)."""

    def __init__(self, settings: RetentionSettings, now: datetime, dry_run: bool) -> None:
        self.done_before = now - timedelta(days=settings.messages_done_days)
        self.open_before = now - timedelta(days=settings.messages_open_days)
        self.dry_run = dry_run
        self.remove = would_delete if dry_run else delete_file


def purge_expired(
    store: Store, config: Config, now: datetime, *, dry_run: bool = False
) -> dict[str, int]:
    """Delete what the retention periods no longer cover (module docstring); return how many
    of each kind went, as logged. `dry_run`: how many would go; nothing is deleted or
    logged (the files of the call records that would go are counted only when their
    messages are past their own periods)."""
    settings = config.retention
    purge = _MessagePurge(settings, now, dry_run)
    files = Counter(dict.fromkeys(MESSAGE_COUNTS, 0))
    counts = {"recordings": purge_recordings(store, config.recording, now, dry_run=dry_run)}
    _purge_held_messages(store, purge, files)
    counts["booking_requests"] = store.purge_booking_requests(
        done_before=purge.done_before, created_before=purge.open_before, dry_run=dry_run
    )
    counts.update(store.purge_call_records(
        now - timedelta(days=settings.call_records_days), dry_run=dry_run
    ))
    _purge_unheld_messages(store, config.storage.messages, purge, files)
    counts.update(files)
    if dry_run:
        return counts
    counts["console_sessions_expired"] = store.purge_console_sessions(now=now)
    log.info("retention.purged", **counts)
    if files["messages_never_done"]:
        log.warning("retention.messages_never_done_purged", count=files["messages_never_done"],
                    older_than_days=settings.messages_open_days)
    return counts


def _purge_held_messages(store: Store, purge: _MessagePurge, files: Counter[str]) -> None:
    """The message files calls' rows name, then their names."""
    expired = store.messages_to_purge(
        done_before=purge.done_before, started_before=purge.open_before
    )
    for uuid, file, done in expired:
        outcome = purge.remove(Path(file))
        if outcome is not Deleted.FAILED and not purge.dry_run:
            store.message_purged(uuid)
        _count(files, outcome, done)


def _purge_unheld_messages(
    store: Store, directory: Path, purge: _MessagePurge, files: Counter[str]
) -> None:
    try:
        entries = list(os.scandir(directory))
    except OSError as error:
        log.error("retention.directory_unreadable", directory=str(directory),
                  error=error.strerror)
        return
    held = {Path(file).name for file in store.message_files()}
    marks = store.message_marks()
    for entry in entries:
        found = message_file(Path(directory, entry.name))
        if found is None or entry.name in held:
            continue
        try:
            left_at = entry.stat().st_mtime
        except OSError:  # deleted meanwhile
            continue
        done = marks.get(found.call_uuid)
        if done is not None and done[0] < purge.done_before:
            _count(files, purge.remove(found.path), True)
        elif left_at < purge.open_before.timestamp():
            _count(files, purge.remove(found.path), done is not None)


def _count(files: Counter[str], outcome: Deleted, done: bool) -> None:
    if outcome is Deleted.FAILED:
        files["messages_kept_undeletable"] += 1
        return
    if outcome is Deleted.MISSING:
        files["message_files_missing"] += 1
    files["messages_done" if done else "messages_never_done"] += 1
