""" "Who saw this customer?": a list read records the subjects it returned in an index tied to
its event (``audit_subjects``), committed to by the signed leaf (``viewed_subjects``: their
count and SHA-256), so ``GET /v1/audit/events?subject_id=`` finds every list that included
the person, and verify checks the index against the leaf. Through the HTTP API, on SQLite
or PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import Connection, text

from audit.events import Actor, AuditEvent
from audit.log import AuditLog
from tests.conftest import bearer

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.index@mail.example",
    "country": "US",
    "language": "en",
}
ORDER = {
    "order_number": "A-1",
    "ordered_at": "2026-11-01T10:00:00Z",
    "total_amount": "9.50",
    "currency": "EUR",
}


@pytest.fixture
def auditor(issue_key) -> dict[str, str]:  # noqa: ANN001
    return bearer(issue_key("auditor"))


@pytest.fixture
def fulfilment(issue_key) -> dict[str, str]:  # noqa: ANN001
    return bearer(issue_key("application", "order_fulfilment"))


@pytest.fixture
def customers(runtime, session) -> list[str]:  # noqa: ANN001
    """Three customers, the first with two orders; their ids."""
    store = runtime.record_store(session)
    ids = [
        store.create("customers", {**CUSTOMER, "email": f"c{i}.index@mail.example"}).id
        for i in range(3)
    ]
    for n in range(2):
        store.create("orders", {**ORDER, "order_number": f"A-{n}"}, subject_id=ids[0])
    session.commit()
    return ids


def viewed_digest(subject_ids: list[str]) -> str:
    return hashlib.sha256("".join(f"{s}\n" for s in sorted(set(subject_ids))).encode()).hexdigest()


def events_about(http, auditor: dict[str, str], subject: str, **query: str) -> list[dict[str, Any]]:  # noqa: ANN001
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    response = http.get(f"/v1/audit/events?subject_id={subject}&limit=500{extra}", headers=auditor)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_a_list_that_returned_a_customer_is_found_by_that_customers_id(
    http,
    auditor,
    fulfilment,
    customers: list[str],  # noqa: ANN001
) -> None:
    listed = http.get("/v1/data/customers?purpose=order_fulfilment&limit=500", headers=fulfilment)
    assert listed.status_code == 200
    returned = [item["id"] for item in listed.get_json()["items"]]
    assert set(customers) <= set(returned)

    for subject in customers:
        found = [i for i in events_about(http, auditor, subject, action="data.listed")]
        assert len(found) == 1, subject
        event = found[0]["event"]
        assert event["target"] == {"collection": "customers"}  # the list named no subject
        assert event["viewed_subjects"] == {
            "count": len(set(returned)),
            "sha256": viewed_digest(returned),
        }
        # The served bytes commit to it: it is what the leaf hash covers.
        assert (
            json.loads(base64.b64decode(found[0]["leaf"]))["viewed_subjects"]
            == event["viewed_subjects"]
        )


def test_a_list_of_owned_records_indexes_their_owners_once(
    http,
    auditor,
    fulfilment,
    customers: list[str],  # noqa: ANN001
) -> None:
    listed = http.get("/v1/data/orders?purpose=order_fulfilment&limit=500", headers=fulfilment)
    assert listed.status_code == 200
    owners = [item["subject_id"] for item in listed.get_json()["items"]]
    assert owners.count(customers[0]) == 2

    found = events_about(http, auditor, customers[0], action="data.listed")
    assert [i["event"]["target"]["collection"] for i in found] == ["orders"]
    assert found[0]["event"]["viewed_subjects"]["count"] == len(set(owners))
    assert events_about(http, auditor, customers[1], action="data.listed") == []


def test_a_customer_the_list_did_not_return_does_not_find_it(
    http,
    auditor,
    fulfilment,
    customers: list[str],  # noqa: ANN001
) -> None:
    listed = http.get(
        f"/v1/data/orders?purpose=order_fulfilment&subject_id={customers[0]}", headers=fulfilment
    )
    assert listed.status_code == 200

    assert events_about(http, auditor, customers[2]) == []
    found = events_about(http, auditor, customers[0])
    assert [i["event"]["action"] for i in found] == ["data.listed"]


# -- verify checks the index against the leaf (SQLite: PostgreSQL's trigger refuses edits) --


@pytest.fixture
def listed_position(http, fulfilment, customers, runtime, session) -> int:  # noqa: ANN001
    """The position of a verified list event that returned the three customers."""
    response = http.get("/v1/data/customers?purpose=order_fulfilment&limit=500", headers=fulfilment)
    assert response.status_code == 200
    log: AuditLog = runtime.audit
    log.integrate(session, checkpoint=True)
    session.commit()
    assert log.verify(session).ok
    found = log.events(session, subject_id=customers[0], action="data.listed")
    assert len(found) == 1
    return found[0].index


def entry_at(connection: Connection, position: int) -> int:
    return connection.execute(
        text("SELECT entry_id FROM audit_sequence WHERE leaf_index = :p"), {"p": position}
    ).scalar_one()


EDITS = {
    "removed": "DELETE FROM audit_subjects WHERE entry_id = :e AND subject_id = :s",
    "renamed": "UPDATE audit_subjects SET subject_id = 'someone-else' "
    "WHERE entry_id = :e AND subject_id = :s",
    "added": "INSERT INTO audit_subjects (entry_id, subject_id) VALUES (:e, 'someone-else')",
    "all-removed": "DELETE FROM audit_subjects WHERE entry_id = :e",
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_verify_names_the_position_of_a_list_event_whose_subject_index_was_edited(
    is_postgres: bool,
    listed_position: int,
    customers: list[str],
    connection: Connection,
    runtime,
    session,
    edit: str,  # noqa: ANN001
) -> None:
    if is_postgres:
        pytest.skip("on PostgreSQL the append-only trigger refuses these edits")
    connection.execute(
        text(EDITS[edit]), {"e": entry_at(connection, listed_position), "s": customers[1]}
    )

    report = runtime.audit.verify(session)

    assert report.problems == [
        f"position {listed_position}: subject index differs from the event bytes"
    ]


def test_subjects_indexed_for_an_event_whose_leaf_names_none_are_reported(
    is_postgres: bool,
    listed_position: int,
    connection: Connection,
    runtime,
    session,  # noqa: ANN001
) -> None:
    """An index row added to an event that listed nobody would make the log say someone was
    seen who was not."""
    if is_postgres:
        pytest.skip("on PostgreSQL the append-only trigger refuses these edits")
    runtime.audit.record(
        session, AuditEvent(action="client.created", actor=Actor("cli:root", "admin"))
    )
    session.commit()
    runtime.audit.integrate(session)
    session.commit()
    other = runtime.audit.tree_size(session) - 1
    connection.execute(
        text("INSERT INTO audit_subjects (entry_id, subject_id) VALUES (:e, 'someone')"),
        {"e": entry_at(connection, other)},
    )

    report = runtime.audit.verify(session)

    assert report.problems == [f"position {other}: subject index differs from the event bytes"]


def test_postgres_refuses_edits_of_the_subject_index(
    is_postgres: bool,
    listed_position: int,
    connection: Connection,  # noqa: ANN001
) -> None:
    if not is_postgres:
        pytest.skip("needs PostgreSQL (GOVERNANCE_TEST_DATABASE_URL)")
    from sqlalchemy.exc import DBAPIError

    for statement in (
        "UPDATE audit_subjects SET subject_id = subject_id",
        "DELETE FROM audit_subjects",
    ):
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement))
        savepoint.rollback()
