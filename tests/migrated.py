"""Fresh migrated stores for the tests that need stores of their own, as copies of one store
migrated per test process, instead of every migration run again for each.

Running the migrations costs about a second and a half of CPU per CRM store, and about a
hundred tests (and every served instance's ``embedded_env``) each need new stores. The copy
is the same database: a SQLite file copied byte for byte into a new 0600 file, or on
PostgreSQL ``CREATE DATABASE ... TEMPLATE`` (a file-level copy made by the server). The
migrations themselves still run: once per test process for the template, in the session's
own databases (tests/conftest.py), and in the tests of migrations, which call ``upgrade``.

:func:`migrated` and :func:`migrated_keystore` take the URL of a database that is new and
empty (a SQLite file not yet written, a PostgreSQL database just created). A database that
already holds tables is upgraded in place, as ``upgrade`` would.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from governance.db import prepare_sqlite_file
from governance.migrate import upgrade, upgrade_keystore

_LOCK = threading.Lock()
_SQLITE: dict[str, Path] = {}  # kind -> the template file
_POSTGRES: dict[tuple[str, str], str] = {}  # (server, kind) -> the template database's name
_FOLDER: list[Path] = []
_UPGRADES: dict[str, Callable[[str], None]] = {"crm": upgrade, "keystore": upgrade_keystore}


def migrated(url: str) -> None:
    """Make the new database at ``url`` a CRM store at the latest revision."""
    _copy("crm", url)


def migrated_keystore(url: str) -> None:
    """Make the new database at ``url`` a key store at the latest revision."""
    _copy("keystore", url)


def _copy(kind: str, url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if path.exists() and path.stat().st_size > 0:
            _UPGRADES[kind](url)
            return
        template = _sqlite_template(kind)
        prepare_sqlite_file(path)  # the folder 0700 and the file 0600, as the migration makes
        shutil.copyfile(template, path)
        return
    # The server's own database the run creates its databases from (tests/conftest.py).
    server = os.environ.get("GOVERNANCE_TEST_DATABASE_URL") or parsed.set(
        database="postgres"
    ).render_as_string(hide_password=False)
    admin = create_engine(
        make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            target = create_engine(parsed.set(drivername="postgresql+psycopg"))
            try:
                with target.connect() as probe:
                    holds_tables = bool(inspect(probe).get_table_names())
            finally:
                target.dispose()
            if holds_tables:
                _UPGRADES[kind](url)
                return
            source = _postgres_template(kind, server, conn)
            name = parsed.database
            conn.execute(text(f'DROP DATABASE "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    finally:
        admin.dispose()


def _sqlite_template(kind: str) -> Path:
    with _LOCK:
        if kind not in _SQLITE:
            if not _FOLDER:
                _FOLDER.append(Path(tempfile.mkdtemp(prefix="gov-test-templates-")))
                atexit.register(shutil.rmtree, _FOLDER[0], True)
            path = _FOLDER[0] / f"{kind}.db"
            _UPGRADES[kind](f"sqlite:///{path}")
            with sqlite3.connect(path) as conn:  # everything in the main file, nothing in a WAL
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            _SQLITE[kind] = path
        return _SQLITE[kind]


def _postgres_template(kind: str, server: str, admin: object) -> str:
    with _LOCK:
        key = (server, kind)
        if key not in _POSTGRES:
            name = f"gov_tmpl_{kind}_{uuid.uuid4().hex[:12]}"
            admin.execute(text(f'CREATE DATABASE "{name}"'))  # type: ignore[attr-defined]
            atexit.register(_drop, server, name)
            _UPGRADES[kind](
                make_url(server)
                .set(drivername="postgresql+psycopg", database=name)
                .render_as_string(hide_password=False)
            )
            _POSTGRES[key] = name
        return _POSTGRES[key]


def _drop(server: str, name: str) -> None:
    admin = create_engine(
        make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
