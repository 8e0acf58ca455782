"""One PII store scan at a time: a unique index over the unfinished scans.

The index is on a constant, limited to the rows whose state is queued or running, so the
database holds at most one such row: two workers that both found no scan running cannot
both create one (the second insert fails and its request answers with the first scan).
Scans left unfinished side by side before this revision (the fault it fixes) are closed as
failed, all but the newest, so the index can be built.

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None

_UNFINISHED = "state IN ('queued', 'running')"


def upgrade() -> None:
    bind = op.get_bind()
    unfinished = (
        bind.execute(
            sa.text(
                f"SELECT id FROM pii_scans WHERE {_UNFINISHED} "  # noqa: S608 - constants only
                "ORDER BY created_at DESC, id DESC"
            )
        )
        .scalars()
        .all()
    )
    for scan_id in unfinished[1:]:
        bind.execute(
            sa.text(
                "UPDATE pii_scans SET state = 'failed', error = 'Superseded', "
                "finished_at = CURRENT_TIMESTAMP WHERE id = :id"
            ),
            {"id": scan_id},
        )
    op.execute(
        f"CREATE UNIQUE INDEX uq_pii_scans_one_unfinished ON pii_scans ((0)) WHERE {_UNFINISHED}"
    )


def downgrade() -> None:
    op.drop_index("uq_pii_scans_one_unfinished", table_name="pii_scans")
