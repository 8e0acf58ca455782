"""Key store: wrapped per-subject data keys and resumable key jobs.

Revision ID: k0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "k0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(32), primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=False, unique=True),
        sa.Column("kek_version", sa.Integer(), nullable=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_subject_keys_kek_version", "subject_keys", ["kek_version"])
    op.create_table(
        "key_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=True),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_key_jobs_kind_state", "key_jobs", ["kind", "state"])


def downgrade() -> None:
    op.drop_table("key_jobs")
    op.drop_table("subject_keys")
