"""Call recording: off unless ``[recording] enabled = true``, for the purpose the config names.

When it is on, every caller hears the consent prompt right after the greeting, and each
conversation with the staff (a bridge to staff phones) is recorded with FreeSWITCH's
``record_session``: started just before the bridge, stopped by FreeSWITCH at hangup. A ring
nobody answers is not kept (``stop_record_session`` and the file is deleted). Transfers to
outside numbers (on-call doctor, answering service) are not recorded: the person answering
there was never told. The file name and the purpose are stored with the call's record.

Staff can make unrecorded calls: frontdesk only ever records the calls FreeSWITCH hands to it
(a patient calling the practice). Calls the staff place themselves from their desk phones
(internal calls, or calling a patient back) never pass through frontdesk.

Recordings older than ``retention_days`` (counted from the start of the call) are deleted by
the daily job (`purge_recordings`): the file, then its name in the call's record (the time of
the purge is kept). Files in the directory that no record names (a ring nobody answered while
the daemon was being stopped, say) are deleted once they are as old.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from frontdesk._files import Deleted, delete_file, would_delete
from frontdesk.config.model import RecordingSettings
from frontdesk.esl import CallSession
from frontdesk.store import Store


class StaffRecorder:
    """Records a call's conversations with the staff."""

    def __init__(self, session: CallSession, settings: RecordingSettings) -> None:
        self.session = session
        self.settings = settings

    @property
    def path(self) -> Path:
        """The file of the call's recorded conversation."""
        return self.settings.directory / f"{self.session.uuid}.wav"

    def record(self, bridge: Callable[[], bool]) -> None:
        """Run `bridge` (True when someone answered) with the call recorded into `path`; when
        nobody answered nothing is kept."""
        path = self.path
        self.session.execute("record_session", str(path))
        if bridge():
            return
        if not self.session.hungup.is_set():
            self.session.execute("stop_record_session", str(path))
        _delete(path)


def purge_recordings(
    store: Store, settings: RecordingSettings, now: datetime, *, dry_run: bool = False
) -> int:
    """Delete the recordings older than the retention, and their names in the call records;
    return how many recordings went (the daily job logs it, `frontdesk.retention`). Without a
    retention (never enabled) nothing is done. `dry_run`: how many would go."""
    if settings.retention_days is None:
        return 0
    remove = would_delete if dry_run else delete_file
    cutoff = now - timedelta(days=settings.retention_days)
    purged = 0
    for uuid, file in store.recordings_before(cutoff):
        if remove(Path(file)) is not Deleted.FAILED:
            if not dry_run:
                store.recording_purged(uuid, now=now)
            purged += 1
    if settings.directory.is_dir():
        for path in settings.directory.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
                purged += remove(path) is not Deleted.FAILED
    return purged


def _delete(path: Path) -> bool:
    """Delete `path`; True when it is gone (now, or already before)."""
    return delete_file(path) is not Deleted.FAILED
