"""The filter columns of ``audit_entries`` are computed by the database from the bytes.

``action``, ``actor_id``, ``event_id``, ``subject_id`` and ``recorded_at`` exist so that
queries can filter on them ("who read this customer?"); ``viewed_digest`` (the digest of a
list event's subject index, NULL for other events) so that verify finds the list events
through a partial index instead of looking at every row's bytes. If they were copies written beside
the bytes, a doctored copy would hide an event from a filtered query while its bytes still
hash right, and verify would have to compare five columns with the bytes on every row,
which costs more than rehashing them. So they are generated columns (migration 0011):
SQLite and PostgreSQL compute them from ``data`` on every insert and refuse to UPDATE them,
and a write of ``data`` recomputes them (and no longer matches its leaf hash).

What an attacker with the database's own privileges can still do is change the table
definition: rebuild the table with plain columns, or make a generation expression (or, on
PostgreSQL, the function it calls) say something else. Verify therefore first checks the
definition against the one below, which is one catalog read whatever the log's size; only
when it differs does it compare every row's columns with its bytes (``columns.py``), which
names each doctored position.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import String

# JSON paths of the columns in the canonical event (``events.py``).
PATHS = {
    "event_id": ("id",),
    "actor_id": ("actor", "id"),
    "action": ("action",),
    "subject_id": ("target", "subject_id"),
    "viewed_digest": ("viewed_subjects", "sha256"),
}

#: The table as migration 0011 creates it on SQLite (compared with whitespace collapsed).
SQLITE_TABLE = """
CREATE TABLE audit_entries (
    id INTEGER NOT NULL,
    event_id VARCHAR(32) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.id')) STORED NOT NULL,
    recorded_at DATETIME GENERATED ALWAYS AS
        (replace(substr(json_extract(CAST(data AS TEXT), '$.time'), 1, 26), 'T', ' '))
        STORED NOT NULL,
    actor_id VARCHAR(128) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.actor.id')) STORED NOT NULL,
    action VARCHAR(64) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.action')) STORED NOT NULL,
    subject_id VARCHAR(128) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.target.subject_id')) STORED,
    data BLOB NOT NULL,
    viewed_digest VARCHAR(64) GENERATED ALWAYS AS
        (json_extract(CAST(data AS TEXT), '$.viewed_subjects.sha256')) STORED,
    PRIMARY KEY (id),
    UNIQUE (event_id)
)
"""

#: PostgreSQL's generation expressions as ``pg_get_expr`` prints them.
POSTGRESQL_EXPRESSIONS = {
    "event_id": "audit_event_field(data, '{id}'::text[])",
    "recorded_at": "audit_event_time(data)",
    "actor_id": "audit_event_field(data, '{actor,id}'::text[])",
    "action": "audit_event_field(data, '{action}'::text[])",
    "subject_id": "audit_event_field(data, '{target,subject_id}'::text[])",
    "viewed_digest": "audit_event_field(data, '{viewed_subjects,sha256}'::text[])",
}

#: The functions those expressions call: signature -> (result type, body). IMMUTABLE,
#: which generated columns require: the bytes' encoding is fixed and the time always
#: carries its zone, so they are.
_FIELD_BODY = " SELECT convert_from(data, 'UTF8')::jsonb #>> path "
_TIME_BODY = " SELECT (convert_from(data, 'UTF8')::jsonb ->> 'time')::timestamptz "
POSTGRESQL_FUNCTIONS = {
    "audit_event_field(bytea, text[])": ("text", _FIELD_BODY),
    "audit_event_time(bytea)": ("timestamp with time zone", _TIME_BODY),
}
POSTGRESQL_FUNCTIONS_DDL = (
    "CREATE FUNCTION audit_event_field(data bytea, path text[]) RETURNS text "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $${_FIELD_BODY}$$",
    "CREATE FUNCTION audit_event_time(data bytea) RETURNS timestamp with time zone "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $${_TIME_BODY}$$",
)


class EventField(FunctionElement[str]):
    """A column's generation expression, in the dialect's own terms (the model's
    ``Computed``; the migration writes the same DDL)."""

    type = String()
    inherit_cache = True
    name = "audit_event_field"


@compiles(EventField, "sqlite")
def _sqlite_field(element: EventField, compiler: Any, **kw: Any) -> str:
    column = element.clauses.clauses[0].value
    if column == "recorded_at":
        return "replace(substr(json_extract(CAST(data AS TEXT), '$.time'), 1, 26), 'T', ' ')"
    return f"json_extract(CAST(data AS TEXT), '$.{'.'.join(PATHS[column])}')"


@compiles(EventField, "postgresql")
def _postgresql_field(element: EventField, compiler: Any, **kw: Any) -> str:
    return POSTGRESQL_EXPRESSIONS[element.clauses.clauses[0].value].replace("::text[]", "")


def _collapse(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


def definition_problems(connection: Connection) -> list[str]:
    """How the table's definition lets a filter column differ from the bytes; empty if it
    does not (then verify need not compare them row by row)."""
    if connection.dialect.name == "sqlite":
        stored = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit_entries'")
        ).scalar()
        if stored is not None and _collapse(stored) == _collapse(SQLITE_TABLE):
            return []
        return [
            "audit_entries: the table definition differs from the one that computes the "
            "filter columns from the event bytes"
        ]
    if connection.dialect.name != "postgresql":
        return [f"audit_entries: filter columns not checked on {connection.dialect.name}"]
    problems = []
    found: dict[str, str | None] = dict(
        connection.execute(
            text(
                "SELECT a.attname, CASE WHEN a.attgenerated = 's' "
                "THEN pg_get_expr(d.adbin, d.adrelid) END "
                "FROM pg_attribute a LEFT JOIN pg_attrdef d "
                "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attrelid = 'audit_entries'::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped"
            )
        ).all()
    )
    for column, expression in POSTGRESQL_EXPRESSIONS.items():
        if found.get(column) != expression:
            problems.append(
                f"audit_entries: column {column} is not computed from the event "
                "bytes as the log defines it"
            )
    functions = {
        f"{name}({args})": (volatile, returns, source)
        for name, args, volatile, returns, source in connection.execute(
            text(
                "SELECT p.proname, oidvectortypes(p.proargtypes), p.provolatile, "
                "format_type(p.prorettype, NULL), p.prosrc FROM pg_proc p "
                "WHERE p.proname IN ('audit_event_field', 'audit_event_time') "
                "AND pg_function_is_visible(p.oid)"
            )
        )
    }
    for signature, (returns, body) in POSTGRESQL_FUNCTIONS.items():
        if functions.get(signature) != ("i", returns, body):
            problems.append(
                f"audit_entries: function {signature.partition('(')[0]} differs "
                "from the one that computes the filter columns"
            )
    return problems
