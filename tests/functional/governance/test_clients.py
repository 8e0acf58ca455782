"""API clients: keys shown once and stored only as their SHA-256, authentication, revocation,
validation, and the ``governance clients`` commands against a real migrated store."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cli import main as cli
from governance.clients.errors import ClientNameTaken, InvalidClient
from governance.clients.models import ApiClient
from governance.clients.services import KEY_PREFIX, ClientService, hash_key
from governance.errors import Unauthenticated
from tests.conftest import bearer
from tests.migrated import migrated

# -- the service ---------------------------------------------------------------------------


def test_key_is_returned_once_and_only_its_sha256_is_stored(session: Session) -> None:
    issued = ClientService(session).create("crm-frontend", "application", ["support", "billing"])
    session.flush()

    key = issued.key
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    row = (
        session.execute(text("SELECT * FROM api_clients WHERE id = :id"), {"id": issued.client.id})
        .mappings()
        .one()
    )
    for column, value in row.items():
        assert key not in str(value), f"api_clients.{column} holds the key"
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest() == hash_key(key)
    assert row["key_prefix"] == key[:10]
    assert issued.client.purposes == ["billing", "support"]


def test_each_client_gets_a_different_key(session: Session) -> None:
    service = ClientService(session)

    first = service.create("reporting-a", "auditor")
    second = service.create("reporting-b", "auditor")

    assert first.key != second.key
    assert first.client.key_hash != second.client.key_hash


def test_authenticate_returns_the_client_owning_the_key(session: Session) -> None:
    service = ClientService(session)
    issued = service.create("privacy-desk", "compliance_officer")

    client = service.authenticate(issued.key)

    assert client.id == issued.client.id
    assert client.role == "compliance_officer"
    assert client.purposes == ()


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(KEY_PREFIX + "A" * 43, id="unknown-key"),
        pytest.param("not-a-gateway-key", id="no-prefix"),
        pytest.param(KEY_PREFIX + "x" * 300, id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_a_wrong_key_is_unauthenticated(session: Session, wrong: str) -> None:
    ClientService(session).create("crm-backend", "application", ["support"])

    with pytest.raises(Unauthenticated):
        ClientService(session).authenticate(wrong)


def test_a_revoked_key_is_unauthenticated(session: Session) -> None:
    service = ClientService(session)
    issued = service.create("retired-app", "application")

    revoked = service.revoke("retired-app")

    assert revoked.revoked_at is not None and not revoked.active
    with pytest.raises(Unauthenticated, match="revoked"):
        service.authenticate(issued.key)


def test_a_revoked_key_gets_401_problem_over_http(http, issue_key, sessions) -> None:  # noqa: ANN001
    key = issue_key("admin")
    assert http.get("/v1/datamap", headers=bearer(key)).status_code == 200
    with sessions() as s:
        service = ClientService(s)
        service.revoke(service.authenticate(key).id)
        s.commit()

    response = http.get("/v1/datamap", headers=bearer(key))

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 401
    assert key not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "role", "purposes", "field"),
    [
        pytest.param("ops-console", "superuser", (), "role", id="unknown-role"),
        pytest.param("ops-console", "admin", ("support",), "purposes", id="admin-with-purpose"),
        pytest.param("ops-console", "auditor", ("audit",), "purposes", id="auditor-with-purpose"),
        pytest.param("crm-app", "application", ("Support Desk",), "purposes", id="bad-purpose-id"),
        pytest.param("has spaces", "admin", (), "name", id="bad-name"),
    ],
)
def test_an_invalid_client_is_refused_naming_the_field(
    session: Session, name: str, role: str, purposes: tuple[str, ...], field: str
) -> None:
    with pytest.raises(InvalidClient) as caught:
        ClientService(session).create(name, role, purposes)

    assert caught.value.status == 422
    assert set(caught.value.extra["errors"]) == {field}
    assert session.scalar(select(ApiClient).where(ApiClient.name == name)) is None


def test_a_duplicate_name_is_refused(session: Session) -> None:
    service = ClientService(session)
    original = service.create("shared-name", "auditor")

    with pytest.raises(ClientNameTaken) as caught:
        service.create("shared-name", "admin")

    assert caught.value.status == 409
    assert [c.id for c in service.list() if c.name == "shared-name"] == [original.client.id]


def test_list_shows_revoked_clients_only_when_asked(session: Session) -> None:
    service = ClientService(session)
    service.create("kept-app", "application", ["support"])
    service.create("gone-app", "application", ["support"])
    service.revoke("gone-app")

    everyone = {c.name for c in service.list()}
    active = {c.name for c in service.list(include_revoked=False)}

    assert {"kept-app", "gone-app"} <= everyone
    assert "kept-app" in active and "gone-app" not in active


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh migrated SQLite store and var dir, named by the environment the CLI reads."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrated(url)
    for name in (
        "GOVERNANCE_KEY_FILE",
        "GOVERNANCE_AUDIT_SIGNING_KEY_FILE",
        "GOVERNANCE_POLICY_DIR",
        "GOVERNANCE_AUDIT_LOG_ORIGIN",
        "GOVERNANCE_AUDIT_KEY_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", url)
    monkeypatch.setenv("GOVERNANCE_VAR_DIR", str(tmp_path / "var"))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = cli.main(list(argv))
    return status, capsys.readouterr().out


def test_cli_create_json_prints_the_id_and_key(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(capsys, "clients", "create", "ops-admin", "--role", "admin", "--json")

    assert status == 0
    created = json.loads(out)
    assert set(created) == {"id", "key"}
    assert created["key"].startswith(KEY_PREFIX)
    status, out = run(capsys, "clients", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["id"] == created["id"]
    assert (listed["name"], listed["role"], listed["revoked"]) == ("ops-admin", "admin", False)
    assert created["key"] not in out  # the list never shows keys


def test_cli_create_prints_the_key_alone_on_the_last_line(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(
        capsys,
        "clients",
        "create",
        "crm-app",
        "--role",
        "application",
        "--purpose",
        "customer_support",
        "--purpose",
        "billing",
    )

    assert status == 0
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith(KEY_PREFIX) and last == last.strip() and " " not in last
    status, out = run(capsys, "clients", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["purposes"] == ["billing", "customer_support"]
    assert listed["key_prefix"] == last[:10]


def test_cli_revoke_then_list_shows_the_client_revoked(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "clients", "create", "kept-app", "--role", "auditor", "--json")
    _, out = run(capsys, "clients", "create", "gone-app", "--role", "auditor", "--json")
    gone = json.loads(out)["id"]

    status, out = run(capsys, "clients", "revoke", "gone-app")
    assert status == 0 and gone in out

    _, out = run(capsys, "clients", "list", "--json")
    revoked = {c["name"]: c["revoked"] for c in json.loads(out)}
    assert revoked == {"kept-app": False, "gone-app": True}


def test_cli_refuses_a_duplicate_name_with_status_2(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "clients", "create", "ops-admin", "--role", "admin", "--json")

    status = cli.main(["clients", "create", "ops-admin", "--role", "admin", "--json"])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert "exists already" in captured.err


def test_listed_clients_carry_their_creation_time_in_utc(http, issue_key) -> None:  # noqa: ANN001
    listed = http.get("/v1/clients", headers=bearer(issue_key("admin")))

    assert listed.status_code == 200
    for item in listed.get_json()["items"]:
        assert datetime.fromisoformat(item["created_at"]).utcoffset() == timedelta(0)
