"""Retention: legal holds (append-only events and their state), retention runs, and the hold an
erasure request waits on.

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-03

legal_hold_events refuses every UPDATE and DELETE (and TRUNCATE on PostgreSQL) by trigger
on both backends: a hold is placed and released by new events, never rewritten, and holds
name ids and codes only, so no erasure needs to delete them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The reference store's retention `from` columns (policies/datamap.yaml), compared with a
# cut-off by every policy read and sweep batch; CrmTables declares the same indexes.
RETENTION_COLUMNS = (
    ("companies", "updated_at"),
    ("customers", "updated_at"),
    ("interactions", "occurred_at"),
    ("orders", "ordered_at"),
    ("order_lines", "created_at"),
    ("payment_details", "updated_at"),
    ("support_tickets", "opened_at"),
    ("campaign_responses", "sent_at"),
    ("web_events", "occurred_at"),
)


def upgrade() -> None:
    op.create_table(
        "legal_hold_events",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("hold_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=True),
        sa.Column("collection", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("matter", sa.String(100), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_legal_hold_events_hold", "legal_hold_events", ["hold_id", "seq"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=True),
        sa.Column("collection", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("matter", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(128), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(128), nullable=True),
        sa.Column("release_reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_legal_holds_subject", "legal_holds", ["subject_id"])
    op.create_index("ix_legal_holds_collection", "legal_holds", ["collection"])
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_retention_runs_created", "retention_runs", ["created_at"])
    for table, column in RETENTION_COLUMNS:
        op.create_index(f"ix_{table}_retention_{column}", table, [column])
    # A plain ADD COLUMN (no batch mode), so SQLite keeps the table and its indexes as is.
    op.add_column("dsr_requests", sa.Column("hold_id", sa.String(32), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION legal_hold_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'legal_hold_events is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER legal_hold_events_append_only BEFORE UPDATE OR DELETE ON "
            "legal_hold_events FOR EACH ROW EXECUTE FUNCTION legal_hold_events_guard()"
        )
        op.execute(
            "CREATE TRIGGER legal_hold_events_no_truncate BEFORE TRUNCATE ON legal_hold_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION legal_hold_events_guard()"
        )
    else:
        op.execute(
            "CREATE TRIGGER legal_hold_events_no_update BEFORE UPDATE ON legal_hold_events "
            "BEGIN SELECT RAISE(ABORT, 'legal_hold_events is append-only: UPDATE refused'); END"
        )
        op.execute(
            "CREATE TRIGGER legal_hold_events_no_delete BEFORE DELETE ON legal_hold_events "
            "BEGIN SELECT RAISE(ABORT, 'legal_hold_events is append-only: DELETE refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS legal_hold_events_append_only ON legal_hold_events")
        op.execute("DROP TRIGGER IF EXISTS legal_hold_events_no_truncate ON legal_hold_events")
        op.execute("DROP FUNCTION IF EXISTS legal_hold_events_guard()")
    else:
        op.execute("DROP TRIGGER IF EXISTS legal_hold_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS legal_hold_events_no_delete")
    for table, column in RETENTION_COLUMNS:
        op.drop_index(f"ix_{table}_retention_{column}", table_name=table)
    with op.batch_alter_table("dsr_requests") as batch:
        batch.drop_column("hold_id")
    for table in ("retention_runs", "legal_holds", "legal_hold_events"):
        op.drop_table(table)
