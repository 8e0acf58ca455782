"""Create, authenticate, manage and sign out console users, in the caller's unit of work.

Sign-in: an unknown name and a known one take the same path (one Argon2 verify, against a
dummy hash for an unknown name) and get the same answer. An account is never locked by
wrong passwords, which would let anyone shut someone else out; failed sign-ins are counted
per source instead (:mod:`governance.users.throttle`), and a source that spent its count is
refused for a while, whichever name it tries and whether the name exists or not.

A session is a random token; the cookie holds it, the table its hash. A session ends after
``idle`` without a request or ``absolute`` after sign-in, at logout, or when the account is
disabled or its role or password changes (a person changing their own password keeps the
session they changed it in; every other one ends). Every change here is audited by the
caller's actor (``user:<id>`` in the console, ``cli:<name>`` from the shell); a failed
sign-in is audited with the account it named (by id) or none.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Outcome, Target
from audit.log import AuditLog
from governance.audit_actions import AuditAction
from governance.authz import Role
from governance.timestamps import as_utc
from governance.users.errors import (
    InvalidUser,
    LoginFailed,
    SignInThrottled,
    UserNameTaken,
    UserNotFound,
)
from governance.users.models import ConsoleSession, ConsoleUser
from governance.users.passwords import (
    hash_password,
    needs_rehash,
    one_time_password,
    password_problems,
    verify_password,
)
from governance.users.throttle import SignInThrottle

# A session's last-seen time is written at most this often: a page view should not cost a
# write, and idle timeouts are counted in minutes.
SEEN_GRANULARITY = timedelta(seconds=60)
_NAME = re.compile(r"^[a-z][a-z0-9._\-]{1,63}$")
CONSOLE_ROLES = (Role.ADMIN, Role.COMPLIANCE_OFFICER, Role.AUDITOR)


def _now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedUser:
    user: ConsoleUser
    one_time_password: str | None  # shown once when the password was generated


@dataclass(frozen=True)
class SignedIn:
    user: ConsoleUser
    token: str  # for the cookie; only its hash is stored


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


class UserService:
    def __init__(
        self,
        session: Session,
        audit: AuditLog,
        actor: Actor,
        policy_version: str,
        *,
        request_id: str | None = None,
        throttle: SignInThrottle | None = None,
    ) -> None:
        self.session = session
        self.throttle = throttle  # None: sign-ins are not throttled (the CLI, which has none)
        self.audit = audit
        self.actor = actor
        self.policy_version = policy_version
        self.request_id = request_id

    # -- accounts -------------------------------------------------------------------------
    def create(self, name: str, role: str, password: str | None = None) -> CreatedUser:
        """A new user; with no ``password`` a one-time password is generated and returned."""
        errors: dict[str, list[str]] = {}
        name = name.strip().lower() if isinstance(name, str) else ""
        if not _NAME.match(name):
            errors["name"] = [
                "2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter"
            ]
        role_enum = _console_role(role, errors)
        generated = None
        if password is None:
            password = generated = one_time_password()
        elif problems := password_problems(password, name):
            errors["password"] = problems
        if errors:
            raise InvalidUser("the user is not valid", errors)
        if self.session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name)):
            raise UserNameTaken("a user of this name exists", extra={"name": name})
        user = ConsoleUser(
            id=uuid.uuid4().hex,
            name=name,
            role=str(role_enum),
            password_hash=hash_password(password),
            must_change_password=generated is not None,
            failed_logins=0,
            created_at=_now(),
        )
        self.session.add(user)
        self.session.flush()
        self._audit(AuditAction.USER_CREATED, user, {"role": user.role})
        return CreatedUser(user, generated)

    def list(self) -> list[ConsoleUser]:
        return list(self.session.scalars(select(ConsoleUser).order_by(ConsoleUser.name)))

    def get(self, user_id: str) -> ConsoleUser:
        user = self.session.get(ConsoleUser, user_id) if isinstance(user_id, str) else None
        if user is None:
            raise UserNotFound("no such user")
        return user

    def set_role(self, user_id: str, role: str) -> ConsoleUser:
        errors: dict[str, list[str]] = {}
        role_enum = _console_role(role, errors)
        if errors:
            raise InvalidUser("the role is not valid", errors)
        user = self.get(user_id)
        user.role = str(role_enum)
        self._end_sessions(user.id)  # a session must not outlive the role it was opened with
        self._audit(AuditAction.USER_UPDATED, user, {"role": user.role})
        return user

    def set_disabled(self, user_id: str, disabled: bool) -> ConsoleUser:
        user = self.get(user_id)
        user.disabled_at = _now() if disabled else None
        if disabled:
            self._end_sessions(user.id)
        self._audit(AuditAction.USER_UPDATED, user, {"revoked": disabled})
        return user

    def unlock(self, user_id: str) -> ConsoleUser:
        """Clear a lock set by an earlier version, which locked an account after five wrong
        passwords; sign-in no longer reads or sets one."""
        user = self.get(user_id)
        user.failed_logins = 0
        user.locked_until = None
        self._audit(AuditAction.USER_UNLOCKED, user, {})
        return user

    def reset_password(self, user_id: str) -> str:
        """A new one-time password for the user (an admin's reset); returns it once."""
        user = self.get(user_id)
        password = one_time_password()
        user.password_hash = hash_password(password)
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_until = None
        self._end_sessions(user.id)
        self._audit(AuditAction.USER_PASSWORD_RESET, user, {})
        return password

    def change_password(
        self, user: ConsoleUser, current: str, new: str, *, keep: str | None = None
    ) -> None:
        """Replace the password and end every session of the user but ``keep`` (the token of
        the session the person changed it in): whoever knew the old one is signed out."""
        if not verify_password(user.password_hash, current):
            raise InvalidUser(
                "the current password is wrong",
                {"current_password": ["is not the current password"]},
            )
        if problems := password_problems(new, user.name):
            raise InvalidUser("the new password cannot be used", {"new_password": problems})
        if verify_password(user.password_hash, new):
            raise InvalidUser(
                "the new password cannot be used",
                {"new_password": ["must differ from the current one"]},
            )
        user.password_hash = hash_password(new)
        user.must_change_password = False
        self._end_sessions(user.id, keep=keep)
        self._audit(AuditAction.USER_PASSWORD_CHANGED, user, {})

    # -- signing in and out ---------------------------------------------------------------
    def sign_in(self, name: str, password: str, *, source: str = "-") -> SignedIn:
        """A new session; or :class:`SignInThrottled` when ``source`` (the client network)
        spent its failed sign-ins for this name or for all; or :class:`LoginFailed`
        (audited, and counted against ``source``, never against the account).

        Known and unknown names take the same path: the throttle is keyed on the name typed,
        not on an account, and the Argon2 verify runs once either way."""
        now = _now()
        name = name.strip().lower() if isinstance(name, str) else ""
        if (
            self.throttle is not None
            and (wait := self.throttle.retry_after(name, source)) is not None
        ):
            raise SignInThrottled(wait)  # not audited, as any 429: a flood must stay cheap
        user = (
            self.session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
            if _NAME.match(name)
            else None
        )
        # against a dummy hash when the name is unknown, so it costs what a known name costs
        right = verify_password(user.password_hash if user is not None else None, password or "")
        if user is None or not right:
            if self.throttle is not None:
                self.throttle.failed(name, source)
            self._audit_login(
                user, Outcome.DENIED, "unknown user" if user is None else "wrong password"
            )
            raise LoginFailed()
        if user.disabled_at is not None:
            self._audit_login(user, Outcome.DENIED, "disabled")
            raise LoginFailed()
        if self.throttle is not None:
            self.throttle.succeeded(name, source)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        token = secrets.token_urlsafe(32)
        self.session.add(
            ConsoleSession(
                token_hash=token_hash(token), user_id=user.id, created_at=now, seen_at=now
            )
        )
        self.session.flush()
        self._audit_login(user, Outcome.ALLOWED, None)
        return SignedIn(user, token)

    def session_user(self, token: str, timeouts: Timeouts) -> ConsoleUser | None:
        """The user of a live session, or None (unknown, ended, idle or too old). Marks the
        session seen (at most once per ``SEEN_GRANULARITY``)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            return None
        now = _now()
        found = self.session.get(ConsoleSession, token_hash(token))
        if found is None or found.ended_at is not None:
            return None
        created, seen = as_utc(found.created_at) or now, as_utc(found.seen_at) or now
        if now - seen > timeouts.idle or now - created > timeouts.absolute:
            return None
        user = self.session.get(ConsoleUser, found.user_id)
        if user is None or user.disabled_at is not None:
            return None
        if now - seen >= SEEN_GRANULARITY:
            found.seen_at = now
        return user

    def sign_out(self, token: str) -> None:
        found = self.session.get(ConsoleSession, token_hash(token)) if token else None
        if found is None or found.ended_at is not None:
            return
        found.ended_at = _now()
        user = self.session.get(ConsoleUser, found.user_id)
        if user is not None:
            self._audit(AuditAction.USER_LOGGED_OUT, user, {})

    def _end_sessions(self, user_id: str, *, keep: str | None = None) -> None:
        query = update(ConsoleSession).where(
            ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None)
        )
        if keep:
            query = query.where(ConsoleSession.token_hash != token_hash(keep))
        self.session.execute(query.values(ended_at=_now()))

    # -- audit ----------------------------------------------------------------------------
    def _audit(
        self,
        action: AuditAction,
        user: ConsoleUser,
        details: dict[str, object],
        *,
        outcome: Outcome = Outcome.ALLOWED,
        actor: Actor | None = None,
    ) -> None:
        self.audit.record(
            self.session,
            AuditEvent(
                action=str(action),
                actor=actor or self.actor,
                outcome=outcome,
                target=Target(record_id=user.id),
                policy_version=self.policy_version,
                request_id=self.request_id,
                details=details,
            ),
        )

    def _audit_login(self, user: ConsoleUser | None, outcome: Outcome, reason: str | None) -> None:
        # The person signing in is the actor once known; the name typed is never recorded
        # (it may be someone's e-mail address typed in the wrong box).
        actor = Actor(id=user.actor_id, role=user.role) if user is not None else self.actor
        self.audit.record(
            self.session,
            AuditEvent(
                action=str(AuditAction.USER_LOGGED_IN),
                actor=actor,
                outcome=outcome,
                reason=reason,
                target=Target(record_id=user.id if user is not None else None),
                policy_version=self.policy_version,
                request_id=self.request_id,
            ),
        )


def _console_role(role: str, errors: dict[str, list[str]]) -> Role:
    try:
        role_enum = Role(role.strip().lower() if isinstance(role, str) else "")
    except ValueError:
        role_enum = Role.APPLICATION
    if role_enum not in CONSOLE_ROLES:
        errors["role"] = [f"one of {', '.join(str(r) for r in CONSOLE_ROLES)}"]
    return role_enum
