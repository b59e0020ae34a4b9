"""Deleting the files frontdesk keeps for a while (recordings, callers' messages)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class Deleted(Enum):
    """What became of a file `delete_file` was asked to delete."""

    DELETED = "deleted"
    MISSING = "missing"
    """It was gone already (deleted by hand, a disk restored from an older copy...)."""
    FAILED = "failed"
    """It is still there (logged): a permission, a read-only or failing disk."""


def delete_file(path: Path) -> Deleted:
    try:
        path.unlink()
    except FileNotFoundError:
        return Deleted.MISSING
    except OSError as error:
        log.error("file.delete_failed", file=str(path), error=error.strerror)
        return Deleted.FAILED
    return Deleted.DELETED


def would_delete(path: Path) -> Deleted:
    """What `delete_file` would say, deleting nothing (a dry run)."""
    return Deleted.DELETED if path.exists() else Deleted.MISSING
