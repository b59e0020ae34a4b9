"""The end of a move, the same for every adapter: the new slot is booked, the old appointment
is cancelled, and if that fails the new one is given back (nothing half-done)."""

from __future__ import annotations

import structlog

from frontdesk.agenda import Agenda, Appointment

log = structlog.get_logger(__name__)


def finish_move(agenda: Agenda, old: Appointment, new: Appointment, *, by: str) -> Appointment:
    """Cancel `old` now that `new` is booked; `new`. If the cancel fails, `new` is cancelled
    too and the cancel's error raised."""
    try:
        agenda.cancel(old, by=by)
    except BaseException:
        _give_back(agenda, new, by)
        raise
    return new


def _give_back(agenda: Agenda, new: Appointment, by: str) -> None:
    try:
        agenda.cancel(new, by=by)
    except Exception:
        log.error("agenda.move_left_both", moved_from_kept=True, new_appointment=new.id)
        raise
