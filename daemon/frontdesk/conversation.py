"""What the flow asks a caller on hold who wants to be called back: the number to call.

`confirm_number` reads the caller id back and has it confirmed (1), or lets the caller type
another (2, or at once when the number is hidden or may not be dialled); the queue then keeps
their place (`frontdesk.queue.callbacks`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from frontdesk.config.model import QueueSettings
from frontdesk.esl import CallSession
from frontdesk.queue.callbacks import MAX_DIGITS, MIN_DIGITS, callback_digits
from frontdesk.speech import phone_number

KEY_TIMEOUT_MS = 6000
TYPING_TIMEOUT_MS = 10000
INTER_DIGIT_MS = 4000

_SENTENCES = {
    "fr": {
        "read_back": "Nous vous rappellerons au {number}.",
        "type": "Tapez le numéro auquel nous pouvons vous rappeler, suivi de la touche dièse.",
    },
    "en": {
        "read_back": "We will call you back on {number}.",
        "type": "Please type the number we can call you back on, followed by the hash key.",
    },
}
_variables = itertools.count(1)


def confirm_number(
    session: CallSession,
    *,
    caller_number: str,
    settings: QueueSettings,
    language: str,
    prompt_uri: Callable[[str], str],
    invalid_uri: str,
    say: Callable[[str], str | None],
    dialable: Callable[[str], bool],
) -> str | None:
    """Ask the caller which number to call back; None if they did not confirm one.

    A caller id is read back (`say` renders a sentence, None when it cannot) and confirmed with
    1 (``callback_prompt``: "press 1 … to give another number, press 2"); a hidden number, or
    2, lets the caller type one (6 to 15 digits, then #). `dialable` refuses numbers frontdesk
    may not dial (international ones unless allowed)."""
    assert settings.callback_prompt is not None
    known = callback_digits(caller_number)
    sentences = _SENTENCES[language]
    if known and dialable(known):
        _say(session, say, sentences["read_back"].format(number=phone_number(known, language)))
        key = _ask(session, 1, 1, KEY_TIMEOUT_MS, prompt_uri(settings.callback_prompt),
                   invalid_uri, "^[12]$")
        if key == "1":
            return known
        if key != "2":
            return None
    prompt = say(sentences["type"]) or prompt_uri(settings.callback_prompt)
    typed = _ask(session, MIN_DIGITS, MAX_DIGITS, TYPING_TIMEOUT_MS, prompt, invalid_uri,
                 rf"^[0-9]{{{MIN_DIGITS},{MAX_DIGITS}}}$")
    if typed is None or not dialable(typed):
        return None
    _say(session, say, sentences["read_back"].format(number=phone_number(typed, language)))
    return typed


def _say(session: CallSession, say: Callable[[str], str | None], text: str) -> None:
    uri = say(text)
    if uri is not None:
        session.execute("playback", uri)


def _ask(
    session: CallSession,
    min_digits: int,
    max_digits: int,
    timeout_ms: int,
    prompt: str,
    invalid: str,
    regex: str,
) -> str | None:
    """Up to two tries; the invalid prompt after a wrong entry only (not after silence). The
    digits, or None."""
    for _ in range(2):
        digits, outcome = session.read_digits(
            prompt,
            variable=f"fd_callback_{next(_variables)}",
            regex=regex,
            timeout_ms=timeout_ms,
            min_digits=min_digits,
            max_digits=max_digits,
            inter_digit_ms=INTER_DIGIT_MS,
        )
        if digits is not None and digits.isdigit():
            return digits
        if outcome == "invalid":
            session.execute("playback", invalid)
    return None
