"""What a read by id costs the stores, counted: a fixed number of statements, the same ones
for every record, whatever the subject's consent, restriction, erasure or hold (issue 27).

Every statement that reaches a driver cursor is counted with SQLAlchemy's
``before_cursor_execute`` event, on the CRM store's connection and on the key store's engine:
the prepared statements (``governance.prepared``) and the audit log's driver path
(``audit.rawsql``) go through SQLAlchemy whenever a listener is attached, so none is missed.
A new per-request query, or a statement built per request, makes this test fail rather than
the benchmark slower.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from audit.events import Actor
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from governance.requests.models import DsrRequest
from tests.conftest import bearer

#: Statements of an allowed read by id: the client by key hash; the row (with its retention
#: condition); the subject's consent state, restriction, erasure and hold in one statement;
#: the subject's data key; the audit event (its entry and its queue row). docs/benchmarks.md
#: quotes this number.
READ_BY_ID_STATEMENTS = 6

_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
PERSON = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "city": "Exampleville",
    "country": "US",
    "language": "en",
}


@contextmanager
def counted(*targets: object) -> Iterator[list[str]]:
    """The SQL text of every statement executed on ``targets`` meanwhile."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, PLR0913
        # The test's savepoints stand in for the request's BEGIN and COMMIT (conftest's
        # session per test): transaction control, not a statement of the read.
        if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            seen.append(" ".join(statement.split()))

    for target in targets:
        event.listen(target, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for target in targets:  # the tests after this one keep the driver path
            event.remove(target, "before_cursor_execute", count)


@pytest.fixture
def support(issue_key) -> dict[str, str]:
    return bearer(issue_key("application", "customer_support"))


def _customer(runtime, session, n: int) -> str:
    record = runtime.record_store(session).create(
        "customers", {**PERSON, "email": f"ada{n}.statements@mail.example"}
    )
    session.commit()
    return record.id


def _read(http, support, record_id: str, connection, runtime) -> tuple[int, list[str]]:
    with counted(connection, runtime.keys.keystore.engine) as seen:
        response = http.get(
            f"/v1/data/customers/{record_id}?purpose=customer_support", headers=support
        )
    return response.status_code, seen


def test_a_read_by_id_runs_a_fixed_number_of_statements_the_same_for_every_record(
    http, support, runtime, session, connection
) -> None:
    plain, consented = _customer(runtime, session, 1), _customer(runtime, session, 2)
    ConsentService(session, runtime, Actor("officer", "compliance_officer")).record_consent(
        consented, "email_marketing", ConsentAction.GRANT, ConsentSource.API, runtime.policy.version
    )
    session.commit()
    _read(http, support, plain, connection, runtime)  # warm: the first read builds statements

    status_one, first = _read(http, support, plain, connection, runtime)
    status_two, second = _read(http, support, consented, connection, runtime)

    assert (status_one, status_two) == (200, 200)
    assert len(first) == READ_BY_ID_STATEMENTS, "\n".join(first)
    assert second == first  # the same statements: none built for a record or a subject


def _erasure(http, issue_key, session, subject: str, status: str) -> None:
    """An erasure request of ``subject`` in ``status`` (the executor's own states)."""
    officer = bearer(issue_key("compliance_officer"))
    made = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": subject}},
    ).get_json()
    http.post(f"/v1/requests/{made['id']}/verify", headers=officer, json={"method": "email code"})
    session.get(DsrRequest, made["id"]).status = status
    session.commit()


def _selects(seen: list[str]) -> list[str]:
    return [s for s in seen if s.upper().startswith("SELECT")]


def test_the_erasure_and_hold_refusals_are_answered_by_the_statement_of_the_consent_state(
    http, support, issue_key, runtime, session, connection
) -> None:
    plain, erasing, held = (_customer(runtime, session, n) for n in (3, 4, 5))
    _erasure(http, issue_key, session, erasing, "in_progress")
    _erasure(http, issue_key, session, held, "on_hold")
    _read(http, support, plain, connection, runtime)

    allowed, allowed_seen = _read(http, support, plain, connection, runtime)
    refused_erasing, erasing_seen = _read(http, support, erasing, connection, runtime)
    refused_held, held_seen = _read(http, support, held, connection, runtime)

    assert (allowed, refused_erasing, refused_held) == (200, 403, 403)
    # No statement of its own for the erasure or the hold: the subject's one statement reads
    # them with its consent state, and a refusal reads no more than an allowed read.
    assert not [
        s for s in allowed_seen + erasing_seen if "dsr_requests" in s and "consent_state" not in s
    ]
    assert _selects(erasing_seen) == _selects(held_seen)
    assert set(_selects(erasing_seen)) <= set(_selects(allowed_seen))


def test_on_postgresql_a_read_and_its_audit_event_share_one_transaction_and_commit(
    http, support, runtime, session, connection, is_postgres
) -> None:
    """PostgreSQL: the event rides in the read's own transaction (one COMMIT, no ROLLBACK
    of the read first). SQLite: the read's snapshot is ended first, as a deferred read
    cannot be upgraded to a write once another worker has written (SQLITE_BUSY_SNAPSHOT)."""
    record_id = _customer(runtime, session, 6)
    _read(http, support, record_id, connection, runtime)
    ended: list[str] = []

    def rolled_back(conn, name, context) -> None:  # noqa: ANN001
        ended.append(name)

    event.listen(connection, "rollback_savepoint", rolled_back)
    try:
        status, seen = _read(http, support, record_id, connection, runtime)
    finally:
        event.remove(connection, "rollback_savepoint", rolled_back)

    assert status == 200
    assert any(s.startswith("INSERT INTO audit_entries") for s in seen)
    assert len(ended) == (0 if is_postgres else 1)
