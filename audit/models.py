"""The audit tables. Every table but the queue is append-only (a PostgreSQL trigger says so).

- ``audit_entries``: each event's canonical bytes, plus a few columns the database computes
  from them to filter on (generated columns: ``derived.py``; the served event is always
  decoded from the bytes).
- ``audit_subjects``: the subjects whose records an event's request returned (a list read),
  one row each, so that "which events saw this person?" finds lists too; the entry's bytes
  commit to them (``viewed_subjects``: their count and SHA-256), and verify checks the rows
  against that.
- ``audit_queue``: entries recorded but not yet in the tree; the integrator drains it.
- ``audit_sequence``: position in the tree -> entry, with the leaf hash fixed at integration.
- ``audit_nodes``: hashes of the perfect subtrees above the leaves, so proofs are O(log n).
- ``audit_checkpoints``: signed tree heads (C2SP signed notes).
- ``audit_integrator``: one row whose write lock serialises integrators on SQLite.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

from audit.derived import EventField

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EntryId = BigInteger().with_variant(Integer(), "sqlite")

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", EntryId, primary_key=True, autoincrement=True),
    Column(
        "event_id",
        String(32),
        Computed(EventField("event_id"), persisted=True),
        nullable=False,
        unique=True,
    ),
    Column(
        "recorded_at",
        DateTime(timezone=True),
        Computed(EventField("recorded_at"), persisted=True),
        nullable=False,
        index=True,
    ),
    Column(
        "actor_id",
        String(128),
        Computed(EventField("actor_id"), persisted=True),
        nullable=False,
        index=True,
    ),
    Column(
        "action",
        String(64),
        Computed(EventField("action"), persisted=True),
        nullable=False,
        index=True,
    ),
    Column(
        "subject_id",
        String(128),
        Computed(EventField("subject_id"), persisted=True),
        nullable=True,
        index=True,
    ),
    Column("data", LargeBinary(), nullable=False),
    Column(
        "viewed_digest",
        String(64),
        Computed(EventField("viewed_digest"), persisted=True),
        nullable=True,
    ),
    Index(
        "ix_audit_entries_viewed",
        "id",
        sqlite_where=text("viewed_digest IS NOT NULL"),
        postgresql_where=text("viewed_digest IS NOT NULL"),
    ),
)

audit_subjects = Table(
    "audit_subjects",
    metadata,
    Column(
        "entry_id", EntryId, ForeignKey("audit_entries.id"), primary_key=True, autoincrement=False
    ),
    Column("subject_id", String(128), primary_key=True),
    Index("ix_audit_subjects_subject_id", "subject_id", "entry_id"),
)

audit_queue = Table(
    "audit_queue",
    metadata,
    Column(
        "entry_id", EntryId, ForeignKey("audit_entries.id"), primary_key=True, autoincrement=False
    ),
)

audit_sequence = Table(
    "audit_sequence",
    metadata,
    Column("leaf_index", BigInteger(), primary_key=True, autoincrement=False),
    Column("entry_id", EntryId, ForeignKey("audit_entries.id"), nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

audit_nodes = Table(
    "audit_nodes",
    metadata,
    Column("level", SmallInteger(), primary_key=True, autoincrement=False),
    Column("idx", BigInteger(), primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("tree_size", BigInteger(), primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_name", String(200), nullable=False),
    Column("note", Text(), nullable=False),
)

audit_integrator = Table(
    "audit_integrator",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("runs", BigInteger(), nullable=False),
)

APPEND_ONLY_TABLES = (
    "audit_entries",
    "audit_subjects",
    "audit_sequence",
    "audit_nodes",
    "audit_checkpoints",
)
