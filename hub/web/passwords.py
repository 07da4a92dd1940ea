"""Passwords: Argon2id hashes (argon2-cffi, RFC 9106's parameters) and the length rule."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte is a denial of service, not a password

#: argon2-cffi's defaults are RFC 9106's low-memory choice: Argon2id, t=3, m=64 MiB, p=4
_HASHER = PasswordHasher()
#: a hash checked when no account has the address typed, so that both cases take the same time
_DUMMY = _HASHER.hash("no account has this address, the time taken is the same")


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the Argon2 hash ``stored``; an account without one (None)
    never matches, in the time a match would take."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
