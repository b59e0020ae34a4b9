"""The systemd notification protocol (sd_notify), without a dependency.

systemd passes ``NOTIFY_SOCKET`` (a filesystem path, or an abstract socket name written with a
leading ``@``) to a ``Type=notify`` service; the service sends newline-separated
``KEY=VALUE`` assignments in one datagram: ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``,
``STOPPING=1``, ``RELOADING=1``. With ``WatchdogSec=`` systemd also passes ``WATCHDOG_USEC``
(and ``WATCHDOG_PID``, the process meant to ping). Outside systemd every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify_address(environ: Mapping[str, str] = os.environ) -> str | bytes | None:
    """Where notifications go, as `socket.connect` takes it; None when not under systemd."""
    address = environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    if address.startswith("/"):
        return address
    return None


def watchdog_seconds(environ: Mapping[str, str] = os.environ) -> float | None:
    """The watchdog period systemd asked for (``WatchdogSec=``), or None when there is none
    or it is meant for another process."""
    pid = environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None


def notify(*assignments: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send ``KEY=VALUE`` assignments in one datagram; False when not under systemd or the
    socket is gone (never raises: notifications are advisory)."""
    address = notify_address(environ)
    if address is None or not assignments:
        return False
    if any("\n" in item for item in assignments):
        raise ValueError("an sd_notify assignment cannot contain a line break")
    payload = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError:
        return False
    return True
