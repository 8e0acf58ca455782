"""Two writers of one new identity value at once: exactly one commits, the other gets
DuplicateIdentity (issue 26 item 3), with the unique index and on a store without it (one
that held duplicates before the rule, where the per-value lock is what holds).

PostgreSQL only: SQLite has one writer at a time (every write transaction begins
IMMEDIATE), so the second writer's check always runs after the first one committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from governance.db import make_engine, make_session_factory
from governance.store.errors import DuplicateIdentity
from governance.store.schema import CrmTables
from governance.store.services import RecordStore
from tests.conftest import _server_url, fresh_postgres_database
from tests.migrated import migrated

EMAIL = "race.person@mail.example"
PERSON = {"first_name": "Ada", "last_name": "Fictional", "email": EMAIL}


@pytest.fixture
def own_engine() -> Iterator[Engine]:
    server = _server_url()
    if server is None:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE); the race needs PostgreSQL")
    for url in fresh_postgres_database(server):
        migrated(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.mark.parametrize("unique_index", [True, False], ids=["unique-index", "old-duplicates"])
def test_two_concurrent_writers_of_one_email_commit_it_once(
    own_engine: Engine, policy, crypto, unique_index: bool
) -> None:  # noqa: ANN001
    if not unique_index:
        with own_engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_customers_email_bidx"))
            connection.execute(
                text("CREATE INDEX ix_customers_email_bidx ON customers (email_bidx)")
            )
    sessions = make_session_factory(own_engine)
    tables = CrmTables(policy.datamap)
    first = sessions()
    RecordStore(first, policy.datamap, tables, crypto).create("customers", PERSON)
    outcome: dict[str, Any] = {}

    def second_writer() -> None:
        with sessions() as session:
            try:
                RecordStore(session, policy.datamap, tables, crypto).create("customers", PERSON)
                session.commit()
                outcome["second"] = "committed"
            except DuplicateIdentity as refused:
                session.rollback()
                outcome["second"] = refused

    writer = threading.Thread(target=second_writer)
    writer.start()
    # Bounded wait until the second writer is either done or blocked behind the first
    # (an ungranted lock in pg_locks); then the first commits.
    with own_engine.connect() as watcher:
        for _ in range(600):
            writer.join(0.05)
            waiting = watcher.execute(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar_one()
            if not writer.is_alive() or waiting:
                break
    first.commit()
    first.close()
    writer.join(30)
    assert not writer.is_alive()

    assert isinstance(outcome["second"], DuplicateIdentity)
    table = tables["customers"]
    index = crypto.blind_index("customers", "email", EMAIL)
    with own_engine.connect() as connection:
        assert (
            connection.scalar(
                select(func.count()).select_from(table).where(table.c.email_bidx == index)
            )
            == 1
        )
