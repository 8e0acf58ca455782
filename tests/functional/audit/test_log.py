"""The audit log against a real migrated database (SQLite, or PostgreSQL when
GOVERNANCE_TEST_DATABASE_URL names a server): appending, integrating, proofs, verification,
tamper detection, the PostgreSQL append-only trigger, concurrent writers and the export.

The tree and checkpoint maths have their own unit tests (tests/unit/audit); these tests
prove what the stored log does with them.
"""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import os
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoint import (
    NoteSigner,
    generate_signing_key,
    load_signing_key,
    verify_note,
)
from audit.events import Actor, AuditEvent, Outcome, Target, UnsafeAuditEvent, parse_leaf
from audit.log import VERIFY_CHUNK, AuditLog, ProofRangeError
from audit.models import (
    audit_checkpoints,
    audit_entries,
    audit_queue,
    audit_sequence,
)
from audit.tree import leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion
from governance.db import make_engine, make_session_factory, unit_of_work
from tests.conftest import fresh_postgres_database
from tests.functional.audit.tampering import make_filter_columns_plain
from tests.migrated import migrated

ORIGIN = "crm-privacy-gateway.example/audit"


def make_event(i: int, *, actor: str = "client-a", action: str = "data.read") -> AuditEvent:
    return AuditEvent(
        action=action,
        actor=Actor(id=actor, role="application"),
        target=Target(collection="customers", record_id=f"rec-{i}", subject_id=f"subj-{i % 5}"),
        purpose="support",
        request_id=f"req-{i}",
        details={"count": i, "fields": ["email", "phone"]},
    )


def record_many(
    sessions: sessionmaker[Session], log: AuditLog, n: int, start: int = 0
) -> list[str]:
    """Record n events, each in its own committed transaction; return their event ids."""
    ids = []
    for i in range(start, start + n):
        with sessions() as s:
            ids.append(log.record(s, make_event(i)))
            s.commit()
    return ids


def integrate(sessions: sessionmaker[Session], log: AuditLog, **kwargs):  # noqa: ANN201
    with sessions() as s:
        result = log.integrate(s, **kwargs)
        s.commit()
        return result


def count(session: Session, table) -> int:  # noqa: ANN001
    return int(session.scalar(select(func.count()).select_from(table)))


def positions_named(problems: list[str], *, checkpoints: bool = False) -> set[int]:
    """Every position the report's per-event problems name ('position N', 'positions A-B');
    with checkpoints=True also the ranges named by checkpoint problems."""
    named: set[int] = set()
    for problem in problems:
        if problem.startswith("checkpoint") and not checkpoints:
            continue
        for a, b in re.findall(r"\bpositions? (\d+)(?:-(\d+))?", problem):
            named.update(range(int(a), int(b or a) + 1))
    return named


@pytest.fixture(params=[VERIFY_CHUNK, 4], ids=["one-chunk", "chunks-of-4"])
def chunk_size(request: pytest.FixtureRequest) -> int:
    """verify() in one chunk, and in chunks of 4 leaves so that a tampered row sits in a
    middle chunk whose neighbours take the fast path."""
    return request.param


# -- appending and integrating --------------------------------------------------------------


