"""Console users through the real database, the real Argon2 hasher and the real audit log:
creation, sign-in, lockout, sessions and their timeouts, and what the log records."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from audit.events import Actor
from audit.models import audit_entries
from governance.users.errors import InvalidUser, LoginFailed, SignInThrottled, UserNameTaken
from governance.users.models import ConsoleSession
from governance.users.passwords import one_time_password, password_problems
from governance.users.services import Timeouts, UserService
from governance.users.throttle import SignInThrottle

PASSWORD = "correct horse battery"  # noqa: S105 - a test account's
TIMEOUTS = Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


@pytest.fixture
def users(session, runtime) -> UserService:  # noqa: ANN001
    return UserService(
        session, runtime.audit, Actor(id="cli:test", role="operator"), runtime.policy.version
    )


def _actions(session) -> list[str]:  # noqa: ANN001
    return [
        a for (a,) in session.execute(select(audit_entries.c.action).order_by(audit_entries.c.id))
    ]


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


@pytest.mark.parametrize(
    ("name", "role", "password", "field"),
    [
        ("x", "auditor", PASSWORD, "name"),
        ("olivia@mail.example", "auditor", PASSWORD, "name"),
        ("olivia", "application", PASSWORD, "role"),
        ("olivia", "auditor", "short", "password"),
        ("olivia", "auditor", "olivia-is-my-password", "password"),
        ("olivia", "auditor", "aaaaaaaaaaaa", "password"),
        ("olivia", "auditor", "qwertyuiopasdf", "password"),
        ("olivia", "auditor", "Password1234!", "password"),
    ],
)
def test_invalid_users_are_refused_by_field(users, name, role, password, field) -> None:  # noqa: ANN001
    with pytest.raises(InvalidUser) as refused:
        users.create(name, role, password)
    assert field in refused.value.extra["errors"]


def test_a_name_is_taken_once(users) -> None:  # noqa: ANN001
    users.create("olivia", "auditor", PASSWORD)
    with pytest.raises(UserNameTaken):
        users.create("Olivia", "admin", PASSWORD)


def test_wrong_passwords_never_lock_the_account(users) -> None:  # noqa: ANN001
    # Any visitor could otherwise shut a known account out: guessing is slowed per source
    # (governance.users.throttle), never by a lock on the account.
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    for attempt in range(8):
        with pytest.raises(LoginFailed):
            users.sign_in("olivia", f"wrong password {attempt}")
    assert users.sign_in("olivia", PASSWORD).user.id == user.id


def test_a_throttled_source_is_refused_for_that_name_and_another_source_signs_in(
    session, runtime
) -> None:  # noqa: ANN001
    throttled = UserService(
        session,
        runtime.audit,
        Actor(id="cli:test", role="operator"),
        runtime.policy.version,
        throttle=SignInThrottle(),
    )
    user = throttled.create("olivia", "compliance_officer", PASSWORD).user
    for attempt in range(5):
        with pytest.raises(LoginFailed):
            throttled.sign_in("olivia", f"wrong password {attempt}", source="203.0.113.0/24")
    with pytest.raises(SignInThrottled) as refused:
        throttled.sign_in("olivia", PASSWORD, source="203.0.113.0/24")
    assert refused.value.retry_after > 0
    assert throttled.sign_in("olivia", PASSWORD, source="198.51.100.0/24").user.id == user.id


def test_an_unknown_and_a_known_name_take_the_same_path_and_get_the_same_answer(
    session, runtime, monkeypatch
) -> None:  # noqa: ANN001
    from governance.users import passwords

    throttled = UserService(
        session,
        runtime.audit,
        Actor(id="cli:test", role="operator"),
        runtime.policy.version,
        throttle=SignInThrottle(),
    )
    throttled.create("olivia", "compliance_officer", PASSWORD)
    verified: list[str] = []

    class Recording(PasswordHasher):  # argon2-cffi's hasher, recording what it verifies
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            verified.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_HASHER", Recording())
    answers = {}
    for name in ("olivia", "nobody"):
        verified.clear()
        messages = []
        for attempt in range(5):
            with pytest.raises(LoginFailed) as failed:
                throttled.sign_in(name, f"wrong password {attempt}", source="203.0.113.0/24")
            messages.append((failed.value.status, failed.value.detail))
        # the Argon2 verify ran once per attempt, for the unknown name against a dummy hash
        assert len(verified) == 5 and all(h.startswith("$argon2id$") for h in verified)
        with pytest.raises(SignInThrottled) as refused:
            throttled.sign_in(name, PASSWORD, source="203.0.113.0/24")
        # the wait in seconds depends on when the first failure fell, not on the name
        answers[name] = (
            messages,
            refused.value.status,
            re.sub(r"\d+ s$", "N s", refused.value.detail),
        )
    assert answers["olivia"] == answers["nobody"]


def test_an_unknown_name_fails_like_a_wrong_password_and_is_audited_without_it(
    users, session
) -> None:  # noqa: ANN001
    with pytest.raises(LoginFailed):
        users.sign_in("nobody", PASSWORD)
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


def test_changing_the_password_ends_the_users_other_sessions(users) -> None:  # noqa: ANN001
    users.create("olivia", "compliance_officer", PASSWORD)
    here = users.sign_in("olivia", PASSWORD)
    elsewhere = users.sign_in("olivia", PASSWORD)
    users.change_password(here.user, PASSWORD, "a brand new passphrase", keep=here.token)
    assert users.session_user(elsewhere.token, TIMEOUTS) is None
    assert users.session_user(here.token, TIMEOUTS).id == here.user.id


def test_a_weak_new_password_is_refused_and_the_old_one_still_works(users) -> None:  # noqa: ANN001
    users.create("olivia", "compliance_officer", PASSWORD)
    signed = users.sign_in("olivia", PASSWORD)
    with pytest.raises(InvalidUser) as refused:
        users.change_password(signed.user, PASSWORD, "aaaaaaaaaaaa")
    assert "new_password" in refused.value.extra["errors"]
    assert users.sign_in("olivia", PASSWORD).user.id == signed.user.id


def test_generated_one_time_passwords_pass_the_strength_check() -> None:
    assert all(password_problems(one_time_password(), "demo-admin") == [] for _ in range(50))


def test_a_role_change_ends_the_users_sessions(users) -> None:  # noqa: ANN001
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    signed = users.sign_in("olivia", PASSWORD)
    users.set_role(user.id, "auditor")
    assert users.session_user(signed.token, TIMEOUTS) is None


def test_signing_in_is_audited_with_the_person_as_the_actor(users, session) -> None:  # noqa: ANN001
    user = users.create("olivia", "compliance_officer", PASSWORD).user
    users.sign_in("olivia", PASSWORD)
    actors = [
        a
        for (a,) in session.execute(
            select(audit_entries.c.actor_id).where(audit_entries.c.action == "user.logged_in")
        )
    ]
    assert actors == [f"user:{user.id}"]


def _hash(token: str) -> str:
    from governance.users.services import token_hash

    return token_hash(token)
