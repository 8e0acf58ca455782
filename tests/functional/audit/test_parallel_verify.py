"""Verify shares a large log with a second process: the report is the one a single process
gives, on an intact log, on a doctored event or subject index in the second process's
half (named by the parent), and on a log whose last positions the verifying transaction
integrated and did not commit (which the second process cannot see)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoint import NoteSigner, generate_signing_key, load_signing_key
from audit.events import Actor, AuditEvent, Target
from audit.log import AuditLog, VerifyReport
from governance.db import make_engine, make_session_factory
from tests.migrated import migrated

ORIGIN = "crm-privacy-gateway.example/audit"
CHUNK = 64
EVENTS = 1_500


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    migrated(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    generate_signing_key(tmp_path / "audit.key")
    return AuditLog(NoteSigner(ORIGIN, load_signing_key(tmp_path / "audit.key")), ORIGIN)


def event(i: int) -> AuditEvent:
    if i % 7 == 3:  # a list read, with its subject index
        return AuditEvent(
            action="data.listed",
            actor=Actor("client-a", "application"),
            target=Target(collection="customers"),
            purpose="support",
            details={"count": 2},
            subjects=(f"s-{i}", f"s-{i + 1}"),
        )
    return AuditEvent(
        action="data.read",
        actor=Actor(f"client-{i % 3}", "application"),
        target=Target(collection="customers", record_id=f"r-{i}", subject_id=f"s-{i % 11}"),
        purpose="support",
    )


@pytest.fixture
def sessions(engine: Engine, log: AuditLog) -> sessionmaker[Session]:
    """A committed log of EVENTS events with checkpoints every 250 (some inside each
    process's half, one at the end)."""
    factory = make_session_factory(engine)
    for begin in range(0, EVENTS, 250):
        with factory() as s:
            log.record_many(s, [event(i) for i in range(begin, begin + 250)])
            log.integrate(s, checkpoint=True)
            s.commit()
    return factory


def both(sessions: sessionmaker[Session], log: AuditLog) -> tuple[VerifyReport, VerifyReport]:
    reports = []
    for processes in (1, 2):
        with sessions() as s:
            reports.append(log.verify(s, chunk_size=CHUNK, processes=processes, parallel_min=0))
    return reports[0], reports[1]


def same(one: VerifyReport, two: VerifyReport) -> None:
    assert (two.tree_size, two.root_hash, two.problems, two.checkpoints_checked) == (
        one.tree_size,
        one.root_hash,
        one.problems,
        one.checkpoints_checked,
    )
    assert (one.processes, two.processes) == (1, 2)


def entry_at(s: Session, position: int) -> int:
    return s.execute(
        text("SELECT entry_id FROM audit_sequence WHERE leaf_index = :p"), {"p": position}
    ).scalar_one()


def test_an_intact_log_verified_by_two_processes_gives_the_one_process_report(
    sessions: sessionmaker[Session], log: AuditLog
) -> None:
    one, two = both(sessions, log)
    assert one.ok and one.tree_size == EVENTS and one.checkpoints_checked == 6
    same(one, two)


def test_a_doctored_event_in_the_second_half_is_named_by_position(
    sessions: sessionmaker[Session], log: AuditLog, is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("on PostgreSQL the append-only trigger refuses the edit")
    position = 1_234
    with sessions() as s:
        entry = entry_at(s, position)
        data = bytes(
            s.execute(
                text("SELECT data FROM audit_entries WHERE id = :e"), {"e": entry}
            ).scalar_one()
        )
        s.execute(
            text("UPDATE audit_entries SET data = :d WHERE id = :e"),
            {"d": data.replace(b'"purpose":"support"', b'"purpose":"billing"'), "e": entry},
        )
        s.commit()

    one, two = both(sessions, log)

    assert f"position {position}: event bytes do not match the leaf hash" in one.problems
    same(one, two)


def test_an_event_stored_as_text_in_the_second_half_is_named_by_position(
    sessions: sessionmaker[Session], log: AuditLog, is_postgres: bool
) -> None:
    """SQLite keeps the type written: a row rewritten through a text function is TEXT. The
    second process hands its chunk back undecided and the parent names the row."""
    if is_postgres:
        pytest.skip("on PostgreSQL the column is bytea and the trigger refuses the edit")
    position = 1_234
    with sessions() as s:
        s.execute(
            text(
                "UPDATE audit_entries SET data = replace(CAST(data AS TEXT), "
                "'support', 'billing') WHERE id = :e"
            ),
            {"e": entry_at(s, position)},
        )
        s.commit()

    one, two = both(sessions, log)

    assert f"position {position}: event bytes are stored as text, not as bytes" in one.problems
    same(one, two)


def test_a_subject_index_emptied_in_the_second_half_is_named_by_position(
    sessions: sessionmaker[Session], log: AuditLog, is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("on PostgreSQL the append-only trigger refuses the edit")
    position = 1_200 + 3 - 1_200 % 7  # a list event (i % 7 == 3)
    with sessions() as s:
        s.execute(
            text("DELETE FROM audit_subjects WHERE entry_id = :e"), {"e": entry_at(s, position)}
        )
        s.commit()

    one, two = both(sessions, log)

    assert one.problems == [f"position {position}: subject index differs from the event bytes"]
    same(one, two)


def test_positions_the_verifying_transaction_has_not_committed_are_verified_here(
    sessions: sessionmaker[Session], log: AuditLog
) -> None:
    with sessions() as s:  # integrated in this transaction only: the other process
        log.record_many(s, [event(i) for i in range(EVENTS, EVENTS + 300)])  # cannot see them
        log.integrate(s)
        report = log.verify(s, chunk_size=CHUNK, processes=2, parallel_min=0)
        s.rollback()

    assert report.ok, report.problems
    assert report.tree_size == EVENTS + 300
    assert report.processes == 1  # the other process saw too few rows: done here


def verify_in_a_daemon(url: str, key_path: str, out) -> None:  # noqa: ANN001
    """Child process (daemonic, as a Celery prefork worker is, which multiprocessing may
    not start children from): verify with two processes asked for; report (ok, size,
    processes)."""
    engine = make_engine(url)
    log = AuditLog(NoteSigner(ORIGIN, load_signing_key(Path(key_path))), ORIGIN)
    with make_session_factory(engine)() as s:
        report = log.verify(s, chunk_size=CHUNK, processes=2, parallel_min=0)
    engine.dispose()
    out.put((report.ok, report.tree_size, report.processes))


def test_a_daemonic_process_such_as_a_celery_worker_still_shares_verify(
    sessions: sessionmaker[Session], url: str, tmp_path: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(
        target=verify_in_a_daemon, daemon=True, args=(url, str(tmp_path / "audit.key"), out)
    )
    child.start()
    result = out.get(timeout=120)
    child.join(timeout=30)

    assert result == (True, EVENTS, 2)


def test_a_second_process_that_never_answers_is_stopped_and_its_share_verified_here(
    sessions: sessionmaker[Session],
    log: AuditLog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the second process hangs before it reads anything (as one blocked on a lock would):
    # verify waits its bound, stops it, and verifies the whole log itself
    hang = tmp_path / "hang"
    hang.mkdir()
    (hang / "sitecustomize.py").write_text("import time\ntime.sleep(120)\n")
    monkeypatch.setenv("PYTHONPATH", str(hang))

    with sessions() as s, caplog.at_level("WARNING", logger="audit.log"):
        report = log.verify(s, chunk_size=CHUNK, processes=2, parallel_min=0, second_wait=1.0)

    assert report.ok, report.problems
    assert report.tree_size == EVENTS and report.checkpoints_checked == 6
    assert report.processes == 1
    assert "the second process failed (TimeoutError)" in caplog.text
