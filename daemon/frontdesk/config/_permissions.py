"""File permissions the config relies on (checked by `load_config`, so by check-config and by
the daemon at start and at every reload).

- A secrets file (the ESL password) must be neither readable nor writable by group or others:
  mode 0600 (or 0400), owned by the user frontdesk runs as.
- The config file decides who is dialled and where recordings go: it must not be writable by
  others (group-writable is fine: the technician's group may edit it). When it holds the ESL
  password itself (``esl_password``), it must not be readable by others either.
"""

from __future__ import annotations

import stat
from pathlib import Path


def secret_file_problem(path: Path) -> str | None:
    """Why `path` is not fit to hold a secret, with the fix; None when it is."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # reading it reports the problem
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{path} holds a secret but is {_who(mode)} (mode {stat.S_IMODE(mode):04o}): "
            f"chmod 600 {path}"
        )
    return None


def config_file_problem(path: Path) -> str | None:
    """Why the config file at `path` must not be trusted, with the fix; None when it may."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & stat.S_IWOTH:
        return (
            f"{path} is writable by others (mode {stat.S_IMODE(mode):04o}): anyone on the box "
            f"could change who is dialled; refusing it: chmod o-w {path}"
        )
    return None


def inline_secret_problem(path: Path) -> str | None:
    """Why the config file at `path` must not hold a password itself; None when it may."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & stat.S_IROTH:
        return (
            f"the password is written in {path}, which anyone on the box can read (mode "
            f"{stat.S_IMODE(mode):04o}): move it to esl_password_file (a file of mode 0600), "
            f"or chmod o-r {path}"
        )
    return None


def _who(mode: int) -> str:
    return " and ".join(
        words
        for bits, words in (
            (stat.S_IRWXG, "readable or writable by its group"),
            (stat.S_IRWXO, "readable or writable by others"),
        )
        if mode & bits
    )
