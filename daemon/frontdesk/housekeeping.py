"""The daily jobs: what is past its retention purged (frontdesk.retention), the database
backed up.

They run inside the daemon rather than from a systemd timer: the daemon holds the database's
only writing connection (in the store's worker thread), so SQLite's online backup copies it
from there while calls go on, with no second process competing for the lock; the purge uses
the retention and directories of the config the daemon has loaded (reloads included); and the
box keeps one unit, one sandbox, one user. The SQL stays in `frontdesk.store`.

Once a day, at ``[maintenance] daily_at`` (local time of the practice), or at the first look
after it when the daemon was down then: today's backup file is the mark that the day's jobs
ran, so a restart does not run them twice. ``backups_kept`` backups are kept, the newest.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import structlog

from frontdesk._background import BackgroundLoop
from frontdesk.clock import Clock
from frontdesk.config.model import MaintenanceSettings
from frontdesk.retention import purge_expired

if TYPE_CHECKING:
    from frontdesk.config.model import Config
    from frontdesk.store import Store

log = structlog.get_logger(__name__)

CHECK_EVERY = 60.0
"""Seconds between two looks at the clock."""
BACKUP_PREFIX = "frontdesk-"


def backup_path(settings: MaintenanceSettings, local: datetime) -> Path:
    return settings.backup_directory / f"{BACKUP_PREFIX}{local:%Y-%m-%d}.db"


class Maintained(Protocol):
    """What the daily jobs use of the running daemon (the config of its last reload)."""

    config: Config
    store: Store
    clock: Clock


class DailyJobs(BackgroundLoop):
    """Runs the daily jobs of a running daemon (its store, config and clock)."""

    def __init__(self, daemon: Maintained) -> None:
        super().__init__()
        self.daemon = daemon

    def due(self, now: datetime) -> bool:
        config = self.daemon.config
        local = now.astimezone(ZoneInfo(config.practice.timezone))
        settings = config.maintenance
        return local.time() >= settings.daily_at and not backup_path(settings, local).exists()

    def run(self, now: datetime) -> None:
        """Purge what is past its retention, back the database up, drop the oldest backups.
        A purge that fails is logged and the backup is made all the same."""
        config, store = self.daemon.config, self.daemon.store
        settings = config.maintenance
        try:
            purge_expired(store, config, now)
        except Exception:
            log.exception("retention.failed")
        local = now.astimezone(ZoneInfo(config.practice.timezone))
        target = backup_path(settings, local)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        store.backup(target)
        backups = sorted(settings.backup_directory.glob(f"{BACKUP_PREFIX}*.db"))
        for old in backups[: -settings.backups_kept]:
            old.unlink(missing_ok=True)
        log.info("maintenance.done", backup=str(target), backups_kept=settings.backups_kept)

    def _loop(self) -> None:
        while True:
            now = self.daemon.clock.wall()
            if self.due(now):
                try:
                    self.run(now)
                except Exception:
                    log.exception("maintenance.failed")
            self.daemon.clock.sleep(CHECK_EVERY)
