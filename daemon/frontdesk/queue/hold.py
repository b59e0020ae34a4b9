"""What a waiting caller hears, run by the flow on the caller's own outbound session.

The caller stays on their session and hears hold music (`QueueSettings.moh`) cut by an
announcement on entry and every `announce_every` seconds. Music has no end of its own: the
queue stops it with ``uuid_break`` from the control connection when the next announcement or
an overflow is due, and ``uuid_bridge`` stops whatever is playing when a staff phone answers,
so the caller is connected at once. When the staff member hangs up, the shipped dialplan hangs
the caller up (``frontdesk_talked``, see `frontdesk.esl.commands`), whether or not the daemon
is still running.

Hold music FreeSWITCH cannot play (it ends at once) is replaced by the practice's ringing tone
for every caller, with one warning, and tried again now and then (`_music`).

With a callback key, it is the playback terminator: FreeSWITCH ends the music or announcement
when it is pressed (``playback_terminator_used``) and the session's DTMF event tells the loop,
which runs `offer_callback` (the flow's: confirm the number with `frontdesk.conversation`,
thanks, hang up).
"""

from __future__ import annotations

from collections.abc import Callable

import gevent
import gevent.event
import structlog

from frontdesk.config.model import QueueSettings
from frontdesk.esl import CallSession, Event
from frontdesk.queue.announce import Announcer
from frontdesk.queue.callbacks import ringback_tone
from frontdesk.queue.core import CallQueue, Waiting

ANSWERED = "answered"
CALLBACK = "callback_requested"
MUSIC_MIN_SECONDS = 1.0
"""A hold playback ending by itself sooner than this (queue seconds) is music that fails."""
MUSIC_RETRY_SECONDS = 60.0
"""Music that failed is tried again this often (queue seconds); the ringing tone meanwhile."""
FALLBACK_PAUSE_SECONDS = 5.0
"""When the ringing tone fails too: the wait before the next try (queue seconds)."""

log = structlog.get_logger(__name__)


def hold(
    session: CallSession,
    queue: CallQueue,
    entry: Waiting,
    settings: QueueSettings,
    prompt_uri: Callable[[str], str],
    *,
    max_wait: float | None = None,
    announce: bool = True,
    announcer: Announcer | None = None,
    offer_callback: Callable[[], bool] | None = None,
    on_answered: Callable[[], None] | None = None,
) -> str:
    """Hold the caller until a staff member answers ("answered"), they asked to be called back
    (CALLBACK: `offer_callback()` returned True when they pressed the callback key or, with
    ``on_max_wait = "callback"``, at the maximum wait) or an overflow rule fires (its action:
    "voicemail", "callback" or a number's name). A caller who hangs up leaves the queue as
    abandoned (CallGone propagates), unless they are waiting for their callback.
    `on_answered()` is called as soon as the caller is bridged to the staff."""
    limit = settings.max_wait if max_wait is None else max_wait
    action = settings.on_max_wait
    key = settings.callback_key if offer_callback is not None else None
    pressed = _watch_key(session, key)
    next_announce = queue.now()
    try:  # from the first command on: a caller already gone must still leave the queue
        session.set("playback_terminators", key or "none")
        while entry.state in ("waiting", "connecting"):
            if entry.state == "connecting":
                entry.changed.wait()
                entry.changed.clear()
                continue
            if pressed.is_set():
                pressed.clear()
                if offer_callback is not None and offer_callback():
                    return CALLBACK
                continue
            now = queue.now()
            if entry.wait(now) >= limit:
                if action == "callback" and offer_callback is not None:
                    if offer_callback():
                        return CALLBACK
                    if entry.state != "waiting":  # a phone answered meanwhile
                        continue
                queue.overflowed(entry, "max_wait", action)
                return action
            if announce and now >= next_announce:
                next_announce = now + settings.announce_every
                _announce(session, queue, entry, settings, prompt_uri, announcer, limit)
                continue
            # what is left of the wait, from the same subtraction as the test above: always
            # more than 0 (`entered + limit - now` may round to 0 and play music for nothing)
            left = min(next_announce - now if announce else float("inf"), limit - entry.wait(now))
            _music(session, queue, entry, settings.moh, left)
        if entry.state == "connected":
            if on_answered is not None:
                on_answered()
            session.hungup.wait()  # the dialplan ends the caller when the staff hangs up
            return ANSWERED
        return "left"
    finally:
        if entry.state in ("waiting", "connecting") and entry.callback is None:
            queue.leave(entry, "abandoned" if session.hungup.is_set() else "left")


