"""`governance retention plan [--json] [--ids]` shows counts (ids only when asked, never
values); `governance retention run [--dry-run] [--batch-size N]` sweeps, on a migrated
SQLite file."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.main import main
from governance.db import unit_of_work
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.migrated import migrated, migrated_keystore


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
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
    migrated_keystore(Settings.from_env().keystore_url)
    rt = open_runtime(Settings.from_env())
    sid, now = uuid.uuid4().hex, datetime.now(UTC)
    with unit_of_work(rt.sessions) as session:
        session.execute(
            rt.tables["customers"].insert(), {"id": sid, "created_at": now, "updated_at": now}
        )
        store = rt.record_store(session)
        event = store.create(
            "web_events",
            {"page": "/secret-page", "occurred_at": (now - timedelta(days=500)).isoformat()},
            subject_id=sid,
        ).id
    rt.dispose()
    return event


def test_plan_shows_counts_and_ids_only_when_asked(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retention", "plan"]) == 0
    out = capsys.readouterr().out
    assert "delete:web_events" in out and "1 record(s) due" in out
    assert cli_db not in out and "secret-page" not in out

    assert main(["retention", "plan", "--json", "--ids"]) == 0
    rules = {r["rule"]: r for r in json.loads(capsys.readouterr().out)}
    assert rules["delete:web_events"]["ids"] == [cli_db]


def test_run_sweeps_and_a_dry_run_changes_nothing(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retention", "run", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["due"] == 1

    assert main(["retention", "run", "--batch-size", "10"]) == 0
    assert "deleted: 1" in capsys.readouterr().out
    rt = open_runtime(Settings.from_env())
    with unit_of_work(rt.sessions) as session:
        assert session.scalar(select(func.count()).select_from(rt.tables["web_events"])) == 0
    rt.dispose()
