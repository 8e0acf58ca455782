"""The audit log's subject index: the subjects a list read returned, one row each, tied to
its event; on PostgreSQL append-only like the other audit tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EntryId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_subjects",
        sa.Column(
            "entry_id",
            EntryId,
            sa.ForeignKey("audit_entries.id", name="fk_audit_subjects_entry"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("subject_id", sa.String(128), primary_key=True),
    )
    op.create_index("ix_audit_subjects_subject_id", "audit_subjects", ["subject_id", "entry_id"])
    if op.get_bind().dialect.name == "postgresql":
        # audit_refuse_change() comes with the audit log (0002).
        op.execute(
            "CREATE TRIGGER audit_subjects_append_only BEFORE UPDATE OR DELETE ON "
            "audit_subjects FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_subjects_no_truncate BEFORE TRUNCATE ON audit_subjects "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_subjects_append_only ON audit_subjects")
        op.execute("DROP TRIGGER IF EXISTS audit_subjects_no_truncate ON audit_subjects")
    op.drop_index("ix_audit_subjects_subject_id", table_name="audit_subjects")
    op.drop_table("audit_subjects")
