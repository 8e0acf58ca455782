"""Tables of the key store: a database of its own, apart from the CRM store.

A backup of the CRM store must never carry the keys that open it, and a subject erased by
crypto-shredding must stay unreadable in CRM backups taken before the erasure. Both follow
from keeping the wrapped data keys here, in a database that is backed up on its own
schedule (see README, "Backups and the key store").
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

keystore_metadata = MetaData()

# One row per data subject. ``wrapped`` is the subject's 256-bit data key sealed by KEK
# version ``kek_version``; shredding sets it to NULL and stamps ``shredded_at`` so that a
# read can tell "erased" from "never had a key".
subject_keys = Table(
    "subject_keys",
    keystore_metadata,
    Column("subject_id", String(32), primary_key=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("kek_version", Integer, nullable=True),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rewrapped_at", DateTime(timezone=True), nullable=True),
    Column("shredded_at", DateTime(timezone=True), nullable=True),
    Index("ix_subject_keys_kek_version", "kek_version"),
)

# Long key operations (KEK rotation, encrypting an adopted store) keep their progress here
# so that a restart continues where a crash stopped them.
key_jobs = Table(
    "key_jobs",
    keystore_metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # running | done
    Column("target_version", Integer, nullable=True),
    Column("position", Text, nullable=True),  # opaque resume point of the job
    Column("processed", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_key_jobs_kind_state", "kind", "state"),
)
