"""Identity fields are unique: the blind index of customers.email gets a unique index.

A data-subject request is taken in by an identity field (the data map's ``identity: true``);
two customers with one e-mail made a request by that e-mail run on whichever came first
(issue 26 item 3). The service refuses a write that would duplicate an identity; the unique
index is what holds when two writers race.

A store may already hold duplicates (imported before the rule). The migration must not fail
on them, and must not pick a survivor: which record is the person is the compliance
officer's call. So where duplicates exist the plain index stays, one warning line says how
many values are duplicated (never a value), and the service keeps refusing new duplicates
(its check runs under a per-value lock on PostgreSQL; SQLite has one writer). Once the
officer has resolved them (``GET /v1/subjects?email=`` lists every match), the operations
guide gives the two statements that make the index unique.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# (table, blind-index column) of every identity field of the reference store, frozen here.
IDENTITY_INDEXES = (("customers", "email_bidx"),)


def upgrade() -> None:
    bind = op.get_bind()
    for table, column in IDENTITY_INDEXES:
        # table and column come from IDENTITY_INDEXES above, never from input
        duplicated = bind.execute(
            sa.text(
                f"SELECT count(*) FROM (SELECT {column} FROM {table} WHERE {column} IS NOT NULL "  # noqa: S608
                f"GROUP BY {column} HAVING count(*) > 1) AS duplicated"
            )
        ).scalar_one()
        if duplicated:
            log.warning(
                "%s.%s: %d value(s) held by more than one record; the index stays "
                "non-unique until they are resolved (see docs/operations.md, "
                '"Identity fields")',
                table,
                column,
                duplicated,
            )
            continue
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.create_index(f"ix_{table}_{column}", table, [column], unique=True)


def downgrade() -> None:
    for table, column in IDENTITY_INDEXES:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.create_index(f"ix_{table}_{column}", table, [column])
