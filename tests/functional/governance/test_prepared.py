"""PreparedSelect returns what Session.execute returns, on the backend under test."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.orm import Session

from governance.clients.models import ApiClient
from governance.clients.services import ClientService
from governance.prepared import PreparedSelect

_metadata = MetaData()
probe = Table(
    "prepared_probe",
    _metadata,
    Column("id", String(8), primary_key=True),
    Column("n", Integer),
    Column("flag", Boolean),
    Column("at", DateTime(timezone=True)),
    Column("day", Date),
    Column("amount", Numeric(10, 2)),
    Column("tags", JSON),
    Column("blob", LargeBinary),
    Column("note", String(50)),
)
ROWS = [
    {
        "id": "a",
        "n": 7,
        "flag": True,
        "at": datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        "day": date(1980, 2, 29),
        "amount": Decimal("12.50"),
        "tags": ["x", "y"],
        "blob": b"\x00\xc7\x01",
        "note": "Zoë",
    },
    {
        "id": "b",
        "n": None,
        "flag": False,
        "at": None,
        "day": None,
        "amount": None,
        "tags": None,
        "blob": None,
        "note": None,
    },
]
BY_ID = select(probe).where(probe.c.id == bindparam("id"))


@pytest.fixture
def probe_table(connection: Connection) -> None:
    _metadata.create_all(connection)  # inside the test's transaction: rolled back after it
    connection.execute(insert(probe), ROWS)


@pytest.mark.parametrize("record_id", ["a", "b"])
def test_rows_are_the_values_session_execute_returns(
    probe_table: None, session: Session, record_id: str
) -> None:
    expected = [dict(r._mapping) for r in session.execute(BY_ID, {"id": record_id})]

    got = PreparedSelect(BY_ID).rows(session, {"id": record_id})

    assert got == expected
    assert isinstance(got[0]["at"], datetime | None)


def test_no_row_gives_an_empty_list(probe_table: None, session: Session) -> None:
    assert PreparedSelect(BY_ID).rows(session, {"id": "nope"}) == []


def test_the_rows_include_the_sessions_pending_changes(session: Session) -> None:
    issued = ClientService(session).create("prepared-probe", "auditor")
    session.add(
        ApiClient(
            id="f" * 32,
            name="pending-probe",
            role="auditor",
            purposes=[],
            key_prefix="gk_x",
            key_hash="0" * 64,
            created_at=datetime.now(UTC),
        )
    )  # not flushed yet
    query = PreparedSelect(
        select(ApiClient.name).where(ApiClient.role == bindparam("role")).order_by(ApiClient.name)
    )

    names = [r["name"] for r in query.rows(session, {"role": "auditor"})]

    assert issued.client.name in names and "pending-probe" in names


def test_a_value_fixed_in_the_statement_needs_no_parameter(
    probe_table: None, session: Session
) -> None:
    query = PreparedSelect(select(probe.c.id).where(probe.c.note == "Zoë"))

    assert query.rows(session, {}) == [{"id": "a"}]


def test_an_in_list_parameter_is_refused(probe_table: None, session: Session) -> None:
    query = PreparedSelect(
        select(probe.c.id).where(probe.c.id.in_(bindparam("ids", expanding=True)))
    )

    with pytest.raises(ValueError, match="expanding"):
        query.rows(session, {"ids": ["a"]})


def test_rows_on_engine_read_committed_rows_outside_any_transaction(engine: Engine) -> None:
    query = select(ApiClient.id).where(ApiClient.key_hash == bindparam("key_hash"))
    with engine.connect() as conn:
        expected = [dict(r._mapping) for r in conn.execute(query, {"key_hash": "0" * 64})]

    assert PreparedSelect(query).rows_on_engine(engine, {"key_hash": "0" * 64}) == expected


def test_only_cursor_listeners_take_prepared_statements_off_the_driver_path(
    database_url: str,
) -> None:
    """The service's own engines listen to other events (SQLite's ``begin`` and
    ``connect``): their prepared reads stay on the driver. A cursor listener (a SQL logger,
    the statement-counting test) gets every statement through SQLAlchemy."""
    from sqlalchemy import event

    from governance.db import make_engine
    from governance.prepared import observed

    def listener(*_args: object) -> None:
        pass

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            assert not observed(connection) and not observed(engine)
            event.listen(engine, "before_cursor_execute", listener)
            assert observed(connection) and observed(engine)
            event.remove(engine, "before_cursor_execute", listener)
            assert not observed(connection)
            event.listen(connection, "after_cursor_execute", listener)
            assert observed(connection) and not observed(engine)
    finally:
        engine.dispose()


def test_parameter_names_are_the_binds_the_statement_takes() -> None:
    statement = PreparedSelect(
        select(probe.c.id).where(probe.c.n == bindparam("n"), probe.c.day >= bindparam("since"))
    )
    assert statement.parameter_names == frozenset({"n", "since"})
