"""The audit log's filter columns become generated columns, computed from the event bytes.

``event_id``, ``recorded_at``, ``actor_id``, ``action`` and ``subject_id`` were written
beside the bytes; a doctored one hid an event from a filtered query while the bytes still
hashed right. Now the database computes them from ``data`` and refuses to UPDATE them, and
verify checks the table definition once instead of every row's columns (``audit/derived.py``
holds the definition verify expects; this file keeps its own frozen copy).

``viewed_digest`` is new: the digest of a list event's subject index, NULL for other
events, with a partial index, so that verify finds the list events without looking at
every row's bytes.

SQLite cannot turn a column into a generated one, so the table is rebuilt: its rows are
copied aside, the table dropped and created again, and the rows put back under the same
ids, with the foreign keys of the queue, sequence and subject index deferred to the commit
(each row put back satisfies the references to it again). PostgreSQL drops the columns and
adds them back as stored generated columns, which rewrites the table in one statement; its
append-only triggers fire on UPDATE and DELETE, not on ALTER TABLE.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("event_id", "recorded_at", "actor_id", "action", "subject_id")
INDEXED = ("recorded_at", "actor_id", "action", "subject_id")

SQLITE_GENERATED = """
CREATE TABLE audit_entries (
    id INTEGER NOT NULL,
    event_id VARCHAR(32) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.id')) STORED NOT NULL,
    recorded_at DATETIME GENERATED ALWAYS AS
        (replace(substr(json_extract(CAST(data AS TEXT), '$.time'), 1, 26), 'T', ' '))
        STORED NOT NULL,
    actor_id VARCHAR(128) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.actor.id')) STORED NOT NULL,
    action VARCHAR(64) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.action')) STORED NOT NULL,
    subject_id VARCHAR(128) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.target.subject_id')) STORED,
    data BLOB NOT NULL,
    viewed_digest VARCHAR(64) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.viewed_subjects.sha256')) STORED,
    PRIMARY KEY (id),
    UNIQUE (event_id)
)
"""

SQLITE_PLAIN = """
CREATE TABLE audit_entries (
    id INTEGER NOT NULL,
    event_id VARCHAR(32) NOT NULL,
    recorded_at DATETIME NOT NULL,
    actor_id VARCHAR(128) NOT NULL,
    action VARCHAR(64) NOT NULL,
    subject_id VARCHAR(128),
    data BLOB NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (event_id)
)
"""

FIELD_BODY = " SELECT convert_from(data, 'UTF8')::jsonb #>> path "
TIME_BODY = " SELECT (convert_from(data, 'UTF8')::jsonb ->> 'time')::timestamptz "
POSTGRESQL_FUNCTIONS = (
    "CREATE FUNCTION audit_event_field(data bytea, path text[]) RETURNS text "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $${FIELD_BODY}$$",
    "CREATE FUNCTION audit_event_time(data bytea) RETURNS timestamp with time zone "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $${TIME_BODY}$$",
)
POSTGRESQL_COLUMNS = {
    "event_id": "varchar(32) GENERATED ALWAYS AS (audit_event_field(data, '{id}')) STORED NOT NULL",
    "recorded_at": "timestamp with time zone GENERATED ALWAYS AS (audit_event_time(data)) "
    "STORED NOT NULL",
    "actor_id": "varchar(128) GENERATED ALWAYS AS (audit_event_field(data, '{actor,id}')) "
    "STORED NOT NULL",
    "action": "varchar(64) GENERATED ALWAYS AS (audit_event_field(data, '{action}')) "
    "STORED NOT NULL",
    "subject_id": "varchar(128) GENERATED ALWAYS AS "
    "(audit_event_field(data, '{target,subject_id}')) STORED",
}
# The digest of a list event's subject index (NULL for other events), with a partial index:
# verify finds the list events through it instead of looking at every row's bytes.
VIEWED = (
    "viewed_digest varchar(64) GENERATED ALWAYS AS "
    "(audit_event_field(data, '{viewed_subjects,sha256}')) STORED"
)
VIEWED_INDEX = (
    "CREATE INDEX ix_audit_entries_viewed ON audit_entries (id) WHERE viewed_digest IS NOT NULL"
)


def _sqlite_rebuild(create: str, copy_columns: str) -> None:
    op.execute("PRAGMA defer_foreign_keys = ON")  # until the commit; rows come back below
    op.execute("DROP TABLE IF EXISTS audit_entries_rebuild")
    op.execute(
        f"CREATE TABLE audit_entries_rebuild AS SELECT {copy_columns} "  # noqa: S608
        "FROM audit_entries"
    )
    for column in INDEXED:
        op.execute(f"DROP INDEX IF EXISTS ix_audit_entries_{column}")
    op.execute("DROP TABLE audit_entries")
    op.execute(create)
    op.execute(
        f"INSERT INTO audit_entries ({copy_columns}) "  # noqa: S608
        f"SELECT {copy_columns} FROM audit_entries_rebuild ORDER BY id"
    )
    op.execute("DROP TABLE audit_entries_rebuild")
    for column in INDEXED:
        op.execute(f"CREATE INDEX ix_audit_entries_{column} ON audit_entries ({column})")
    if "viewed_digest" in create:
        op.execute(VIEWED_INDEX)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for ddl in POSTGRESQL_FUNCTIONS:
            op.execute(ddl)
        op.execute(
            "ALTER TABLE audit_entries " + ", ".join(f"DROP COLUMN {column}" for column in COLUMNS)
        )
        op.execute(
            "ALTER TABLE audit_entries "
            + ", ".join(f"ADD COLUMN {column} {POSTGRESQL_COLUMNS[column]}" for column in COLUMNS)
        )
        op.execute(
            "ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_event_id_key UNIQUE (event_id)"
        )
        for column in INDEXED:
            op.execute(f"CREATE INDEX ix_audit_entries_{column} ON audit_entries ({column})")
        op.execute(f"ALTER TABLE audit_entries ADD COLUMN {VIEWED}")
        op.execute(VIEWED_INDEX)
        return
    _sqlite_rebuild(SQLITE_GENERATED, "id, data")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_audit_entries_viewed")
        op.execute("ALTER TABLE audit_entries DROP COLUMN viewed_digest")
        for column in COLUMNS:
            op.execute(f"ALTER TABLE audit_entries ALTER COLUMN {column} DROP EXPRESSION")
        op.execute("DROP FUNCTION audit_event_field(bytea, text[])")
        op.execute("DROP FUNCTION audit_event_time(bytea)")
        return
    _sqlite_rebuild(SQLITE_PLAIN, "id, " + ", ".join(COLUMNS) + ", data")