def _watch_key(session: CallSession, key: str | None) -> gevent.event.Event:
    """An event set each time the caller presses `key` (from the session's DTMF events)."""
    pressed = gevent.event.Event()

    def on_event(event: Event) -> None:
        if event.name == "DTMF" and event.get("DTMF-Digit") == key:
            pressed.set()

    if key:
        session.on_event(on_event)
    return pressed


def _announce(
    session: CallSession,
    queue: CallQueue,
    entry: Waiting,
    settings: QueueSettings,
    prompt_uri: Callable[[str], str],
    announcer: Announcer | None,
    limit: float,
) -> None:
    """The spoken position and wait (or that nobody is logged in) when `announcer` can render
    it; otherwise the static prompt of [queue], if any."""
    nobody = queue.nobody_logged_in(entry.extensions)
    uri = None
    said = None
    if announcer is not None:
        if nobody:
            text = announcer.nobody_sentence(entry.entered + limit - queue.now())
        else:
            said = queue.estimate(entry)["frontdesk"]
            text = announcer.position_sentence(queue.position(entry), said)
        sentence = announcer.render(text)
        uri = str(sentence) if sentence is not None else None
        said = said if sentence is not None else None  # the static prompt tells no figure
    prompt = settings.nobody_prompt if nobody else settings.announce_prompt
    if uri is None and prompt is not None:
        uri = prompt_uri(prompt)
    if uri is None or entry.state != "waiting":  # nothing to say, or answered meanwhile
        return
    queue.announced(entry, said)
    session.execute("playback", uri)


def _music(
    session: CallSession, queue: CallQueue, entry: Waiting, moh: str, seconds: float
) -> None:
    """Play hold music for `seconds` (queue clock) or until the caller is connected.

    Music has no end of its own: a playback that ends by itself within MUSIC_MIN_SECONDS, or
    with an error, is a source FreeSWITCH cannot play (no ``moh`` directory: "Unknown source
    moh"). Then every caller hears the practice's ringing tone instead and the music is tried
    again every MUSIC_RETRY_SECONDS, with one warning; if the tone fails too, the loop waits
    FALLBACK_PAUSE_SECONDS between tries: never a tight loop of playbacks."""
    started = queue.now()
    retry_at = queue.music_unavailable.get(moh)
    source = moh if retry_at is None or started >= retry_at else _fallback(queue)
    stopped = gevent.event.Event()

    def stop() -> None:
        stopped.set()
        queue.break_media(entry.uuid)

    timer = queue.clock.call_later(seconds, stop)
    try:
        done = session.execute("playback", source, timeout=session.limit(seconds))  # timer ends it
    finally:
        timer.cancel()
    played = queue.now() - started
    response = done.get("Application-Response") or ""
    if (
        stopped.is_set()
        or entry.state != "waiting"
        or session.hungup.is_set()
        or done.variable("playback_terminator_used")
        or (played >= MUSIC_MIN_SECONDS and response in ("", "FILE PLAYED"))
    ):
        if source == moh and played >= MUSIC_MIN_SECONDS:
            _music_played(queue, moh)
        return
    if source == moh:
        _music_failed(queue, moh, response)
    else:
        queue.clock.wait(session.hungup, min(max(seconds, 0.0), FALLBACK_PAUSE_SECONDS))


def _fallback(queue: CallQueue) -> str:
    """What callers hear on hold while the music cannot be played: the ringing tone of the
    practice's country (the callback desk knows it)."""
    return queue.callbacks.ringback if queue.callbacks is not None else ringback_tone("")


def _music_failed(queue: CallQueue, moh: str, response: str) -> None:
    if moh not in queue.music_unavailable:
        log.warning("hold.music_unavailable", source=moh, response=response,
                    fallback=_fallback(queue), retry_every=MUSIC_RETRY_SECONDS)
    queue.music_unavailable[moh] = queue.now() + MUSIC_RETRY_SECONDS


def _music_played(queue: CallQueue, moh: str) -> None:
    if queue.music_unavailable.pop(moh, None) is not None:
        log.info("hold.music_available", source=moh)
