"""The audit log's two hot paths, run on the database driver's own connection.

``Session.execute`` of a prebuilt Core statement costs about 140 µs here (statement cache
lookup, execution context, result wrapping); the sqlite3 or psycopg cursor underneath costs
10-20 µs. ``record`` runs once per audited request and ``verify`` reads every row of the
log, so both go to the driver directly.

They stay inside the caller's transaction: the driver connection is the one the Session's
``Connection`` holds, taken after ``session.connection()`` has begun the transaction (and,
in tests, the savepoint), so the audit row commits or rolls back with the change it records.
Only SQLite (sqlite3) and PostgreSQL (psycopg 3) are served here; any other dialect gets
``None`` from :func:`for_connection` and the caller uses SQLAlchemy Core instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from audit.columns import time_sql

EntryRow = tuple[str, Any, str, str, str | None, bytes]
"""(event_id, recorded_at, actor_id, action, subject_id, canonical bytes). Only the bytes
are written: the database computes the other columns from them (``derived.py``)."""

# Every position in order with the bytes it must hash to (NULL if the entry row is gone: the
# outer join keeps the position so that verify can name it), then the columns copied out of
# the bytes, which verify compares with them (``columns.py``; the time as the bytes write it).
ROWS_SQL = (
    "SELECT s.leaf_index, s.leaf_hash, e.data, e.action, e.actor_id, e.event_id, e.subject_id,"
    " {time} FROM audit_sequence s "
    "LEFT OUTER JOIN audit_entries e ON e.id = s.entry_id ORDER BY s.leaf_index"
)
# The same for a log known to hold exactly positions 0 .. n-1, without the position: one
# Python int fewer per row, which is a tenth of the cost of reading a row.
PREFIX_SQL = (
    "SELECT s.leaf_hash, e.data, e.action, e.actor_id, e.event_id, e.subject_id, {time} "
    "FROM audit_sequence s LEFT OUTER JOIN audit_entries e ON e.id = s.entry_id "
    "WHERE s.leaf_index < {n} ORDER BY s.leaf_index"
)
# The same without the columns, for a table whose definition computes them from the bytes
# (``derived.py``): then they cannot differ, and reading them would cost more than verify's
# hashing.
HASHES_SQL = (
    "SELECT s.leaf_hash, e.data FROM audit_sequence s "
    "LEFT OUTER JOIN audit_entries e ON e.id = s.entry_id "
    "WHERE s.leaf_index < {n} ORDER BY s.leaf_index"
)
# The same for the positions from {a} below {b}: another process's share of verify.
HASHES_RANGE_SQL = HASHES_SQL.replace(
    "WHERE s.leaf_index < {n}", "WHERE s.leaf_index >= {a} AND s.leaf_index < {b}"
)
# ROWS_SQL for the positions from {a} below {b}: a chunk of the fast path that failed,
# read again to name its problems.
RANGE_SQL = ROWS_SQL.replace(
    " ORDER BY", " WHERE s.leaf_index >= {a} AND s.leaf_index < {b} ORDER BY"
)

_verify_cursors = itertools.count()


class Driver:
    """Statements for one dialect, with that dialect's parameter style and conversions."""

    def __init__(self, dialect: Any) -> None:
        self.name: str = dialect.name
        time = time_sql(self.name)
        self.rows_sql = ROWS_SQL.replace("{time}", time)
        self.prefix_sql = PREFIX_SQL.replace("{time}", time)
        self.range_sql = RANGE_SQL.replace("{time}", time)
        if self.name == "postgresql":
            # One round trip for both rows: the queue row takes the id the entry got.
            self.insert_sql = (
                "WITH e AS (INSERT INTO audit_entries (data) VALUES (%s) RETURNING id) "
                "INSERT INTO audit_queue (entry_id) SELECT id FROM e"
            )
            # The same with the event's subject index rows, still one round trip.
            self.insert_with_subjects_sql = (
                "WITH e AS (INSERT INTO audit_entries (data) VALUES (%s) RETURNING id), "
                "q AS (INSERT INTO audit_queue (entry_id) SELECT id FROM e) "
                "INSERT INTO audit_subjects (entry_id, subject_id) "
                "SELECT e.id, s FROM e, unnest(%s::text[]) AS s"
            )
        else:
            self.insert_sql = "INSERT INTO audit_entries (data) VALUES (?)"

    def insert(
        self, raw: Any, rows: Sequence[EntryRow], subjects: Sequence[Sequence[str]] = ()
    ) -> None:
        """Insert entries and their queue rows, in order, and ``subjects[i]`` (if given) as
        the subject index rows of ``rows[i]``."""
        indexed = any(subjects)
        if self.name == "postgresql":
            cursor = raw.cursor()
            try:
                if indexed:  # the one statement for every row keeps the entries in order
                    params = [(row[5], list(ids)) for row, ids in zip(rows, subjects, strict=True)]
                    cursor.executemany(self.insert_with_subjects_sql, params)
                elif len(rows) == 1:
                    cursor.execute(self.insert_sql, (rows[0][5],))
                else:  # psycopg pipelines executemany: one round trip for the batch
                    cursor.executemany(self.insert_sql, [(row[5],) for row in rows])
            finally:
                cursor.close()
            return
        # sqlite3 runs in process: a statement per row costs microseconds, and lastrowid
        # is the entry's id without a RETURNING clause.
        cursor = raw.cursor()
        try:
            for i, row in enumerate(rows):
                cursor.execute(self.insert_sql, (row[5],))
                entry_id = cursor.lastrowid
                cursor.execute("INSERT INTO audit_queue (entry_id) VALUES (?)", (entry_id,))
                if indexed and subjects[i]:
                    cursor.executemany(
                        "INSERT INTO audit_subjects (entry_id, subject_id) VALUES (?, ?)",
                        [(entry_id, s) for s in subjects[i]],
                    )
        finally:
            cursor.close()

    def leaf_rows(
        self,
        raw: Any,
        size: int,
        prefix: int | None = None,
        *,
        columns: bool = True,
        between: tuple[int, int] | None = None,
    ) -> Iterator[list[Any]]:
        """``(leaf_index, leaf_hash, data, *columns.COLUMNS)`` rows in position order, ``size``
        at a time (only the last list is shorter); with ``prefix``, the same without
        ``leaf_index``, of the positions below it (without ``columns``, only the hash and
        the bytes); with ``between``, the rows of the positions from its first below its
        second (without ``columns``, only the hash and the bytes). PostgreSQL streams them
        through a server-side cursor."""
        if self.name == "postgresql":
            cursor = raw.cursor(name=f"audit_verify_{next(_verify_cursors)}")
        else:
            cursor = raw.cursor()
        try:
            # The bounds are ints: formatting them in leaves no room for injection, and spare
            # the two drivers' different parameter styles.
            if between is not None:
                sql = (
                    (self.range_sql if columns else HASHES_RANGE_SQL)
                    .replace("{a}", str(int(between[0])))
                    .replace("{b}", str(int(between[1])))
                )
            elif prefix is None:
                sql = self.rows_sql
            else:
                sql = (self.prefix_sql if columns else HASHES_SQL).replace("{n}", str(int(prefix)))
            cursor.execute(sql)
            while True:
                rows = cursor.fetchmany(size)
                while rows and len(rows) < size:  # a driver may hand out fewer: top up
                    more = cursor.fetchmany(size - len(rows))
                    if not more:
                        break
                    rows += more
                if not rows:
                    return
                yield rows
                if len(rows) < size:
                    return
        finally:
            cursor.close()


_drivers: dict[tuple[str, str], Driver] = {}


def for_connection(connection: Connection) -> tuple[Driver, Any] | None:
    """The dialect's :class:`Driver` and the raw driver connection, or None if unsupported."""
    dialect = connection.dialect
    key = (dialect.name, dialect.driver)
    driver = _drivers.get(key)
    if driver is None:
        if key not in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
            return None
        driver = _drivers[key] = Driver(dialect)
    return driver, connection.connection.driver_connection
