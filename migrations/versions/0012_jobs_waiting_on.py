"""Jobs that wait on a dependency: ``waiting_on`` names what an infrastructure failure
found unreachable (``database``, ``key_store``, ``broker``) and ``waiting_since`` when the
job started waiting, so an outage is retried for the configured time rather than counted
against the attempt cap (governance/jobs/work.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("waiting_on", sa.String(24), nullable=True))
    op.add_column("jobs", sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("waiting_since")
        batch.drop_column("waiting_on")
