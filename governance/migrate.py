"""Run the Alembic migrations shipped in ``migrations/`` against a database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from governance.db import prepare_sqlite_file

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The key store is a database of its own with its own migration history.
KEYSTORE_MIGRATIONS_DIR = MIGRATIONS_DIR / "keystore"


def alembic_config(
    database_url: str | None = None,
    connection: Connection | None = None,
    *,
    script_location: Path = MIGRATIONS_DIR,
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    _make_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def upgrade_keystore(keystore_url: str, revision: str = "head") -> None:
    url = make_url(keystore_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # Wrapped keys are for the service's eyes only: owner-only directory and file
        # (SQLite gives its -wal and -shm files the database file's mode).
        prepare_sqlite_file(Path(url.database))
    command.upgrade(alembic_config(keystore_url, script_location=KEYSTORE_MIGRATIONS_DIR), revision)


def _make_sqlite_dir(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # The embedded default's first run: ./var/ does not exist yet.
        prepare_sqlite_file(Path(url.database))


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection=connection), revision)
