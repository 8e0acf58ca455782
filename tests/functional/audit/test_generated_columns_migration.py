"""Migration 0011 on a log that already holds events: the filter columns written beside
the bytes become columns the database computes from them, every event keeps its id and
position, the queue still drains, and the log verifies, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from audit.checkpoint import NoteSigner, generate_signing_key, load_signing_key
from audit.events import Actor, AuditEvent, Target, canonical_bytes, new_event_id
from audit.log import AuditLog
from audit.models import audit_entries
from governance.db import make_engine, make_session_factory, unit_of_work
from governance.migrate import upgrade

ORIGIN = "crm-privacy-gateway.example/audit"


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


def old_rows(n: int) -> list[dict[str, object]]:
    """Rows as the log wrote them before 0011: the columns beside the bytes."""
    rows = []
    for i in range(n):
        event_id, at = new_event_id(), datetime(2026, 11, 30, 12, 0, i, 250_000, tzinfo=UTC)
        event = AuditEvent(
            action="data.read",
            actor=Actor(f"client-{i % 3}", "application"),
            target=Target(
                collection="customers",
                record_id=f"r-{i}",
                subject_id=None if i % 4 == 0 else f"s-{i}",
            ),
            purpose="support",
        )
        rows.append(
            {
                "event_id": event_id,
                "recorded_at": at,
                "actor_id": event.actor.id,
                "action": event.action,
                "subject_id": event.target.subject_id,
                "data": canonical_bytes(event.to_document(event_id, at)),
            }
        )
    return rows


def test_upgrading_a_populated_log_computes_its_columns_and_it_still_verifies(
    url: str, tmp_path: Path
) -> None:
    upgrade(url, "0008")
    engine = make_engine(url)
    rows = old_rows(9)
    generate_signing_key(tmp_path / "audit.key")
    log = AuditLog(NoteSigner(ORIGIN, load_signing_key(tmp_path / "audit.key")), ORIGIN)
    try:
        with engine.begin() as connection:
            for row in rows:
                entry = connection.execute(
                    text(
                        "INSERT INTO audit_entries (event_id, recorded_at, actor_id, action, "
                        "subject_id, data) VALUES (:event_id, :recorded_at, :actor_id, :action, "
                        ":subject_id, :data) RETURNING id"
                    ),
                    row,
                ).scalar_one()
                connection.execute(
                    text("INSERT INTO audit_queue (entry_id) VALUES (:e)"), {"e": entry}
                )
        sessions = make_session_factory(engine)
        with unit_of_work(sessions) as session:  # six integrated, three still queued
            log.integrate(session, batch=6, max_batches=1, checkpoint=True)
        engine.dispose()

        upgrade(url)

        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with unit_of_work(sessions) as session:
            log.integrate(session, checkpoint=True)
        with unit_of_work(sessions) as session:
            report = log.verify(session)
            stored = session.execute(
                text("SELECT event_id, actor_id, action, subject_id FROM audit_entries ORDER BY id")
            ).all()
        assert report.ok, report.problems
        assert report.tree_size == 9
        assert [tuple(r) for r in stored] == [
            (r["event_id"], r["actor_id"], r["action"], r["subject_id"]) for r in rows
        ]
        with engine.connect() as connection:
            since = connection.execute(
                select(func.count()).where(
                    audit_entries.c.recorded_at >= datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)
                )
            ).scalar_one()
        assert since == 4
    finally:
        engine.dispose()
