"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import SlaflowError

MIN_LENGTH = 10
MAX_LENGTH = 256


class WeakPassword(SlaflowError):
    pass


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return hasher().hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True if ``password`` matches; a missing hash still costs one hash, so timing does not
    tell whether an account has a password."""
    if stored is None:
        hasher().hash(password[:MAX_LENGTH])
        return False
    try:
        return hasher().verify(stored, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
