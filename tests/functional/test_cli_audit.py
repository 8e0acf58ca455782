"""`governance audit verify` and `governance audit export` against a migrated SQLite file."""

from __future__ import annotations

import base64
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from audit.checkpoint import verify_note
from audit.tree import leaf_hash, root_from_leaf_hashes
from governance.cli import main
from governance.migrate import upgrade

ORIGIN = "crm-privacy-gateway.example/audit"


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh migrated SQLite file and key paths in tmp_path, with one admin client created."""
    for name in ("GOVERNANCE_AUDIT_SIGNING_KEY_FILE", "GOVERNANCE_AUDIT_LOG_ORIGIN",
                 "GOVERNANCE_AUDIT_KEY_NAME", "GOVERNANCE_POLICY_DIR"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "governance.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", url)
    monkeypatch.setenv("GOVERNANCE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GOVERNANCE_KEY_FILE", str(tmp_path / "keys" / "kek.json"))
    assert main(["clients", "create", "x", "--role", "admin"]) == 0
    return db


def test_audit_verify_passes_on_an_untouched_log(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert main(["audit", "verify"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "ok"
    assert not any(line.startswith("PROBLEM") for line in out)
    assert out[0].startswith("tree size 1, root ")  # the client.created event


def test_audit_verify_fails_and_names_the_position_of_an_edited_event(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 0  # signs a checkpoint over the honest log
    with closing(sqlite3.connect(cli_db)) as raw, raw:
        (data,) = raw.execute(
            "SELECT data FROM audit_entries WHERE id = "
            "(SELECT entry_id FROM audit_sequence WHERE leaf_index = 0)"
        ).fetchone()
        edited = data.replace(b'"role":"admin"', b'"role":"auditor"')
        assert edited != data
        raw.execute("UPDATE audit_entries SET data = ? WHERE id = "
                    "(SELECT entry_id FROM audit_sequence WHERE leaf_index = 0)", (edited,))
    capsys.readouterr()

    assert main(["audit", "verify"]) == 1

    out = capsys.readouterr().out.splitlines()
    problems = [line for line in out if line.startswith("PROBLEM: ")]
    assert "PROBLEM: position 0: event bytes do not match the leaf hash" in problems
    assert out[-1].startswith("FAILED: ")


def test_audit_verify_fails_and_names_the_position_of_an_edited_filter_column(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Moving an event to another actor in the copied-out column hides it from
    `?actor=` while its bytes still hash right: verify must say so."""
    assert main(["audit", "verify"]) == 0
    with closing(sqlite3.connect(cli_db)) as raw, raw:
        raw.execute("UPDATE audit_entries SET actor_id = 'someone-else' WHERE id = "
                    "(SELECT entry_id FROM audit_sequence WHERE leaf_index = 0)")
    capsys.readouterr()

    assert main(["audit", "verify"]) == 1

    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("PROBLEM: ")] == [
        "PROBLEM: position 0: column actor_id differs from the event bytes"]
    assert out[-1] == "FAILED: 1 problem(s)"


def test_audit_export_writes_json_lines_and_a_verifiable_checkpoint(
    cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "audit.jsonl"

    assert main(["audit", "export", "-o", str(target)]) == 0

    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    events, last = lines[:-1], lines[-1]
    assert [e["event"]["action"] for e in events] == ["client.created", "audit.exported"]
    assert [e["index"] for e in events] == [0, 1]
    for e in events:
        assert json.loads(base64.b64decode(e["leaf"])) == e["event"]
    cp = last["checkpoint"]
    note = verify_note(cp["note"], cp["key_name"], base64.b64decode(cp["public_key"]),
                       origin=ORIGIN)
    assert note.tree_size == cp["tree_size"] == len(events)
    leaves = [leaf_hash(base64.b64decode(e["leaf"])) for e in events]
    assert root_from_leaf_hashes(leaves) == note.root_hash
    assert "exported 2 events" in capsys.readouterr().err
