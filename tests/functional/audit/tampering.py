"""What an attacker with the database's own privileges does before doctoring a filter
column of the audit log: the database computes those columns from the event bytes and
refuses to UPDATE them (migration 0011), so the attacker first turns them into plain
columns that keep their values. Inside the test's transaction, so it is rolled back."""

from __future__ import annotations

from sqlalchemy import Connection, text

COLUMNS = ("event_id", "recorded_at", "actor_id", "action", "subject_id")

_SQLITE_PLAIN = """
CREATE TABLE audit_entries (
    id INTEGER NOT NULL PRIMARY KEY, event_id VARCHAR(32) NOT NULL UNIQUE,
    recorded_at DATETIME NOT NULL, actor_id VARCHAR(128) NOT NULL, action VARCHAR(64) NOT NULL,
    subject_id VARCHAR(128), data BLOB NOT NULL)
"""


def make_filter_columns_plain(connection: Connection) -> None:
    """Rebuild ``audit_entries`` with plain filter columns holding the same values (SQLite),
    or drop their generation expressions (PostgreSQL, which keeps the values) and disable
    the append-only trigger, as the table's owner can."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        )
        for column in COLUMNS:
            connection.execute(
                text(f"ALTER TABLE audit_entries ALTER COLUMN {column} DROP EXPRESSION")
            )
        return
    columns = "id, " + ", ".join(COLUMNS) + ", data"
    connection.execute(text("PRAGMA defer_foreign_keys = ON"))
    connection.execute(
        text(
            f"CREATE TEMP TABLE entries_aside AS SELECT {columns} "  # noqa: S608
            "FROM audit_entries"
        )
    )
    connection.execute(text("DROP TABLE audit_entries"))
    connection.execute(text(_SQLITE_PLAIN))
    connection.execute(
        text(
            f"INSERT INTO audit_entries ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM entries_aside"
        )
    )
    connection.execute(text("DROP TABLE entries_aside"))
