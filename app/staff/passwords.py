"""Staff passwords: argon2id through argon2-cffi, with its RFC 9106 "low memory" profile.

argon2id is memory-hard (it resists GPU guessing) and the encoded hash carries its own salt and
parameters, so raising the cost later only needs `needs_rehash` at the next sign-in. An unknown
account still costs one verification against a dummy hash, so timing does not reveal which
addresses have accounts.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024  # a bound on the work one sign-in attempt can ask for


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not a password of anyone: it only costs the same time")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher().hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; a missing hash spends the same time and fails."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)
