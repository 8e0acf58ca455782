"""`governance policy check` lists the purposes; `governance consent verify [--rebuild]`
compares the materialised consent state with the history, on a migrated SQLite file."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.events import Actor
from cli.main import main
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from governance.db import unit_of_work
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.migrated import migrated


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "GOVERNANCE_AUDIT_SIGNING_KEY_FILE",
        "GOVERNANCE_AUDIT_LOG_ORIGIN",
        "GOVERNANCE_AUDIT_KEY_NAME",
        "GOVERNANCE_POLICY_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "governance.db"
    migrated(f"sqlite:///{db}")
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("GOVERNANCE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GOVERNANCE_KEY_FILE", str(tmp_path / "keys" / "kek.json"))
    rt = open_runtime(Settings.from_env())
    sid = uuid.uuid4().hex
    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as session:
        table = rt.tables["customers"]
        session.execute(table.insert(), {"id": sid, "created_at": now, "updated_at": now})
        ConsentService(session, rt, Actor(id="t", role="operator")).record_consent(
            sid, "email_marketing", ConsentAction.GRANT, ConsentSource.WEB_FORM, "n-1"
        )
    rt.dispose()
    return db


def test_policy_check_lists_every_purpose_with_its_basis(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check"]) == 0

    out = capsys.readouterr().out
    assert "email_marketing              consent" in out
    assert "third_party_sharing" in out and "legal_claims" in out


def test_consent_verify_reports_drift_and_rebuild_repairs_it(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["consent", "verify"]) == 0
    with closing(sqlite3.connect(cli_db)) as raw, raw:
        raw.execute("UPDATE consent_state SET status = 'withdrawn'")

    assert main(["consent", "verify"]) == 1
    assert "DIFFERS:" in capsys.readouterr().out
    assert main(["consent", "verify", "--rebuild"]) == 0
    assert main(["consent", "verify"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok")
