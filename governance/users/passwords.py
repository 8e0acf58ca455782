"""Password hashing with Argon2id (argon2-cffi), memory-hard so a stolen table is slow to
guess from, and the rules a new password must meet.

The parameters are argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB,
three passes); a hash made with older parameters is re-hashed at the next sign-in.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256
_HASHER = PasswordHasher()
# Verified against when the name is unknown, so an unknown name costs as long as a known one.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def password_problems(password: str, name: str) -> list[str]:
    """What is wrong with a new password; empty when it may be used."""
    problems = []
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters")
    elif len(password) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters")
    elif name and name.lower() in password.lower():
        problems.append("must not contain the user name")
    return problems


def one_time_password() -> str:
    """A generated password (about 120 bits), to be replaced at the first sign-in."""
    return secrets.token_urlsafe(15)
