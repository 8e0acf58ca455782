"""Retention tables: legal holds (an append-only history and its current state) and the
recorded runs of the retention sweep.

``legal_hold_events`` is the truth, like consent: a trigger on both backends refuses every
UPDATE and DELETE of it (no erasure deletes a hold: it names ids and codes only, no value).
``legal_holds`` is one row per hold, its current state, written in the same transaction as
each event and recomputable from the history. A hold names a subject (by id) or a
collection, a reason code from a closed list and a matter reference (an id in another
system, never free text).

A run keeps its plan (what was due when it was asked for, at a fixed ``as_of`` time, so a
resumed run applies the same cut-offs), its progress per rule (committed with each batch)
and its totals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base

Seq = BigInteger().with_variant(Integer(), "sqlite")


class LegalHoldEvent(Base):
    __tablename__ = "legal_hold_events"
    __table_args__ = (Index("ix_legal_hold_events_hold", "hold_id", "seq"),)

    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    hold_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # placed | released
    scope: Mapped[str] = mapped_column(String(16))  # subject | collection
    subject_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    collection: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(32))
    matter: Mapped[str | None] = mapped_column(String(100), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    actor_id: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LegalHold(Base):
    __tablename__ = "legal_holds"
    __table_args__ = (
        Index("ix_legal_holds_subject", "subject_id"),
        Index("ix_legal_holds_collection", "collection"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    collection: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(32))
    matter: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    placed_by: Mapped[str] = mapped_column(String(128))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class RetentionRun(Base):
    __tablename__ = "retention_runs"
    __table_args__ = (Index("ix_retention_runs_created", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # queued | running | completed | failed
    dry_run: Mapped[bool] = mapped_column(Boolean)
    batch_size: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    plan: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # per rule name: {"done": n, "held": n, "batches": n, "finished": bool, "pending": [ids]}
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
