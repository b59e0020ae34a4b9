"""Password hashes of the console's users: scrypt (Python's hashlib, on OpenSSL), a
memory-hard key derivation function, with a random salt per password.

Why scrypt and not a dependency (argon2): it is in the standard library on every Python the
daemon runs on, memory-hard like Argon2, and its cost is written into each hash, so raising
`COST` later leaves the old hashes readable (they are rehashed at the next change of password).
One hash takes 32 MiB and 0.14 s on the development machine (more on a Raspberry Pi): fine
for a login, costly for someone guessing passwords from a stolen database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

COST = (2**15, 8, 1)
"""scrypt's n (CPU/memory cost), r (block size), p (parallelism): 32 MiB per hash."""
SALT_BYTES = 16
KEY_BYTES = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024
"""Longer passwords are refused (hashing megabytes of password is a denial of service)."""


class WeakPassword(ValueError):
    """A password refused when it is set (too short, too long, or the user's name)."""


def check_strength(name: str, password: str) -> None:
    """Raises WeakPassword with what to change."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"at least {MIN_LENGTH} characters, please")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"at most {MAX_LENGTH} characters, please")
    if password.strip().casefold() == name.casefold():
        raise WeakPassword("not the user's own name, please")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$key`` (base64 without padding)."""
    n, r, p = COST
    salt = secrets.token_bytes(SALT_BYTES)
    derived = _derive(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (a `hash_password` result); False for anything
    that is not such a hash. Compared in constant time."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_LENGTH:
            return False
        derived = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, _unb64(expected))


def dummy_verify(password: str) -> None:
    """The work of a verification, for a user who does not exist: the answer takes as long
    whether or not the name is known."""
    verify_password(password, _DUMMY)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=2 * 128 * r * (n + p + 2), dklen=KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


_DUMMY = hash_password(secrets.token_urlsafe(16))
