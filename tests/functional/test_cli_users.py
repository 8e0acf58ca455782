"""`governance users create` and `users list` against a migrated SQLite file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cli.main import main
from governance.users.models import ConsoleUser
from tests.migrated import migrated


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in (
        "GOVERNANCE_AUDIT_SIGNING_KEY_FILE",
        "GOVERNANCE_AUDIT_LOG_ORIGIN",
        "GOVERNANCE_AUDIT_KEY_NAME",
        "GOVERNANCE_POLICY_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    migrated(url)
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", url)
    monkeypatch.setenv("GOVERNANCE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GOVERNANCE_KEY_FILE", str(tmp_path / "keys" / "kek.json"))
    return url


def _users(url: str) -> list[ConsoleUser]:
    with Session(create_engine(url)) as s:
        return list(s.scalars(select(ConsoleUser)))


def test_users_create_with_a_one_time_password_prints_it_once(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "create", "olivia", "--role", "compliance_officer", "--one-time"]) == 0
    password = capsys.readouterr().out.strip().splitlines()[-1]
    [user] = _users(cli_db)
    assert user.role == "compliance_officer" and user.must_change_password
    assert password not in user.password_hash and len(password) >= 12


def test_users_create_reads_the_password_from_stdin_and_lists_without_it(
    cli_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "create", "arthur", "--role", "auditor", "--password-stdin"]) == 0
    [user] = _users(cli_db)
    assert not user.must_change_password
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "arthur" in listing and "auditor" in listing and "password" not in listing


def test_a_weak_password_is_refused_with_the_field_named(
    cli_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "create", "arthur", "--role", "auditor", "--password-stdin"]) == 2
    assert "password" in capsys.readouterr().err
    assert _users(cli_db) == []


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "Password1234!", "qwertyuiopasdf"])
def test_a_long_but_easily_guessed_password_is_refused(
    cli_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["users", "create", "arthur", "--role", "auditor", "--password-stdin"]) == 2
    err = capsys.readouterr().err
    assert "too easy to guess" in err and password not in err
    assert _users(cli_db) == []
