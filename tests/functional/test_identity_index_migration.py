"""Migration 0013 makes the blind index of an identity field unique, and never fails on a
store that already holds duplicates (issue 26 item 3): such a store keeps its plain index,
the service still refuses every new duplicate, and the officer resolves the old ones."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from governance.db import make_engine
from governance.migrate import upgrade
from tests.conftest import _server_url, fresh_postgres_database


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    server = _server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    yield from fresh_postgres_database(server)


def add_customers(engine: Engine, indexes: list[bytes]) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for n, index in enumerate(indexes):
            connection.execute(
                text(
                    "INSERT INTO customers (id, email_bidx, created_at, updated_at) "
                    "VALUES (:id, :bidx, :now, :now)"
                ),
                {"id": f"{n:032x}", "bidx": index, "now": now},
            )


def email_index(engine: Engine) -> dict:
    [found] = [
        ix
        for ix in inspect(engine).get_indexes("customers")
        if ix["name"] == "ix_customers_email_bidx"
    ]
    return found


def test_a_store_without_duplicates_gets_a_unique_identity_index(url: str) -> None:
    upgrade(url, "0012")
    engine = make_engine(url)
    try:
        add_customers(engine, [b"\x01" * 32, b"\x02" * 32, None, None])  # no e-mail: no clash
        upgrade(url)
        assert email_index(engine)["unique"]
    finally:
        engine.dispose()


def test_a_store_holding_duplicates_is_migrated_and_keeps_them_with_a_warning(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(url, "0012")
    engine = make_engine(url)
    try:
        add_customers(engine, [b"\x01" * 32, b"\x01" * 32, b"\x02" * 32])
        with caplog.at_level(logging.WARNING):
            upgrade(url)
        assert not email_index(engine)["unique"]
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(text("customers"))) == 3
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0013"
        warned = [r.getMessage() for r in caplog.records if "email_bidx" in r.getMessage()]
        assert warned and "1 value" in warned[0]
    finally:
        engine.dispose()
