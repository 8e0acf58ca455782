"""Prebuilt SELECTs run on the database driver's own connection, for the per-request reads.

A policy read runs a handful of one-row queries (the client by key hash, the subject's
consent state, the row, the subject's data key). Through ``Session.execute`` each costs
about 100 µs of SQLAlchemy machinery (statement cache, execution context, result objects)
around a 5-20 µs query. A :class:`PreparedSelect` compiles its Core statement once per
dialect and keeps SQLAlchemy's own bind and result processors for its columns, so the
values it returns are the ones ``Session.execute`` would have returned (datetimes, dates,
decimals, JSON), at the driver's cost.

It runs on the connection of the caller's transaction (``session.connection()``), so it sees
what that transaction sees; or, with :meth:`PreparedSelect.rows_on_engine`, on a pooled
connection outside any transaction of ours (the key store, read in autocommit). Only SQLite
(sqlite3) and PostgreSQL (psycopg 3) are served directly; another dialect runs the statement
through SQLAlchemy, with the same results.

A connection or engine with cursor event listeners (a SQL logger, an APM probe, the test
that counts the statements of a read, tests/functional/api/test_read_statements.py) gets
the statements through SQLAlchemy too, so that every listener sees every statement: the
direct path is an optimisation that no observer can tell apart, never a way around them
(:func:`observed`). Other listeners (our SQLite engines' ``begin`` and ``connect``) keep
the direct path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.orm import Session

_DIRECT = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}

Processor = Callable[[Any], Any] | None


@dataclass
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order (qmark), or None (named)
    binds: dict[str, tuple[Processor, Any]]  # name -> (bind processor, the statement's own value)
    columns: tuple[str, ...]
    types: tuple[Any, ...]  # each column's type, for this dialect
    dialect: Any
    # Each column's result processor; some need the driver's type code of the column
    # (PostgreSQL's numerics), so they are made at the first execution.
    results: tuple[Processor, ...] | None = None


class PreparedSelect:
    """A Core SELECT with named bind parameters, compiled once per dialect."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled | None] = {}

    @cached_property
    def parameter_names(self) -> frozenset[str]:
        """The bind parameters the statement takes, so that a caller computes the values of
        those only (a read by id binds a few of the retention filter's cut-offs)."""
        return frozenset(self.statement.compile().params)

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows, as ``{column name: value}``, read in the session's transaction (after
        the session's pending changes are flushed, as ``Session.execute`` would)."""
        if session.autoflush:
            session.flush()
        connection = session.connection()
        compiled = self._for(connection.dialect)
        if compiled is None or observed(connection):
            return [dict(r._mapping) for r in connection.execute(self.statement, dict(params))]
        return self._run(connection.connection.driver_connection, compiled, params)

    def rows_on_engine(self, engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows, read on a pooled connection in the driver's autocommit or a transaction
        the pool rolls back on return: for a store whose single-statement reads need no
        transaction of ours (one SELECT is atomic on both backends)."""
        compiled = self._for(engine.dialect)
        if compiled is None or observed(engine):
            with engine.connect() as connection:
                return [dict(r._mapping) for r in connection.execute(self.statement, dict(params))]
        pooled = engine.raw_connection()
        try:
            return self._run(pooled.driver_connection, compiled, params)
        finally:
            pooled.close()  # back to the pool, which ends any implicit transaction

    def _for(self, dialect: Any) -> _Compiled | None:
        key = (dialect.name, dialect.driver)
        if key not in self._compiled:
            self._compiled[key] = _compile(self.statement, dialect) if key in _DIRECT else None
        return self._compiled[key]

    @staticmethod
    def _run(raw: Any, compiled: _Compiled, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        values = {}
        for name, (process, own) in compiled.binds.items():
            value = params.get(name, own)
            values[name] = process(value) if process is not None else value
        arguments: Any = (
            tuple(values[n] for n in compiled.positional)
            if compiled.positional is not None
            else values
        )
        cursor = raw.execute(compiled.sql, arguments)
        try:
            fetched = cursor.fetchall()
            if compiled.results is None:
                compiled.results = tuple(
                    kind.result_processor(compiled.dialect, described[1])
                    for kind, described in zip(compiled.types, cursor.description, strict=True)
                )
        finally:
            cursor.close()
        columns, results = compiled.columns, compiled.results
        return [
            {
                name: (process(value) if process and value is not None else value)
                for name, process, value in zip(columns, results, row, strict=True)
            }
            for row in fetched
        ]


def observed(target: Connection | Engine) -> bool:
    """Whether ``target`` (or, for a connection, its engine) has cursor event listeners,
    which must see every statement. ``_has_events`` is SQLAlchemy's own cheap first test;
    it is also set by other connection events (an SQLite engine's ``begin``), hence the
    check of the two cursor events themselves."""
    if not (target._has_events or target.engine._has_events):
        return False
    dispatch = target.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _compile(statement: Select[*tuple[Any, ...]], dialect: Any) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    binds: dict[str, tuple[Processor, Any]] = {}
    for name, bind in compiled.binds.items():
        if bind.expanding:
            raise ValueError("a prepared select takes no expanding (IN list) parameters")
        binds[name] = (bind.type.dialect_impl(dialect).bind_processor(dialect), bind.value)
    columns = tuple(str(c.key) for c in statement.selected_columns)
    types = tuple(c.type.dialect_impl(dialect) for c in statement.selected_columns)
    positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return _Compiled(compiled.string, positional, binds, columns, types, dialect)
