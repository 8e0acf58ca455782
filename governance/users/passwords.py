"""Password hashing with Argon2id (argon2-cffi), memory-hard so a stolen table is slow to
guess from, and the rules a new password must meet.

The parameters are argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB,
three passes); a hash made with older parameters is re-hashed at the next sign-in.

A new password must be long enough and hard to guess. "Hard to guess" is judged by zxcvbn
(Dropbox's estimator, maintained on PyPI), not by a hand-made rule: it knows common
passwords, names, words, keyboard walks, repeats and dates, and ``aaaaaaaaaaaa`` or
``Password1234!`` meet any length-and-classes rule while falling to a guesser in seconds.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 256
# zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more, out of reach of an
# online guesser and slow to find offline against an Argon2id hash.
MIN_STRENGTH = 3
ESTIMATED_LENGTH = 72
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
    """What is wrong with a new password; empty when it may be used. Every place a password
    is chosen asks this (``UserService.create`` for the console and ``governance users
    create``, and ``change_password``)."""
    problems = []
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters")
    elif len(password) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters")
    elif name and name.lower() in password.lower():
        problems.append("must not contain the user name")
    else:
        # zxcvbn's matching grows faster than linearly (256 repeated characters take
        # seconds); its own limit is 72, and 72 characters that are hard to guess make a
        # strong password whatever follows them
        estimate = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=[name] if name else [])
        if estimate["score"] < MIN_STRENGTH:
            # zxcvbn's own advice, which names patterns ("Repeats like \"aaa\" ..."), never
            # the password; without one, a plain request for something longer
            warning = (estimate["feedback"].get("warning") or "").rstrip(".")
            problems.append(
                f"too easy to guess{' (' + warning + ')' if warning else ''}; "
                "use a longer phrase of uncommon words"
            )
    return problems


def one_time_password() -> str:
    """A generated password (about 120 bits), to be replaced at the first sign-in."""
    return secrets.token_urlsafe(15)
