"""The staff's inbox: everything callers left for the desk, in one list, with done marks.

Two kinds of item, newest first:

- a **message**: a file a caller recorded, whoever recorded it (a message node of the flow:
  a prescription renewal, a message for the desk, the queue's voicemail; the static fallback
  of FreeSWITCH's dialplan; a call cut by a daemon that died). Every message file of
  ``[storage] messages`` is an item, whether a call's row holds it already or not yet (the
  daemon links files at start and every minute, `frontdesk.messages`): a message recorded while
  the daemon is down is listed at once, and each file once.
  Its ref is the start of its call's uuid; done marks are kept per call (``message_done``).
- a **booking request** (`frontdesk.agenda.BookingRequest`, the hand-off agenda's): ref
  ``R<id>``; its done mark is on its row.

Only the database and the directory are read: it works with or without the daemon running.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from frontdesk.agenda import BookingRequest
from frontdesk.config.model import REASONS
from frontdesk.messages import (
    WavInfo,
    is_message,
    message_file,
    read_wav_info,
    settled_messages,
)
from frontdesk.store import FiledBookingRequest, Store

MESSAGE_REF_LENGTH = 8
"""A message is shown by the first characters of its call's uuid."""
MIN_REF_LENGTH = 4
"""The shortest start of a uuid `mark_done` takes (a unique one)."""
REQUEST_REF = "R"
"""A booking request's ref is this and its id (no uuid holds an R)."""
BOOKING_REQUEST = "booking request"
"""The reason shown for a booking request."""


@dataclass(frozen=True)
class InboxItem:
    """One thing a caller left for the desk."""

    ref: str
    at: datetime
    """When the call began (a message), or when the request was stored."""
    reason: str
    """The call's contact reason (``prescription``, ``other``…), ``fallback`` for a message
    of the static fallback, `BOOKING_REQUEST`."""
    caller_number: str
    """The caller's number (a request: the number to call back); untrusted text."""
    caller_name: str = ""
    call_uuid: str | None = None
    outcome: str | None = None
    """How the call ended, when its row says (``message``, ``voicemail``, ``fallback``…)."""
    file: Path | None = None
    seconds: float | None = None
    """Length of the message; None when its file is missing (and for a request)."""
    request: BookingRequest | None = None
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def missing(self) -> bool:
        """A message whose file is no longer on disk."""
        return self.file is not None and self.seconds is None


def inbox(store: Store, directory: Path, *, include_done: bool = False) -> list[InboxItem]:
    """The open items (`include_done`: every item), newest first."""
    requests = store.booking_requests(include_done=include_done)
    items = [*_messages(store, directory, include_done),
             *(_request_item(store, filed) for filed in requests)]
    return sorted(items, key=lambda item: item.at, reverse=True)


def mark_done(store: Store, directory: Path, ref: str, *, by: str, at: datetime) -> bool:
    """Mark the open item `ref` done (a message: every message of its call); False when no
    open item matches, or several do."""
    ref = ref.strip().lower()
    if ref[:1] == REQUEST_REF.lower() and ref[1:].isdigit():
        return store.booking_request_done(int(ref[1:]), by=by, at=at)
    if len(ref) < MIN_REF_LENGTH:
        return False
    calls = {
        item.call_uuid for item in inbox(store, directory)
        if item.request is None and item.call_uuid and item.call_uuid.startswith(ref)
    }
    if len(calls) != 1:
        return False
    return store.message_done(calls.pop(), by=by, at=at)


def _messages(store: Store, directory: Path, include_done: bool) -> Iterator[InboxItem]:
    """Each message file once; those of calls marked done only with `include_done` (their
    files are not even opened otherwise: the directory keeps every message ever left)."""
    marks = store.message_marks()
    rows = store.messages()
    held = {Path(row["message_file"]).name for row in rows}  # however the path was spelled
    for row in rows:
        if include_done or row["uuid"] not in marks:
            path = Path(row["message_file"])
            found = message_file(path)
            yield _message_item(path, found is not None and found.fallback, row, marks,
                                at=row["started_at"], uuid=row["uuid"])
    for found, mtime in settled_messages(directory):
        shown = include_done or found.call_uuid not in marks
        if shown and found.path.name not in held and is_message(found.path):
            row = store.get_call(found.call_uuid) or {}
            at = row.get("started_at") or found.stamp or datetime.fromtimestamp(mtime, UTC)
            yield _message_item(found.path, found.fallback, row, marks,
                                at=at, uuid=found.call_uuid)


def _message_item(
    path: Path,
    fallback: bool,
    row: dict[str, Any],
    marks: dict[str, tuple[datetime, str]],
    *,
    at: datetime,
    uuid: str,
) -> InboxItem:
    """A message file, told by its call's row (empty: none yet), else by the file itself."""
    info = read_wav_info(path) if path.is_file() else None
    done_at, done_by = marks.get(uuid, (None, None))
    return InboxItem(
        ref=uuid[:MESSAGE_REF_LENGTH],
        at=at,
        reason=row.get("reason") or _tagged_reason(info) or ("fallback" if fallback else "other"),
        caller_number=row.get("caller_number") or (info.artist if info else ""),
        caller_name=row.get("caller_name") or "",
        call_uuid=uuid,
        outcome=row.get("outcome"),
        file=path,
        seconds=None if info is None else info.seconds,
        done_at=done_at,
        done_by=done_by,
    )


def _tagged_reason(info: WavInfo | None) -> str | None:
    """The reason the flow wrote into its message (`esl.commands.message_tags`)."""
    return info.comment if info is not None and info.comment in REASONS else None


def _request_item(store: Store, filed: FiledBookingRequest) -> InboxItem:
    request = filed.request
    patient = None if request.patient_id is None else store.get_patient(request.patient_id)
    return InboxItem(
        ref=f"{REQUEST_REF}{filed.id}",
        at=filed.created_at,
        reason=BOOKING_REQUEST,
        caller_number=request.callback_number,
        caller_name="" if patient is None else patient.name,
        call_uuid=request.call_uuid,
        request=request,
        done_at=filed.done_at,
        done_by=filed.done_by,
    )