def test_record_writes_no_position_until_integrate_then_positions_are_contiguous(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    start = audit_log.tree_size(session)
    before_sequence = count(session, audit_sequence)
    ids = record_many(sessions, audit_log, 7)

    assert count(session, audit_sequence) == before_sequence
    assert audit_log.tree_size(session) == start
    assert audit_log.pending(session) >= 7
    assert audit_log.events(session, after_index=start - 1) == []

    result = integrate(sessions, audit_log)

    assert result.integrated >= 7 and not result.locked_out
    size = audit_log.tree_size(session)
    assert result.tree_size == size
    assert audit_log.pending(session) == 0
    positions = session.scalars(select(audit_sequence.c.leaf_index).order_by("leaf_index")).all()
    assert positions == list(range(size))
    logged = audit_log.events(session, after_index=start - 1, limit=1000)
    assert [e.document["id"] for e in logged][-7:] == ids
    assert [e.index for e in logged] == list(range(start, size))


def test_integrate_signs_a_checkpoint_only_when_asked_and_only_when_the_tree_grew(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog, signer: NoteSigner
) -> None:
    before = audit_log.latest_checkpoint(session)
    checkpoints = count(session, audit_checkpoints)
    record_many(sessions, audit_log, 5)

    unsigned = integrate(sessions, audit_log)
    assert unsigned.checkpoint is None
    assert audit_log.latest_checkpoint(session) == before

    signed = integrate(sessions, audit_log, checkpoint=True)
    cp = signed.checkpoint
    assert cp is not None and cp.tree_size == audit_log.tree_size(session)
    assert audit_log.latest_checkpoint(session) == cp
    note = verify_note(cp.note, signer.name, signer.public_key_bytes, origin=ORIGIN)
    assert (note.tree_size, note.root_hash) == (cp.tree_size, cp.root_hash)
    leaves = [leaf_hash(e.leaf) for e in audit_log.iter_all(session)]
    assert root_from_leaf_hashes(leaves) == cp.root_hash

    again = integrate(sessions, audit_log, checkpoint=True)
    assert again.checkpoint is None
    assert count(session, audit_checkpoints) == checkpoints + 1


def test_integrating_in_small_batches_and_separate_transactions_builds_the_same_tree(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    record_many(sessions, audit_log, 23)

    first = integrate(sessions, audit_log, batch=4, max_batches=2)
    assert first.integrated == 8
    assert audit_log.pending(session) >= 15
    integrate(sessions, audit_log, batch=3)  # resumes from the stored right edge
    cp = integrate(sessions, audit_log, checkpoint=True).checkpoint

    assert cp is not None
    leaves = [leaf_hash(e.leaf) for e in audit_log.iter_all(session)]
    assert len(leaves) == cp.tree_size
    assert root_from_leaf_hashes(leaves) == cp.root_hash
    assert audit_log.root_at(session, cp.tree_size) == cp.root_hash
    assert audit_log.verify(session).ok


def test_verify_is_ok_on_an_untouched_log(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog, chunk_size: int
) -> None:
    record_many(sessions, audit_log, 9)
    integrate(sessions, audit_log, checkpoint=True)
    record_many(sessions, audit_log, 4, start=9)
    cp = integrate(sessions, audit_log, checkpoint=True).checkpoint
    record_many(sessions, audit_log, 2, start=13)  # queued, not yet integrated

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert report.ok, report.problems
    assert report.problems == []
    assert report.tree_size == cp.tree_size
    assert report.root_hash == cp.root_hash
    assert report.checkpoints_checked == count(session, audit_checkpoints) >= 2
    assert report.pending == 2


def test_verify_checks_the_columns_of_events_with_and_without_a_subject_or_target(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog, chunk_size: int
) -> None:
    """The database computes the filter columns from the bytes of every shape of event,
    with a time given in another zone stored in UTC as the bytes write it, and a table made
    plain keeps values that verify's row-by-row checks accept."""
    elsewhere = timezone(timedelta(hours=-5))
    with sessions() as s:
        audit_log.record(s, make_event(1))
        audit_log.record(
            s,
            AuditEvent(
                action="client.created",
                actor=Actor("cli:root", "admin"),
                target=Target(record_id="c-1"),
            ),
        )
        audit_log.record(
            s,
            AuditEvent(
                action="auth.denied",
                actor=Actor("anonymous", "none"),
                outcome=Outcome.DENIED,
                reason="no bearer key",
            ),
        )
        audit_log.record(s, make_event(2), now=datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=elsewhere))
        s.commit()
    integrate(sessions, audit_log, checkpoint=True)

    report = audit_log.verify(session, chunk_size=chunk_size)
    assert report.ok, report.problems

    connection = session.connection()
    make_filter_columns_plain(connection)
    report = audit_log.verify(session, chunk_size=chunk_size)
    assert positions_named(report.problems) == set(), report.problems
    assert report.problems and all(p.startswith("audit_entries: ") for p in report.problems)


def test_verify_leaves_the_callers_session_usable_for_further_writes(
    sessions: sessionmaker[Session], audit_log: AuditLog
) -> None:
    """verify() runs in the caller's transaction (the API records its audit.verified event
    right after it), so it must not leave options such as streaming on that connection."""
    record_many(sessions, audit_log, 3)
    integrate(sessions, audit_log, checkpoint=True)

    with sessions() as s:
        assert audit_log.verify(s).ok
        event_id = audit_log.record(s, make_event(99))
        s.commit()
    with sessions() as s:
        assert s.scalar(select(func.count()).where(audit_entries.c.event_id == event_id)) == 1


def test_inclusion_proofs_from_the_database_verify_against_the_checkpoint_root(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    record_many(sessions, audit_log, 11)
    cp = integrate(sessions, audit_log, checkpoint=True).checkpoint
    events = audit_log.events(session, limit=1000)

    for event in events:
        leaf, path = audit_log.inclusion_proof(session, event.index, cp.tree_size)
        assert leaf == leaf_hash(event.leaf)
        assert verify_inclusion(leaf, event.index, cp.tree_size, path, cp.root_hash)
    # A proof for one event does not prove another one.
    leaf, path = audit_log.inclusion_proof(session, 0, cp.tree_size)
    assert not verify_inclusion(leaf_hash(events[1].leaf), 0, cp.tree_size, path, cp.root_hash)


def test_consistency_proofs_between_two_checkpoints_verify_and_old_proofs_still_hold(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    record_many(sessions, audit_log, 5)
    old = integrate(sessions, audit_log, checkpoint=True).checkpoint
    record_many(sessions, audit_log, 9, start=5)
    new = integrate(sessions, audit_log, checkpoint=True).checkpoint
    assert old.tree_size < new.tree_size

    proof = audit_log.consistency_proof(session, old.tree_size, new.tree_size)
    assert verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
    assert not verify_consistency(old.tree_size, new.tree_size, new.root_hash, new.root_hash, proof)
    # Inclusion in the old, smaller tree is still provable after the log grew.
    leaf, path = audit_log.inclusion_proof(session, old.tree_size - 1, old.tree_size)
    assert verify_inclusion(leaf, old.tree_size - 1, old.tree_size, path, old.root_hash)


def test_proofs_outside_the_integrated_log_are_refused(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    record_many(sessions, audit_log, 3)
    size = integrate(sessions, audit_log).tree_size
    record_many(sessions, audit_log, 2, start=3)  # queued: no position yet

    for index, tree_size in [(size, size), (0, size + 1), (-1, size), (0, 0)]:
        with pytest.raises(ProofRangeError):
            audit_log.inclusion_proof(session, index, tree_size)
    for first, second in [(0, size), (size, size + 1), (size, size - 1)]:
        with pytest.raises(ProofRangeError):
            audit_log.consistency_proof(session, first, second)


# -- personal values are refused ----------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            AuditEvent(
                action="client.created",
                actor=Actor("client-a", "admin"),
                details={"client_name": "ada.lovelace@example.com"},
            ),
            id="email-in-details",
        ),
        pytest.param(
            AuditEvent(
                action="data.read",
                actor=Actor("client-a", "application"),
                details={"record_ids": ["rec-1", "ada@example.com"]},
            ),
            id="email-in-a-details-list",
        ),
        pytest.param(
            AuditEvent(
                action="data.read",
                actor=Actor("client-a", "application"),
                details={"customer": "x1"},
            ),
            id="undeclared-details-key",
        ),
        pytest.param(
            AuditEvent(
                action="data.read",
                actor=Actor("client-a", "application"),
                outcome=Outcome.DENIED,
                reason="Ada Lovelace",
            ),
            id="name-in-reason",
        ),
        pytest.param(
            AuditEvent(
                action="data.read",
                actor=Actor("client-a", "application"),
                target=Target(collection="customers", subject_id="ada@example.com"),
            ),
            id="email-as-subject-id",
        ),
        pytest.param(
            AuditEvent(action="data.read", actor=Actor("Ada Lovelace", "application")),
            id="name-as-actor",
        ),
    ],
)
def test_events_carrying_personal_values_are_refused_and_nothing_is_written(
    session: Session, audit_log: AuditLog, event: AuditEvent
) -> None:
    entries, queued = count(session, audit_entries), count(session, audit_queue)

    with pytest.raises(UnsafeAuditEvent) as refused:
        audit_log.record(session, event)
    session.commit()

    assert count(session, audit_entries) == entries
    assert count(session, audit_queue) == queued
    # The message names the key, never the value.
    assert "@" not in str(refused.value) and "Lovelace" not in str(refused.value)


