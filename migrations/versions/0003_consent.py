"""Consent: the append-only event history, the materialised current state, erasure permits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

The history (consent_events) refuses UPDATE always, and DELETE unless the same transaction
holds a row in consent_erasure_permits for the deleted row's subject: the erasure service
writes that permit, deletes the subject's events and removes the permit before commit, so a
stray DELETE (or one for another subject) fails. TRUNCATE is refused on PostgreSQL. The same
guard is a trigger on SQLite too, so the embedded default has no update path either.

Note for later migrations: Alembic's SQLite batch mode recreates a table to alter it, which
drops its triggers; a migration that alters consent_events must create them again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=True),
        sa.Column("evidence", sa.String(200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
    )
    op.create_index("ix_consent_events_subject_seq", "consent_events", ["subject_id", "seq"])
    op.create_table(
        "consent_state",
        sa.Column("subject_id", sa.String(32), primary_key=True),
        sa.Column("purpose", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_consent_state_purpose_status", "consent_state", ["purpose", "status", "subject_id"]
    )
    op.create_table(
        "consent_restrictions",
        sa.Column("subject_id", sa.String(32), primary_key=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "consent_erasure_permits",
        sa.Column("subject_id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION consent_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF EXISTS (SELECT 1 FROM consent_erasure_permits p
                               WHERE p.subject_id = OLD.subject_id) THEN
                        RETURN OLD;
                    END IF;
                END IF;
                RAISE EXCEPTION 'consent_events is append-only: % refused (only erasure deletes)',
                    TG_OP USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events "
            "FOR EACH ROW EXECUTE FUNCTION consent_events_guard()"
        )
        op.execute(
            "CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION consent_events_guard()"
        )
    else:
        op.execute(
            "CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events "
            "BEGIN SELECT RAISE(ABORT, 'consent_events is append-only: UPDATE refused'); END"
        )
        op.execute(
            "CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events "
            "WHEN NOT EXISTS (SELECT 1 FROM consent_erasure_permits p "
            "WHERE p.subject_id = OLD.subject_id) "
            "BEGIN SELECT RAISE(ABORT, 'consent_events is append-only: DELETE refused "
            "(only erasure deletes)'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_events_append_only ON consent_events")
        op.execute("DROP TRIGGER IF EXISTS consent_events_no_truncate ON consent_events")
        op.execute("DROP FUNCTION IF EXISTS consent_events_guard()")
    else:
        op.execute("DROP TRIGGER IF EXISTS consent_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS consent_events_no_delete")
    for table in (
        "consent_erasure_permits",
        "consent_restrictions",
        "consent_state",
        "consent_events",
    ):
        op.drop_table(table)
