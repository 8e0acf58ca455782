"""Data-subject requests: requests, their recorded steps, sealed exports, erasure suppressions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dsr_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("regulation", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=True),
        sa.Column("email_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("subject_found", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("verification_method", sa.String(64), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("sealed_details", sa.LargeBinary(), nullable=True),
        sa.Column("work", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dsr_requests_status_due", "dsr_requests", ["status", "due_at"])
    op.create_index("ix_dsr_requests_subject", "dsr_requests", ["subject_id"])
    op.create_index("ix_dsr_requests_email_bidx", "dsr_requests", ["email_bidx"])
    op.create_table(
        "dsr_steps",
        sa.Column(
            "request_id",
            sa.String(32),
            sa.ForeignKey("dsr_requests.id", name="fk_dsr_steps_request"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(96), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
    )
    op.create_table(
        "dsr_exports",
        sa.Column(
            "request_id",
            sa.String(32),
            sa.ForeignKey("dsr_requests.id", name="fk_dsr_exports_request"),
            primary_key=True,
        ),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dsr_exports_expires_at", "dsr_exports", ["expires_at"])
    op.create_table(
        "erasure_suppressions",
        sa.Column("email_bidx", sa.LargeBinary(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erasure_suppressions")
    op.drop_index("ix_dsr_exports_expires_at", table_name="dsr_exports")
    op.drop_table("dsr_exports")
    op.drop_table("dsr_steps")
    op.drop_index("ix_dsr_requests_email_bidx", table_name="dsr_requests")
    op.drop_index("ix_dsr_requests_subject", table_name="dsr_requests")
    op.drop_index("ix_dsr_requests_status_due", table_name="dsr_requests")
    op.drop_table("dsr_requests")
