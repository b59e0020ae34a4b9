"""Who may use the console: logins (with a growing delay after failures), sessions (a cookie
holding a random token; the store keeps only its hash), and the checks every request passes.

- The session cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page
  sends it), Secure under HTTPS, and lasts `[console] session_hours` at most. Logging out, a
  new password or `frontdesk users remove` ends it at once (the store drops the row).
- Every action is a POST carrying the session's CSRF token (a hidden field, or the
  ``X-CSRF-Token`` header for scripts), and a POST whose ``Origin`` is another site's is
  refused before anything else: a forged cross-site form does nothing.
- A failed login is answered after `FAILED_LOGIN_DELAY` (a typo costs no more). From the
  answer to the second failure in a row for the same name or from the same address, both are
  locked out for `FIRST_LOCK`, and after each further one for twice as long as the time before
  (up to `MAX_LOCK`): guessing passwords from the LAN takes years. Attempts for one name or
  from one address are checked one after another: guesses sent at once would otherwise all
  pass the lockout before the first of them failed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import gevent
import gevent.event
import structlog

from frontdesk.clock import Clock
from frontdesk.console.passwords import dummy_verify, verify_password
from frontdesk.logs import Throttle
from frontdesk.store import ConsoleSession, Store

log = structlog.get_logger(__name__)

COOKIE = "frontdesk_session"
FAILED_LOGIN_DELAY = 1.0
"""Seconds before a failed login is answered."""
FIRST_LOCK, MAX_LOCK = 1.0, 300.0
"""Seconds a name and an address are locked out from the answer to a failure: none after the
first, FIRST_LOCK after the second in a row, doubling with each further one, up to MAX_LOCK."""
FORGET_FAILURES_AFTER = 900.0
"""Seconds after which failures are forgotten (a success forgets the name's at once)."""
MAX_TRACKED = 10_000
"""Names and addresses remembered at most (the oldest are forgotten first)."""


def token_hash(token: str) -> str:
    """What the store keeps of a session's token: its SHA-256 (a stolen database holds no
    usable session)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class _Failures:
    count: int
    last: float
    locked_until: float


class LoginRefused(Exception):
    """A login refused: wrong name or password, or locked out for a while (`retry_after`)."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("locked" if retry_after else "wrong name or password")
        self.retry_after = retry_after


class Auth:
    """Logins and sessions of one console, on the daemon's clock and store."""

    def __init__(self, store: Store, clock: Clock, *, session_hours: int) -> None:
        self.store = store
        self.clock = clock
        self.session_hours = session_hours
        self._failures: dict[str, _Failures] = {}
        self._locked_refusals = Throttle(60.0)
        self._checking: dict[str, gevent.event.Event] = {}
        """Names and addresses with an attempt being checked, and its end."""

    # -- logging in and out ----------------------------------------------------------------

    def login(self, name: str, password: str, address: str) -> tuple[str, ConsoleSession]:
        """A new session: its cookie's token, and the session. LoginRefused otherwise (after
        `FAILED_LOGIN_DELAY` for a wrong password)."""
        keys = (f"user:{name.casefold()}", f"address:{address}")
        with self._one_at_a_time(keys):
            return self._login(name, password, address, keys)

    def _login(self, name: str, password: str, address: str,
               keys: tuple[str, str]) -> tuple[str, ConsoleSession]:
        now = self.clock.now()
        locked = max((f.locked_until for k in keys if (f := self._failures.get(k))),
                     default=0.0)
        if locked > now:
            skipped = self._locked_refusals.due()  # anyone may knock as fast as they like
            if skipped is not None:
                log.warning("console.login_locked", address=address,
                            retry_after=round(locked - now), not_logged_before=skipped)
            raise LoginRefused(retry_after=locked - now)
        user = self.store.console_user(name)
        if user is None:
            gevent.get_hub().threadpool.apply(dummy_verify, (password,))
            valid = False
        else:
            valid = gevent.get_hub().threadpool.apply(
                verify_password, (password, user.password_hash))
        if user is None or not valid:
            log.warning("console.login_failed", address=address)
            self.clock.sleep(FAILED_LOGIN_DELAY)
            self._failed(keys)
            raise LoginRefused()
        self._failures.pop(keys[0], None)
        token = secrets.token_urlsafe(32)
        wall = self.clock.wall()
        session = ConsoleSession(
            token_hash=token_hash(token), user=user.name, csrf=secrets.token_urlsafe(32),
            created_at=wall, expires_at=wall + timedelta(hours=self.session_hours),
            extension=None,
        )
        self.store.open_console_session(session)
        self.store.console_action(user.name, "login", detail=address, at=wall)
        log.info("console.login", user=user.name)
        return token, session

    def logout(self, session: ConsoleSession) -> None:
        self.store.close_console_session(session.token_hash)
        self.store.console_action(session.user, "logout", at=self.clock.wall())
        log.info("console.logout", user=session.user)

    @contextmanager
    def _one_at_a_time(self, keys: tuple[str, str]) -> Iterator[None]:
        """Wait until no attempt for these keys is being checked, then hold them."""
        while busy := [self._checking[key] for key in keys if key in self._checking]:
            busy[0].wait()
        done = gevent.event.Event()
        self._checking.update(dict.fromkeys(keys, done))
        try:
            yield
        finally:
            for key in keys:
                del self._checking[key]
            done.set()

    def _failed(self, keys: tuple[str, ...]) -> None:
        now = self.clock.now()
        for key in keys:
            before = self._failures.get(key)
            count = 1 if before is None or now - before.last > FORGET_FAILURES_AFTER \
                else before.count + 1
            lock = 0.0 if count == 1 else min(FIRST_LOCK * 2 ** (count - 2), MAX_LOCK)
            self._failures.pop(key, None)  # re-inserted last: the dict stays oldest first
            self._failures[key] = _Failures(count, now, now + lock)
        while len(self._failures) > MAX_TRACKED:
            del self._failures[next(iter(self._failures))]

    # -- every request ---------------------------------------------------------------------

    def session(self, token: str | None) -> ConsoleSession | None:
        """The session of a cookie's token; None when absent, unknown, or expired."""
        if not token or len(token) > 128:
            return None
        return self.store.console_session(token_hash(token), now=self.clock.wall())


def csrf_valid(session: ConsoleSession, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode())


def same_origin(origin: str | None, host: str) -> bool:
    """A POST's ``Origin`` header (when the browser sent one) names this console's host."""
    if origin is None:
        return True  # not a browser: it holds no cookie of ours unless given one
    return urlsplit(origin).netloc == host
