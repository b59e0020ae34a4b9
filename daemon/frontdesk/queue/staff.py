"""Staff phones and their states, learnt from FreeSWITCH's events and the queue's own actions.

A phone's state is derived, never set by hand, so it cannot stay stuck:
- ``ringing``: the queue is offering it a caller (an originate of ours is in flight);
- ``on_call``: FreeSWITCH has an answered channel of this phone, or any channel of it the
  queue did not originate (a call the staff member placed or received directly);
- ``unregistered`` / ``logged_out``: not reachable, or the staff member logged out;
- ``wrapup``: a call of this phone ended less than `wrapup_seconds` ago;
- ``skipped``: it rang for a caller without answering less than `skip_seconds` ago;
- ``idle``: available.
Channels are mapped to an extension by their ``presence_id`` (``1001@domain``: calls to the
phone) or their caller id number (calls from it). After a (re)connection `reconcile` rebuilds
registrations and channels from ``sofia xmlstatus profile … reg`` and ``show channels as json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from frontdesk.clock import Clock, Timer
from frontdesk.esl import Event

STATES = ("idle", "ringing", "on_call", "wrapup", "skipped", "unregistered", "logged_out")


@dataclass
class StaffPhone:
    ext: str
    registered: bool = False
    logged_in: bool = True
    state: str = "unregistered"
    since: float = 0.0
    """Monotonic time of the last state change."""
    idle_since: float = 0.0
    """Monotonic time the phone last became idle (longest-idle dispatch)."""
    offers: set[str] = field(default_factory=set)
    """Uuids of the legs the queue is ringing on this phone."""
    channels: dict[str, bool] = field(default_factory=dict)
    """Live channels of this phone: uuid -> answered."""
    wrapup_until: float = 0.0
    skip_until: float = 0.0

    def derive(self, now: float) -> str:
        if self.offers:
            return "ringing"
        if self.channels:
            return "on_call"
        if not self.registered:
            return "unregistered"
        if not self.logged_in:
            return "logged_out"
        if now < self.wrapup_until:
            return "wrapup"
        if now < self.skip_until:
            return "skipped"
        return "idle"


StateListener = Callable[[StaffPhone], None]


class StaffBoard:
    """Every staff phone the queue may ring. `on_change(phone)` is called after each change of
    a phone's derived state (stored and published by the queue). Times are `clock` seconds."""

    def __init__(
        self,
        extensions: Iterable[str],
        *,
        wrapup_seconds: float,
        skip_seconds: float,
        on_change: StateListener,
        clock: Clock,
    ) -> None:
        self.phones: dict[str, StaffPhone] = {}
        self.wrapup_seconds = wrapup_seconds
        self.skip_seconds = skip_seconds
        self.clock = clock
        self._on_change = on_change
        self._timers: dict[str, Timer] = {}
        self.set_extensions(extensions)

    def now(self) -> float:
        return self.clock.now()

    # -- configuration -----------------------------------------------------------------

    def set_extensions(self, extensions: Iterable[str]) -> None:
        """Add new extensions; drop removed ones only when nothing is going on with them (a
        reload never loses a phone on a call)."""
        wanted = list(dict.fromkeys(extensions))
        for ext in wanted:
            if ext not in self.phones:
                phone = StaffPhone(ext, since=self.now(), idle_since=self.now())
                self.phones[ext] = phone
        for ext in [e for e in self.phones if e not in wanted]:
            phone = self.phones[ext]
            if not phone.offers and not phone.channels:
                del self.phones[ext]

    def restore(self, ext: str, *, logged_in: bool) -> None:
        """Take a login state remembered from before a restart."""
        phone = self.phones.get(ext)
        if phone is not None:
            phone.logged_in = logged_in
            self._update(phone)

    # -- facts -------------------------------------------------------------------------

    def set_registered(self, ext: str, registered: bool) -> None:
        phone = self.phones.get(ext)
        if phone is not None and phone.registered != registered:
            phone.registered = registered
            self._update(phone)

    def set_registrations(self, registered: set[str], extensions: Iterable[str]) -> None:
        """Take the registrations of `extensions` from the set of registered users."""
        for ext in extensions:
            self.set_registered(ext, ext in registered)

    def set_logged_in(self, ext: str, logged_in: bool) -> bool:
        """Log a staff member in or out; False if the extension is not a staff phone."""
        phone = self.phones.get(ext)
        if phone is None:
            return False
        phone.logged_in = logged_in
        self._update(phone)
        return True

    def offer_started(self, ext: str, leg_uuid: str) -> None:
        phone = self.phones[ext]
        phone.offers.add(leg_uuid)
        self._update(phone)

    def offer_ended(self, ext: str, leg_uuid: str, *, answered: bool, skip: bool) -> None:
        """The originate of `leg_uuid` is over: answered (now a live channel) or not."""
        phone = self.phones.get(ext)
        if phone is None:
            return
        phone.offers.discard(leg_uuid)
        if answered:
            phone.channels[leg_uuid] = True
        if skip:
            phone.skip_until = self.now() + self.skip_seconds
            self._wake_at(phone, phone.skip_until)
        self._update(phone)

    def on_event(self, event: Event, ours: Callable[[str], bool]) -> None:
        """Registrations and channel life cycles from the control connection. `ours(uuid)`
        tells legs the queue is originating (their state comes from the originate's result)."""
        name = event.name
        if name == "CUSTOM":
            subclass = event.get("Event-Subclass")
            if subclass in ("sofia::register", "sofia::unregister"):
                user = event.get("from-user") or event.get("to-user") or ""
                self.set_registered(user, subclass == "sofia::register")
            return
        uuid = event.uuid
        if not uuid:
            return
        if name == "CHANNEL_HANGUP_COMPLETE":
            self.channel_gone(uuid)
            return
        if ours(uuid):
            return
        ext = self._extension_of(
            event.variable("presence_id") or "", event.get("Caller-Caller-ID-Number") or ""
        )
        if ext is None:
            return
        phone = self.phones[ext]
        answered = name == "CHANNEL_ANSWER" or phone.channels.get(uuid, False)
        if phone.channels.get(uuid) != answered:
            phone.channels[uuid] = answered
            self._update(phone)

    def channel_gone(self, uuid: str) -> None:
        for phone in self.phones.values():
            if uuid in phone.channels:
                answered = phone.channels.pop(uuid)
                if answered and self.wrapup_seconds > 0:
                    phone.wrapup_until = self.now() + self.wrapup_seconds
                    self._wake_at(phone, phone.wrapup_until)
                self._update(phone)

    def reconcile(self, registered: set[str] | None, channels_json: str) -> None:
        """Replace what we believe with what FreeSWITCH says (after a (re)connection);
        `registered` None: registrations unknown, each phone keeps the one it had."""
        rows = json.loads(channels_json or "{}").get("rows") or []
        live: dict[str, dict[str, bool]] = {ext: {} for ext in self.phones}
        for row in rows:
            ext = self._extension_of(row.get("presence_id") or "", row.get("cid_num") or "")
            if ext is not None:
                live[ext][row["uuid"]] = row.get("callstate") in ("ACTIVE", "HELD")
        for ext, phone in self.phones.items():
            if registered is not None:
                phone.registered = ext in registered
            phone.channels = live[ext]
            phone.offers &= set(live[ext])
            self._update(phone)

    # -- choosing ------------------------------------------------------------------------

    def available(self, extensions: Iterable[str]) -> list[StaffPhone]:
        return [
            phone
            for ext in extensions
            if (phone := self.phones.get(ext)) is not None and phone.state == "idle"
        ]

    def counts(self) -> tuple[int, int, int]:
        """(available, logged in and registered, on a call)."""
        phones = self.phones.values()
        return (
            sum(p.state == "idle" for p in phones),
            sum(p.registered and p.logged_in for p in phones),
            sum(p.state == "on_call" for p in phones),
        )

    # -- internals -----------------------------------------------------------------------

    def _extension_of(self, presence_id: str, caller_number: str) -> str | None:
        user = presence_id.split("@", 1)[0]
        if user in self.phones:
            return user
        return caller_number if caller_number in self.phones else None

    def _update(self, phone: StaffPhone) -> None:
        now = self.now()
        state = phone.derive(now)
        if state == phone.state:
            return
        phone.state = state
        phone.since = now
        if state == "idle":
            phone.idle_since = now
        self._on_change(phone)

    def _wake_at(self, phone: StaffPhone, when: float) -> None:
        """Re-derive the phone's state when its next wrap-up or skip period ends."""
        timer = self._timers.pop(phone.ext, None)
        if timer is not None:
            timer.cancel()
        now = self.now()
        ends = [end for end in (phone.wrapup_until, phone.skip_until, when) if end > now]
        if ends:
            self._timers[phone.ext] = self.clock.call_later(
                min(ends) - now, self._expire, phone.ext
            )

    def _expire(self, ext: str) -> None:
        self._timers.pop(ext, None)
        phone = self.phones.get(ext)
        if phone is not None:
            self._update(phone)
            self._wake_at(phone, 0.0)  # the other period may still be running

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
