"""Engine, sessions and the unit of work.

Services add and flush; only the unit of work (one per HTTP request, one per CLI command)
commits or rolls back, so a change and the audit event that records it land together or not
at all.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from governance.errors import SettingsError

T = TypeVar("T")
# Keep IN (...) lists within every SQLite build's bound-variable limit.
IN_LIST_CHUNK = 500


def in_chunks(values: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough for one ``IN (...)`` list."""
    for at in range(0, len(values), size):
        yield values[at : at + size]


def _driver_errors() -> tuple[type[Exception], ...]:
    found: list[type[Exception]] = [sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:  # an SQLite-only install
        return tuple(found)
    return (*found, psycopg.OperationalError, psycopg.InterfaceError)


# A database that cannot answer now (down, unreachable, connection lost, locked past the busy
# timeout): SQLAlchemy's wrappers, and the drivers' own classes for the hot paths that run
# straight on the driver (governance.prepared). The HTTP layer maps all of them to a 503.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    *_driver_errors(),
)


class Base(DeclarativeBase):
    """Declarative base of the governance tables (clients, consent, requests ...)."""


def make_engine(
    database_url: str,
    *,
    write_lock_at_begin: bool = True,
    secure_delete: bool = False,
    **kwargs: Any,
) -> Engine:
    """``write_lock_at_begin=False`` suits a store whose transactions are either read-only or
    start with their write (the key store); ``secure_delete`` makes SQLite zero freed bytes
    (the key store, where a destroyed key must not linger in the file)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            prepare_sqlite_file(Path(url.database))
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if secure_delete:
            event.listen(engine, "connect", _sqlite_secure_delete)
        event.listen(engine, "begin", _sqlite_begin if write_lock_at_begin else _sqlite_deferred)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def prepare_sqlite_file(path: Path) -> None:
    """The embedded default's files hold plaintext cities, orders, consent histories and key
    hashes: the folder is created 0700 and the file 0600 (SQLite gives its -wal and -shm
    files the database file's mode), and a store others can read is refused at start."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o007:
        raise SettingsError(
            f"the SQLite store {path} is readable or writable by others (mode {mode:04o}); "
            f"run: chmod 600 {path}*"
        )


def _sqlite_deferred(connection: Any) -> None:
    # On the driver, as in _sqlite_begin: it runs once per read-only request.
    connection.connection.driver_connection.execute("BEGIN")


def _sqlite_secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Every request writes at least its audit event, so a transaction that began as a read
    # would later have to upgrade to a write, and in WAL mode that upgrade fails outright
    # (SQLITE_BUSY_SNAPSHOT) if another worker wrote meanwhile. Taking the write lock at
    # BEGIN makes workers queue on busy_timeout instead. SQLite has one writer anyway.
    # Straight on the driver: through exec_driver_sql this BEGIN cost more than an audit
    # append (an execution context and a result object per transaction).
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling does not emit BEGIN before reads and breaks
    # SAVEPOINT; SQLAlchemy's documented recipe: driver autocommit, we emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    # WAL lets readers proceed while one writer writes (several gunicorn workers share the
    # file); foreign keys are off by default in SQLite and we rely on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit if the block finishes, roll back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query (used by /readyz).

    A raw DBAPI connection, outside SQLAlchemy's transaction: a readiness probe must not
    queue for SQLite's write lock behind a long write.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.close()
    finally:
        raw.close()


# SQLite's primary result codes (the low byte of the extended code) that name a cause.
_SQLITE_CAUSES = {
    5: "database locked",
    6: "database locked",
    8: "read-only database",
    10: "disk I/O error",
    11: "database file corrupt",
    13: "disk full",
    14: "database file cannot be opened",
    26: "not a database",
}
# Below this much free space on an SQLite file's filesystem a request's audit event and
# its write-ahead-log frames may not fit: the store counts as full.
SQLITE_MIN_FREE_BYTES = 1 << 20


def failure_cause(exc: BaseException) -> str:
    """What a database failure means, in a few words for a log line ("disk full",
    "unreachable", ...): from the driver's error code, never its text (which can carry
    hosts, users or values). The kind of exception when no code says more."""
    orig: Any = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_CAUSES.get(code & 0xFF, "database error")
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        if sqlstate == "53100":
            return "disk full"
        if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03"):
            return "unreachable"
        if sqlstate.startswith("53"):
            return "out of resources"
        if sqlstate == "25006":
            return "read-only database"
        return f"database error {sqlstate}"
    if isinstance(orig, OSError) and orig.errno == errno.ENOSPC:
        return "disk full"
    if isinstance(exc, InterfaceError) or type(orig).__name__ == "InterfaceError":
        return "connection lost"
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return "unreachable"
    return type(exc).__name__


def write_problem(engine: Engine) -> str | None:
    """Why a write would not commit now, or None: what readiness needs beyond a ping.

    A write that is rolled back proves nothing on SQLite (it never leaves the page cache),
    so this one commits: it rewrites the header's ``user_version`` (unused by Alembic and
    by us) with its own value on SQLite, and commits a transaction id on PostgreSQL (a
    commit record in the write-ahead log). On an SQLite file the free space of its
    filesystem is read first. A write lock held by another writer means writes commit: it
    is not waited for.
    """
    url = engine.url
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and url.database and url.database != ":memory:":
        try:
            space = os.statvfs(Path(url.database).parent)
        except OSError as exc:
            return failure_cause(exc)
        if space.f_bavail * space.f_frsize < SQLITE_MIN_FREE_BYTES:
            return "disk full"
    try:
        raw = engine.raw_connection()
    except Exception as exc:  # noqa: BLE001 - any failure to connect is a cause to name
        return failure_cause(exc)
    try:
        cursor = raw.cursor()
        if sqlite:
            cursor.execute("PRAGMA busy_timeout=200")
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF in (5, 6):  # busy: someone is writing
                    return None
                raise
            try:
                (version,) = cursor.execute("PRAGMA user_version").fetchone()
                cursor.execute(f"PRAGMA user_version = {int(version)}")
                cursor.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
                raise
        else:
            cursor.execute("SELECT txid_current()")
            cursor.fetchall()
            raw.commit()
        cursor.close()
        return None
    except Exception as exc:  # noqa: BLE001 - the cause is the answer
        with contextlib.suppress(Exception):
            raw.rollback()
        return failure_cause(exc)
    finally:
        if sqlite:
            with contextlib.suppress(Exception):
                raw.cursor().execute("PRAGMA busy_timeout=30000")
        raw.close()