def test_record_many_writes_events_in_order_in_the_callers_transaction(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    start = audit_log.tree_size(session)
    with sessions() as s:
        ids = audit_log.record_many(s, [make_event(i) for i in range(5)])
        s.commit()

    integrate(sessions, audit_log)

    logged = audit_log.events(session, after_index=start - 1, limit=100)
    assert [e.document["id"] for e in logged] == ids
    assert [e.document["target"]["record_id"] for e in logged] == [f"rec-{i}" for i in range(5)]


def test_record_many_validates_every_event_before_writing_any(
    session: Session, audit_log: AuditLog
) -> None:
    entries = count(session, audit_entries)
    unsafe = AuditEvent(action="data.read", actor=Actor("ada@example.com", "application"))

    with pytest.raises(UnsafeAuditEvent):
        audit_log.record_many(session, [make_event(1), make_event(2), unsafe])

    assert count(session, audit_entries) == entries


def test_time_filters_find_events_by_the_time_written_on_the_driver_connection(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    """record() writes recorded_at without SQLAlchemy's type conversion on its hot path; it
    must store what SQLAlchemy-built filters compare against."""
    at = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    with sessions() as s:
        event_id = audit_log.record(s, make_event(1), now=at)
        s.commit()
    integrate(sessions, audit_log)

    def found(**window: datetime) -> bool:
        return event_id in {
            e.document["id"] for e in audit_log.events(session, limit=500, **window)
        }

    assert found(since=at, until=at + timedelta(microseconds=1))
    assert not found(since=at + timedelta(microseconds=1))
    assert not found(until=at)
    stored = session.scalar(
        select(audit_entries.c.recorded_at).where(audit_entries.c.event_id == event_id)
    )
    assert stored.replace(tzinfo=stored.tzinfo or UTC) == at


def test_an_event_rolled_back_with_its_transaction_leaves_no_row(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    entries, queued = count(session, audit_entries), count(session, audit_queue)

    with sessions() as s:
        event_id = audit_log.record(s, make_event(1))
        assert s.scalar(select(func.count()).where(audit_entries.c.event_id == event_id)) == 1
        s.rollback()

    assert count(session, audit_entries) == entries
    assert count(session, audit_queue) == queued
    gone = select(audit_entries.c.id).where(audit_entries.c.event_id == event_id)
    assert session.scalar(gone) is None
    assert integrate(sessions, audit_log).integrated == queued


# -- tamper detection (SQLite: PostgreSQL's trigger refuses the edits) ---------------------


@pytest.fixture
def sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("on PostgreSQL the append-only trigger refuses these edits")


@pytest.fixture
def postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("needs PostgreSQL (GOVERNANCE_TEST_DATABASE_URL)")


@pytest.fixture
def integrated_log(sessions: sessionmaker[Session], session: Session, audit_log: AuditLog) -> int:
    """Twelve integrated events under a checkpoint, verified clean; returns the first position."""
    start = audit_log.tree_size(session)
    record_many(sessions, audit_log, 12)
    integrate(sessions, audit_log, checkpoint=True)
    assert audit_log.verify(session).ok
    return start


def entry_id_at(connection: Connection, position: int) -> int:
    return connection.execute(
        text("SELECT entry_id FROM audit_sequence WHERE leaf_index = :p"), {"p": position}
    ).scalar_one()


def test_verify_names_the_position_of_an_edited_event(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    position = integrated_log + 3
    entry = entry_id_at(connection, position)
    data = connection.execute(
        text("SELECT data FROM audit_entries WHERE id = :e"), {"e": entry}
    ).scalar_one()
    edited = bytes(data).replace(b'"outcome":"allowed"', b'"outcome":"denied"')
    assert edited != bytes(data)
    connection.execute(
        text("UPDATE audit_entries SET data = :d WHERE id = :e"), {"d": edited, "e": entry}
    )

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert f"position {position}: event bytes do not match the leaf hash" in report.problems
    assert positions_named(report.problems) == {position}
    size = audit_log.tree_size(session)
    assert any(
        p.startswith(f"checkpoint at size {size}: recomputed root differs") for p in report.problems
    )


# A doctored filter column would hide the event from a filtered query (actor=, action=,
# subject_id=, since=/until=) while its bytes still hash right. The database computes the
# columns from the bytes and refuses to UPDATE them; an attacker with the database's own
# privileges must first make them plain columns, which verify reports, and then it compares
# every column with the bytes and names each doctored position.
FILTER_COLUMN_EDITS = {
    "action": "'data.write'",
    "actor_id": "'someone-else'",
    "subject_id": "'subj-other'",
    "subject_id-cleared": "NULL",
    "event_id": "'0123456789abcdef0123456789abcdef'",
    "recorded_at": "'2001-01-01 00:00:00.000000'",
}


def definition_reported(problems: list[str]) -> list[str]:
    """The problems that name the table definition rather than a position."""
    return [p for p in problems if p.startswith("audit_entries: ")]


@pytest.mark.parametrize("column", ["action", "actor_id", "subject_id", "event_id", "recorded_at"])
def test_the_database_refuses_to_update_a_filter_column_and_verify_still_passes(
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    is_postgres: bool,
    column: str,
) -> None:
    if is_postgres:  # even with the append-only trigger out of the way
        connection.execute(
            text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        )
    value = FILTER_COLUMN_EDITS[column]
    if is_postgres and column == "recorded_at":
        value = "'2001-01-01T00:00:00Z'"
    with pytest.raises(DBAPIError) as refused:  # noqa: PT012
        with connection.begin_nested():
            connection.execute(
                text(f"UPDATE audit_entries SET {column} = {value} WHERE id = :e"),  # noqa: S608
                {"e": entry_id_at(connection, integrated_log + 5)},
            )
    assert (
        "can only be updated to DEFAULT" if is_postgres else "cannot UPDATE generated column"
    ) in str(refused.value)

    assert audit_log.verify(session).ok


def test_writing_an_events_bytes_recomputes_its_filter_columns_and_breaks_its_leaf(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
) -> None:
    position = integrated_log + 4
    entry = entry_id_at(connection, position)
    data = bytes(
        connection.execute(
            text("SELECT data FROM audit_entries WHERE id = :e"), {"e": entry}
        ).scalar_one()
    )
    connection.execute(
        text("UPDATE audit_entries SET data = :d WHERE id = :e"),
        {"d": data.replace(b'"action":"data.read"', b'"action":"data.erase"'), "e": entry},
    )

    assert (
        connection.execute(
            text("SELECT action FROM audit_entries WHERE id = :e"), {"e": entry}
        ).scalar_one()
        == "data.erase"
    )
    report = audit_log.verify(session)
    assert f"position {position}: event bytes do not match the leaf hash" in report.problems
    assert definition_reported(report.problems) == []


def test_verify_reports_filter_columns_made_plain_even_before_one_is_edited(
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
) -> None:
    make_filter_columns_plain(connection)

    report = audit_log.verify(session)

    assert not report.ok
    assert definition_reported(report.problems) == report.problems != []
    assert positions_named(report.problems) == set()


@pytest.mark.parametrize("edit", sorted(FILTER_COLUMN_EDITS))
def test_verify_names_the_position_and_column_of_an_edited_filter_column(
    integrated_log: int,
    connection: Connection,
    session: Session,
    is_postgres: bool,
    audit_log: AuditLog,
    chunk_size: int,
    edit: str,
) -> None:
    position = integrated_log + 5
    column = edit.partition("-")[0]
    value = FILTER_COLUMN_EDITS[edit]
    if is_postgres and column == "recorded_at":
        value = "'2001-01-01T00:00:00Z'"
    make_filter_columns_plain(connection)
    connection.execute(
        text(f"UPDATE audit_entries SET {column} = {value} WHERE id = :e"),  # noqa: S608
        {"e": entry_id_at(connection, position)},
    )

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert definition_reported(report.problems) != []
    assert report.problems[len(definition_reported(report.problems)) :] == [
        f"position {position}: column {column} differs from the event bytes"
    ]


def test_verify_names_only_the_first_edited_column_of_an_entry_and_every_entry(
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    first, second = integrated_log + 1, integrated_log + 9
    make_filter_columns_plain(connection)
    connection.execute(
        text("UPDATE audit_entries SET action = 'x.y', actor_id = 'z' WHERE id = :e"),
        {"e": entry_id_at(connection, first)},
    )
    connection.execute(
        text("UPDATE audit_entries SET subject_id = 'subj-9' WHERE id = :e"),
        {"e": entry_id_at(connection, second)},
    )

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert report.problems[len(definition_reported(report.problems)) :] == [
        f"position {first}: column action differs from the event bytes",
        f"position {second}: column subject_id differs from the event bytes",
    ]


@pytest.mark.postgres_only
def test_verify_reports_a_replaced_function_that_computes_the_filter_columns(
    postgres_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
) -> None:
    # Stored values are recomputed only when a row is written, so a replaced function
    # could hide later events or, with the trigger disabled, rewrite earlier ones.
    connection.execute(
        text(
            "CREATE OR REPLACE FUNCTION audit_event_field(data bytea, path text[]) RETURNS text "
            "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
            "$$ SELECT 'nobody' $$"
        )
    )

    report = audit_log.verify(session)

    assert report.problems == [
        "audit_entries: function audit_event_field differs from the "
        "one that computes the filter columns"
    ]


def test_verify_names_the_position_of_a_removed_sequence_row(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    size = audit_log.tree_size(session)
    position = integrated_log + 5
    connection.execute(text("DELETE FROM audit_sequence WHERE leaf_index = :p"), {"p": position})

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert position in positions_named(report.problems)
    assert any(f"checkpoint at size {size}" in p for p in report.problems)


def test_verify_names_the_positions_of_two_swapped_events(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    a, b = integrated_log + 2, integrated_log + 7
    entry_a, entry_b = entry_id_at(connection, a), entry_id_at(connection, b)
    # entry_id is UNIQUE and a foreign key: park one row on a temporary id, with the
    # foreign key check deferred to commit (which never comes: the test rolls back).
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    swap = text("UPDATE audit_sequence SET entry_id = :e WHERE leaf_index = :p")
    connection.execute(swap, {"e": -1, "p": a})
    connection.execute(swap, {"e": entry_a, "p": b})
    connection.execute(swap, {"e": entry_b, "p": a})

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert positions_named(report.problems) == {a, b}


def test_verify_names_the_position_whose_event_row_was_deleted(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    position = integrated_log + 6
    entry = entry_id_at(connection, position)
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # never committed
    connection.execute(text("DELETE FROM audit_queue WHERE entry_id = :e"), {"e": entry})
    connection.execute(text("DELETE FROM audit_entries WHERE id = :e"), {"e": entry})

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert f"position {position}: event row missing" in report.problems
    assert positions_named(report.problems) == {position}


def test_verify_names_the_size_of_a_checkpoint_whose_root_was_changed(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    size = audit_log.tree_size(session)
    connection.execute(
        text("UPDATE audit_checkpoints SET root_hash = :r WHERE tree_size = :s"),
        {"r": bytes(32), "s": size},
    )

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert f"checkpoint at size {size}: row differs from its signed note" in report.problems


def test_an_event_rewritten_together_with_its_leaf_hash_is_caught_by_the_signed_checkpoint(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
) -> None:
    size = audit_log.tree_size(session)
    position = integrated_log + 4
    entry = entry_id_at(connection, position)
    data = bytes(
        connection.execute(
            text("SELECT data FROM audit_entries WHERE id = :e"), {"e": entry}
        ).scalar_one()
    )
    edited = data.replace(b'"action":"data.read"', b'"action":"data.erase"')
    # The database recomputes the filter columns, so the row is consistent in itself.
    connection.execute(
        text("UPDATE audit_entries SET data = :d WHERE id = :e"), {"d": edited, "e": entry}
    )
    connection.execute(
        text("UPDATE audit_sequence SET leaf_hash = :h WHERE leaf_index = :p"),
        {"h": leaf_hash(edited), "p": position},
    )

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert any(
        p.startswith(f"checkpoint at size {size}: recomputed root differs") for p in report.problems
    )
    assert positions_named(report.problems) == set()  # each row matches its own leaf hash
    assert position in positions_named(report.problems, checkpoints=True)


@pytest.mark.parametrize("edit", ["as-text", "as-text-rewritten"])
def test_verify_names_an_event_stored_as_text_instead_of_crashing(
    sqlite_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
    chunk_size: int,
    edit: str,
) -> None:
    """SQLite keeps whatever type is written: an event rewritten through a text function
    (``replace(CAST(data AS TEXT), ...)``) is stored as TEXT, no longer as bytes. Verify
    reports the position, in every chunk layout, and never raises."""
    position = integrated_log + 5
    entry = entry_id_at(connection, position)
    new = (
        "replace(CAST(data AS TEXT), 'data.read', 'data.erase')"
        if edit.endswith("rewritten")
        else "CAST(data AS TEXT)"
    )
    connection.execute(
        text(f"UPDATE audit_entries SET data = {new} WHERE id = :e"),  # noqa: S608
        {"e": entry},
    )
    assert (
        connection.execute(
            text("SELECT typeof(data) FROM audit_entries WHERE id = :e"), {"e": entry}
        ).scalar_one()
        == "text"
    )

    report = audit_log.verify(session, chunk_size=chunk_size)

    assert not report.ok
    assert f"position {position}: event bytes are stored as text, not as bytes" in report.problems
    assert positions_named(report.problems) == {position}


# -- PostgreSQL: the tables refuse UPDATE and DELETE --------------------------------------

REFUSED = [
    ("audit_entries", "UPDATE audit_entries SET data = data"),
    ("audit_entries", "DELETE FROM audit_entries"),
    ("audit_sequence", "UPDATE audit_sequence SET leaf_hash = leaf_hash"),
    ("audit_sequence", "DELETE FROM audit_sequence"),
    ("audit_sequence", "TRUNCATE audit_sequence"),
    ("audit_nodes", "UPDATE audit_nodes SET hash = hash"),
    ("audit_nodes", "DELETE FROM audit_nodes"),
    ("audit_nodes", "TRUNCATE audit_nodes"),
    ("audit_checkpoints", "UPDATE audit_checkpoints SET root_hash = root_hash"),
    ("audit_checkpoints", "DELETE FROM audit_checkpoints"),
    ("audit_checkpoints", "TRUNCATE audit_checkpoints"),
]


@pytest.mark.postgres_only
def test_postgres_refuses_every_update_and_delete_of_the_audit_tables(
    postgres_only: None,
    integrated_log: int,
    connection: Connection,
    session: Session,
    audit_log: AuditLog,
) -> None:
    counts = {
        table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        for table in {t for t, _ in REFUSED}
    }
    assert all(counts.values()), counts  # every statement below has rows to touch

    for table, statement in REFUSED:
        with pytest.raises(DBAPIError) as refused:  # noqa: PT012
            with connection.begin_nested():
                connection.execute(text(statement))
        assert f"audit table {table} is append-only" in str(refused.value), statement

    after = {
        table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        for table in counts
    }
    assert after == counts
    assert audit_log.verify(session).ok


@pytest.mark.postgres_only
def test_postgres_still_lets_the_integrator_drain_the_queue(
    postgres_only: None, sessions: sessionmaker[Session], session: Session, audit_log: AuditLog
) -> None:
    record_many(sessions, audit_log, 3)
    assert audit_log.pending(session) >= 3
    integrate(sessions, audit_log)
    assert audit_log.pending(session) == 0


# -- PostgreSQL: concurrent writers ----------------------------------------------------------

WRITERS = 4
EVENTS_PER_WRITER = 300


def append_worker(url: str, key_path: str, writer: int, n: int, barrier, out: str) -> None:  # noqa: ANN001
    """Child process: append n events, one transaction each, integrating now and then."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    log = AuditLog(NoteSigner(ORIGIN, load_signing_key(key_path)), ORIGIN)
    ids = []
    try:
        barrier.wait(timeout=60)
        for i in range(n):
            with unit_of_work(sessions) as s:
                ids.append(log.record(s, make_event(i, actor=f"writer-{writer}")))
            if i % 25 == 24:
                with unit_of_work(sessions) as s:
                    log.integrate(s, wait=False)
    finally:
        engine.dispose()
        Path(out).write_text("\n".join(ids))


@pytest.mark.postgres_only
def test_concurrent_writers_on_postgres_give_one_gapless_sequence(
    postgres_only: None, tmp_path: Path
) -> None:
    key_path = tmp_path / "signing-key.pem"
    generate_signing_key(key_path)
    log = AuditLog(NoteSigner(ORIGIN, load_signing_key(key_path)), ORIGIN)
    server = os.environ["GOVERNANCE_TEST_DATABASE_URL"]

    with contextmanager(fresh_postgres_database)(server) as url:
        migrated(url)
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(WRITERS)
        outs = [tmp_path / f"writer-{w}.ids" for w in range(WRITERS)]
        procs = [
            ctx.Process(
                target=append_worker,
                args=(url, str(key_path), w, EVENTS_PER_WRITER, barrier, str(outs[w])),
            )
            for w in range(WRITERS)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0] * WRITERS

        engine = make_engine(url)
        sessions = make_session_factory(engine)
        try:
            integrate(sessions, log, checkpoint=True)
            with sessions() as s:
                report = log.verify(s)
                sequence = s.execute(
                    select(audit_sequence.c.leaf_index, audit_sequence.c.entry_id).order_by(
                        audit_sequence.c.leaf_index
                    )
                ).all()
                entry_ids = set(s.scalars(select(audit_entries.c.id)))
                queued = count(s, audit_queue)
                logged = [parse_leaf(e.leaf) for e in log.iter_all(s)]
        finally:
            engine.dispose()

    total = WRITERS * EVENTS_PER_WRITER
    assert report.ok, report.problems
    assert report.tree_size == total
    assert [i for i, _ in sequence] == list(range(total))
    assert len({e for _, e in sequence}) == total
    assert {e for _, e in sequence} == entry_ids
    assert queued == 0
    # Every recorded event is in the log once, and each writer's events keep its order.
    for w, out in enumerate(outs):
        recorded = out.read_text().split("\n")
        assert len(recorded) == EVENTS_PER_WRITER
        in_log = [d["id"] for d in logged if d["actor"]["id"] == f"writer-{w}"]
        assert in_log == recorded


# -- export ---------------------------------------------------------------------------------


def test_export_writes_one_json_line_per_event_and_a_verifiable_checkpoint(
    sessions: sessionmaker[Session], session: Session, audit_log: AuditLog, signer: NoteSigner
) -> None:
    record_many(sessions, audit_log, 6)
    integrate(sessions, audit_log, checkpoint=True)
    record_many(sessions, audit_log, 3, start=6)
    integrate(sessions, audit_log, checkpoint=True)

    out = io.StringIO()
    written = audit_log.export(session, out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    events, last = lines[:-1], lines[-1]
    assert written == len(events) == audit_log.tree_size(session)
    assert [e["index"] for e in events] == list(range(written))
    for e in events:
        leaf = base64.b64decode(e["leaf"])
        assert json.loads(leaf) == e["event"]
    cp = last["checkpoint"]
    public_key = base64.b64decode(cp["public_key"])
    assert public_key == signer.public_key_bytes
    note = verify_note(cp["note"], cp["key_name"], public_key, origin=ORIGIN)
    assert note.tree_size == cp["tree_size"] == written
    assert note.root_hash.hex() == cp["root_hash"]
    # The export alone re-derives the signed root.
    leaves = [leaf_hash(base64.b64decode(e["leaf"])) for e in events]
    assert root_from_leaf_hashes(leaves) == note.root_hash
