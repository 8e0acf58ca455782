"""Console users through the real database, the real Argon2 hasher and the real audit log:
creation, sign-in, lockout, sessions and their timeouts, and what the log records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from audit.events import Actor
from audit.models import audit_entries
from governance.users.errors import InvalidUser, LoginFailed, UserNameTaken
from governance.users.models import ConsoleSession
from governance.users.services import MAX_FAILED_LOGINS, Timeouts, UserService

PASSWORD = "correct horse battery"  # noqa: S105 - a test account's
TIMEOUTS = Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


@pytest.fixture
def users(session, runtime) -> UserService:  # noqa: ANN001
    return UserService(session, runtime.audit, Actor(id="cli:test", role="operator"),
                       runtime.policy.version)


def _actions(session) -> list[str]:  # noqa: ANN001
    return [a for (a,) in session.execute(select(audit_entries.c.action)
                                          .order_by(audit_entries.c.id))]


def test_a_password_is_stored_only_as_an_argon2id_hash(users) -> None:  # noqa: ANN001
    created = users.create("olivia", "compliance_officer", PASSWORD)
    assert created.user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in created.user.password_hash
    assert created.one_time_password is None and not created.user.must_change_password


def test_without_a_password_a_one_time_password_is_returned_and_must_be_changed(users) -> None:  # noqa: ANN001
    created = users.create("arthur", "auditor")
    assert created.one_time_password and created.user.must_change_password
    signed = users.sign_in("arthur", created.one_time_password)
    users.change_password(signed.user, created.one_time_password, PASSWORD)
    assert not signed.user.must_change_password
    assert users.sign_in("arthur", PASSWORD).user.id == created.user.id


@pytest.mark.parametrize(("name", "role", "password", "field"), [
    ("x", "auditor", PASSWORD, "name"),
    ("olivia@mail.example", "auditor", PASSWORD, "name"),
    ("olivia", "application", PASSWORD, "role"),
    ("olivia", "auditor", "short", "password"),
    ("olivia", "auditor", "olivia-is-my-password", "password"),
])
def test_invalid_users_are_refused_by_field(users, name, role, password, field) -> None:  # noqa: ANN001
    with pytest.raises(InvalidUser) as refused:
        users.create(name, role, password)
    assert field in refused.value.extra["errors"]


def test_a_name_is_taken_once(users) -> None:  # noqa: ANN001
    users.create("olivia", "auditor", PASSWORD)
    with pytest.raises(UserNameTaken):
        users.create("Olivia", "admin", PASSWORD)


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(users, session) -> None:  # noqa: ANN001
    users.create("olivia", "compliance_officer", PASSWORD)
    for attempt in range(MAX_FAILED_LOGINS):
        with pytest.raises(LoginFailed) as failed:
            users.sign_in("olivia", f"wrong password {attempt}")
        assert failed.value.locked is (attempt == MAX_FAILED_LOGINS - 1)
    with pytest.raises(LoginFailed) as locked:
        users.sign_in("olivia", PASSWORD)
    assert locked.value.locked
    assert "user.locked" in _actions(session)


def test_an_admin_unlocks_a_locked_account(users) -> None:  # noqa: ANN001
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(LoginFailed):
            users.sign_in("olivia", "wrong password!")
    users.unlock(user.id)
    assert users.sign_in("olivia", PASSWORD).user.id == user.id


def test_an_unknown_name_fails_like_a_wrong_password_and_is_audited_without_it(
        users, session) -> None:  # noqa: ANN001
    with pytest.raises(LoginFailed) as failed:
        users.sign_in("nobody", PASSWORD)
    assert not failed.value.locked
    rows = [bytes(d) for (d,) in session.execute(select(audit_entries.c.data))]
    assert rows and not any(b"nobody" in r for r in rows)


def test_a_session_ends_at_logout_when_idle_or_too_old_and_when_disabled(users, session) -> None:  # noqa: ANN001
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    signed = users.sign_in("olivia", PASSWORD)
    assert users.session_user(signed.token, TIMEOUTS).id == user.id
    stored = session.scalar(select(ConsoleSession))
    assert signed.token not in stored.token_hash
    users.sign_out(signed.token)
    assert users.session_user(signed.token, TIMEOUTS) is None

    idle = users.sign_in("olivia", PASSWORD)
    row = session.get(ConsoleSession, _hash(idle.token))
    row.seen_at = datetime.now(UTC) - timedelta(minutes=31)
    assert users.session_user(idle.token, TIMEOUTS) is None

    old = users.sign_in("olivia", PASSWORD)
    row = session.get(ConsoleSession, _hash(old.token))
    row.created_at = datetime.now(UTC) - timedelta(hours=13)
    assert users.session_user(old.token, TIMEOUTS) is None

    live = users.sign_in("olivia", PASSWORD)
    users.set_disabled(user.id, True)
    assert users.session_user(live.token, TIMEOUTS) is None
    with pytest.raises(LoginFailed):
        users.sign_in("olivia", PASSWORD)


def test_a_role_change_ends_the_users_sessions(users) -> None:  # noqa: ANN001
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    signed = users.sign_in("olivia", PASSWORD)
    users.set_role(user.id, "auditor")
    assert users.session_user(signed.token, TIMEOUTS) is None


def test_signing_in_is_audited_with_the_person_as_the_actor(users, session) -> None:  # noqa: ANN001
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    users.sign_in("olivia", PASSWORD)
    actors = [a for (a,) in session.execute(
        select(audit_entries.c.actor_id).where(audit_entries.c.action == "user.logged_in"))]
    assert actors == [f"user:{user.id}"]


def _hash(token: str) -> str:
    from governance.users.services import token_hash

    return token_hash(token)
