"""Fixtures of the audit tests that need a database of their own, committed to, rather than
the session's database inside a rolled-back transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _server_url, fresh_postgres_database


@pytest.fixture
def own_database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database on the backend under test (a SQLite file, or a fresh
    PostgreSQL database when GOVERNANCE_TEST_DATABASE_URL names a server)."""
    server = _server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    yield from fresh_postgres_database(server)
