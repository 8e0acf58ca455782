"""`governance audit verify` and `governance audit export` against a migrated SQLite file."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from audit.checkpoint import NoteSigner, generate_signing_key, parse_verifier_key, verify_note
from audit.tree import leaf_hash, root_from_leaf_hashes
from cli.main import main
from tests.functional.audit.tampering import make_filter_columns_plain
from tests.migrated import migrated

ORIGIN = "crm-privacy-gateway.example/audit"


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh migrated SQLite file and key paths in tmp_path, with one admin client created."""
    for name in (
        "GOVERNANCE_AUDIT_SIGNING_KEY_FILE",
        "GOVERNANCE_AUDIT_LOG_ORIGIN",
        "GOVERNANCE_AUDIT_KEY_NAME",
        "GOVERNANCE_POLICY_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "governance.db"
    url = f"sqlite:///{db}"
    migrated(url)
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
        raw.execute(
            "UPDATE audit_entries SET data = ? WHERE id = "
            "(SELECT entry_id FROM audit_sequence WHERE leaf_index = 0)",
            (edited,),
        )
    capsys.readouterr()

    assert main(["audit", "verify"]) == 1

    out = capsys.readouterr().out.splitlines()
    problems = [line for line in out if line.startswith("PROBLEM: ")]
    assert "PROBLEM: position 0: event bytes do not match the leaf hash" in problems
    assert out[-1].startswith("FAILED: ")


def test_audit_verify_reports_an_event_rewritten_as_text_without_a_traceback(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite stores what a text function returns as TEXT: the CLI names the position and
    fails, it does not crash."""
    assert main(["audit", "verify"]) == 0
    with closing(sqlite3.connect(cli_db)) as raw, raw:
        raw.execute(
            "UPDATE audit_entries SET data = replace(CAST(data AS TEXT), 'admin', "
            "'auditor') WHERE id = "
            "(SELECT entry_id FROM audit_sequence WHERE leaf_index = 0)"
        )
    capsys.readouterr()

    assert main(["audit", "verify"]) == 1

    out = capsys.readouterr().out.splitlines()
    assert "PROBLEM: position 0: event bytes are stored as text, not as bytes" in out
    assert out[-1].startswith("FAILED: ")


def test_audit_verify_fails_and_names_the_position_of_an_edited_filter_column(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Moving an event to another actor in a filter column hides it from `?actor=` while
    its bytes still hash right. The database computes the column from the bytes, so the
    attacker first rebuilds the table with plain columns: verify says both."""
    assert main(["audit", "verify"]) == 0
    engine = create_engine(f"sqlite:///{cli_db}")
    try:
        with engine.begin() as connection:
            make_filter_columns_plain(connection)
            connection.execute(
                text(
                    "UPDATE audit_entries SET actor_id = 'someone-else' WHERE id = "
                    "(SELECT entry_id FROM audit_sequence WHERE leaf_index = 0)"
                )
            )
    finally:
        engine.dispose()
    capsys.readouterr()

    assert main(["audit", "verify"]) == 1

    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("PROBLEM: ")] == [
        "PROBLEM: audit_entries: the table definition differs from the one that computes "
        "the filter columns from the event bytes",
        "PROBLEM: position 0: column actor_id differs from the event bytes",
    ]
    assert out[-1] == "FAILED: 2 problem(s)"


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
    note = verify_note(
        cp["note"], cp["key_name"], base64.b64decode(cp["public_key"]), origin=ORIGIN
    )
    assert note.tree_size == cp["tree_size"] == len(events)
    leaves = [leaf_hash(base64.b64decode(e["leaf"])) for e in events]
    assert root_from_leaf_hashes(leaves) == note.root_hash
    assert "exported 2 events" in capsys.readouterr().err


# -- a trust anchor outside the live server ------------------------------------------------


def key_lines(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["audit", "key"]) == 0
    out = capsys.readouterr().out.splitlines()
    vkey = next(line.split(": ", 1)[1] for line in out if line.startswith("verifier key: "))
    fingerprint = next(line.split(": ", 1)[1] for line in out if line.startswith("fingerprint: "))
    return vkey, fingerprint


def test_audit_key_prints_the_verifier_key_and_its_fingerprint(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey, fingerprint = key_lines(capsys)

    name, raw = parse_verifier_key(vkey)
    assert name == ORIGIN
    assert fingerprint == "SHA256:" + hashlib.sha256(raw).hexdigest()
    # The key the checkpoints are signed with.
    main(["audit", "export", "-o", str(cli_db.parent / "x.jsonl")])
    cp = json.loads((cli_db.parent / "x.jsonl").read_text().splitlines()[-1])["checkpoint"]
    verify_note(cp["note"], name, raw, origin=ORIGIN)


@pytest.fixture
def exported(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, Path]:
    """(an export of a grown log, the pinned verifier key, an older checkpoint note kept)."""
    vkey, _ = key_lines(capsys)
    first = cli_db.parent / "first.jsonl"
    assert main(["audit", "export", "-o", str(first)]) == 0
    kept = cli_db.parent / "kept.note"
    kept.write_text(json.loads(first.read_text().splitlines()[-1])["checkpoint"]["note"])
    for name in ("y", "z"):
        assert main(["clients", "create", name, "--role", "auditor"]) == 0
    export = cli_db.parent / "audit.jsonl"
    assert main(["audit", "export", "-o", str(export)]) == 0
    capsys.readouterr()
    return export, vkey, kept


def offline(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["audit", "verify", *args])
    return code, capsys.readouterr().out.splitlines()


def test_an_export_verifies_offline_with_the_pinned_key_and_a_kept_checkpoint(
    exported: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export, vkey, kept = exported
    # Offline: no database, no key files; only the export, the key and the kept note.
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", "sqlite:////nonexistent/none.db")

    code, out = offline(capsys, "--file", str(export), "--key", vkey, "--checkpoint", str(kept))

    assert code == 0, out
    assert out[-1] == "verified"
    events = len(export.read_text().splitlines()) - 1
    assert any(f"{events} events" in line and "signature verified" in line for line in out)
    assert any("consistent with the kept checkpoint" in line for line in out)


def test_offline_verify_takes_the_key_from_a_file_and_a_kept_json_checkpoint(
    exported: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    export, vkey, kept = exported
    key_file = export.parent / "pinned.vkey"
    key_file.write_text(vkey + "\n")
    kept_json = export.parent / "kept.json"
    kept_json.write_text(json.dumps({"note": kept.read_text(), "tree_size": 1}))

    code, out = offline(
        capsys, "--file", str(export), "--key", str(key_file), "--checkpoint", str(kept_json)
    )

    assert code == 0, out


def rewrite_export(export: Path, edit) -> None:  # noqa: ANN001
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    edit(lines)
    export.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))


def test_offline_verify_fails_on_an_export_signed_by_another_key(
    exported: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    export, _, _ = exported
    other = NoteSigner(ORIGIN, generate_signing_key(tmp_path / "other.pem"))

    code, out = offline(capsys, "--file", str(export), "--key", other.verifier_key)

    assert code == 1
    assert out[-1].startswith("FAILED: ") and "signature" in out[-1]


def test_offline_verify_names_the_position_of_an_edited_event(
    exported: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    export, vkey, _ = exported

    def edit(lines: list[dict]) -> None:
        leaf = base64.b64decode(lines[1]["leaf"])
        assert b'"outcome":"allowed"' in leaf
        leaf = leaf.replace(b'"outcome":"allowed"', b'"outcome":"denied"')
        lines[1]["leaf"] = base64.b64encode(leaf).decode()
        lines[1]["event"] = json.loads(leaf)

    rewrite_export(export, edit)

    code, out = offline(capsys, "--file", str(export), "--key", vkey)

    assert code == 1
    assert out[-1] == "FAILED: the events do not hash to the signed root"


def test_offline_verify_fails_when_the_decoded_event_differs_from_its_bytes(
    exported: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    export, vkey, _ = exported
    rewrite_export(export, lambda lines: lines[0]["event"].update(action="audit.exported"))

    code, out = offline(capsys, "--file", str(export), "--key", vkey)

    assert code == 1
    assert out[-1] == "FAILED: position 0: the decoded event differs from its bytes"


def test_offline_verify_fails_when_the_kept_checkpoint_is_not_a_prefix(
    exported: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A log rewritten since the auditor kept a checkpoint: the kept note (signed by the same
    key) commits to a first event the export no longer has."""
    export, vkey, kept = exported

    def drop_first(lines: list[dict]) -> None:
        del lines[0]
        for i, line in enumerate(lines[:-1]):
            line["index"] = i

    rewrite_export(export, drop_first)

    code, out = offline(capsys, "--file", str(export), "--key", vkey, "--checkpoint", str(kept))

    assert code == 1
    assert out[-1].startswith("FAILED: ")


def test_offline_verify_of_an_unreadable_file_is_one_clear_line(
    cli_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vkey, _ = key_lines(capsys)

    code = main(["audit", "verify", "--file", str(cli_db.parent / "missing.jsonl"), "--key", vkey])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().startswith("governance: ") and "missing.jsonl" in captured.err
    assert "Traceback" not in captured.err
