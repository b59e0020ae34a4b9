"""The spoken queue announcement: the caller's position and an honest estimated wait.

"Vous êtes le deuxième patient en attente. Votre attente est estimée à environ trois
minutes." The words come from `frontdesk.speech` (ordinals, `duration`'s honest rounding), the
sound from `frontdesk.prompts.render_sentence` (espeak-ng, in gevent's thread pool), cached in
``announcements/`` next to the database: a sentence is synthesised once, ever, then played from
the cache at once. With nobody logged in the caller hears that, and what they can do instead
(the callback key when there is one, what happens when the wait runs out), never a figure.

A call's greenlet waits at most `RENDER_WAIT` for a sentence not yet in the cache; past that
the static prompt plays this time and the sentence lands in the cache for the next one. When
the sentence cannot be rendered at all (espeak-ng or sox missing, a bad voice) the static
prompts of `[queue]` (`announce_prompt`, `nobody_prompt`) are played, and it is logged once.
"""

from __future__ import annotations

import math
from pathlib import Path

import gevent
import structlog

from frontdesk.clock import Clock, RealClock
from frontdesk.config.model import Config
from frontdesk.prompts import render_sentence, sentence_file, voice_of
from frontdesk.speech import cardinal, duration, ordinal

log = structlog.get_logger(__name__)

CACHE = "announcements"
"""Subdirectory of the state directory (the database's) holding the rendered sentences."""
RENDER_WAIT = 2.0
"""Seconds a caller's greenlet waits for a sentence missing from the cache (on the daemon's
clock: a virtual clock stands still while espeak-ng works, so a rehearsal hears the same
sentences on a loaded machine)."""

_KEYS = {"fr": {"*": "étoile", "#": "dièse"}, "en": {"*": "star", "#": "hash"}}


class Announcer:
    """Builds and renders the announcements of one config (a reload makes a new one)."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.language = config.practice.language
        self.voice = voice_of(config)
        self.cache = config.storage.database.parent / CACHE
        self.settings = config.queue
        self.numbers = config.numbers
        self.texts: dict[Path, str] = {}
        """Every sentence rendered or found in the cache, by file (for tests and debugging)."""
        self._rendering: dict[Path, gevent.Greenlet] = {}
        self._broken = False

    # -- words ---------------------------------------------------------------------------

    def position_sentence(self, position: int, wait_s: float) -> str:
        """Position (1 = served next), the estimated remaining wait in seconds, and the
        callback key when there is one (offered from the first announcement on)."""
        fr = self.language == "fr"
        place = ordinal(position, self.language)
        text = (
            f"Vous êtes le {place} patient en attente."
            if fr
            else f"You are the {place} patient in line."
        )
        if math.isfinite(wait_s):
            spoken = duration(wait_s, self.language)
            text += (
                f" Votre attente est estimée à {spoken}."
                if fr
                else f" Your wait is estimated at {spoken}."
            )
        offer = self._callback_sentence()
        return f"{text} {offer}" if offer else text

    def nobody_sentence(self, remaining_s: float) -> str:
        """Nobody is logged in: say so, then the alternatives the config really offers.
        `remaining_s`: seconds until the caller's maximum wait (then `on_max_wait`)."""
        fr = self.language == "fr"
        parts = [
            "Personne n'est disponible à l'accueil pour le moment."
            if fr
            else "Nobody is available at the front desk right now."
        ]
        offer = self._callback_sentence()
        if offer:
            parts.append(offer)
        action, when = self.settings.on_max_wait, duration(max(remaining_s, 0.0), self.language)
        if action == "voicemail":
            parts.append(
                f"Sinon, vous pourrez laisser un message dans {when}."
                if fr
                else f"Otherwise, you will be able to leave a message in {when}."
            )
        elif action in self.numbers:
            parts.append(
                f"Sinon, vous serez transféré vers notre service de permanence dans {when}."
                if fr
                else f"Otherwise, you will be put through to our answering service in {when}."
            )
        elif action == "callback":
            parts.append(
                f"Sinon, un rappel vous sera proposé dans {when}."
                if fr
                else f"Otherwise, you will be offered a callback in {when}."
            )
        return " ".join(parts)

    def _callback_sentence(self) -> str | None:
        key = self.settings.callback_key
        if not key:
            return None
        spoken = _KEYS[self.language].get(key) or cardinal(int(key), self.language)
        if self.language == "fr":
            return f"Pour être rappelé sans perdre votre place, appuyez sur la touche {spoken}."
        return f"To be called back without losing your place, press {spoken}."

    # -- sound ---------------------------------------------------------------------------

    def render(self, text: str) -> Path | None:
        """The WAV saying `text`: at once from the cache, else rendered while the caller's
        greenlet waits up to `RENDER_WAIT`; None when not ready in time or not renderable."""
        target = sentence_file(text, self.voice, self.cache)
        self.texts[target] = text
        if target.is_file():
            return target
        if self._broken:
            return None
        job = self._rendering.get(target)
        if job is None:
            job = self._rendering[target] = gevent.spawn(self._render, text, target)
        self.clock.wait(job, RENDER_WAIT)
        return target if job.ready() and job.value else None

    def _render(self, text: str, target: Path) -> bool:
        try:
            render_sentence(text, self.voice, self.cache)
            return True
        except Exception as error:  # espeak-ng or sox missing or failing: static prompts
            if not self._broken:
                self._broken = True
                log.warning("queue.announcement_unavailable", error=str(error), voice=self.voice)
            return False
        finally:
            self._rendering.pop(target, None)
