"""A record past the data map's retention period is not served before any sweep ran: left out
of lists inside the query, refused by id with the reason `retention` (403 problem, audited),
not changed by a write, while a purpose exempt from retention (legal claims, record keeping)
still reads it. A field past its own, shorter period reads as null."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.conftest import bearer

NOW = datetime.now(UTC)


@pytest.fixture
def support(issue_key):
    return bearer(issue_key("application", "customer_support"))


@pytest.fixture
def claims(issue_key):
    return bearer(issue_key("application", "legal_claims"))


@pytest.fixture
def ada(runtime, session) -> str:
    store = runtime.record_store(session)
    sid = store.create(
        "customers",
        {
            "first_name": "Ada",
            "last_name": "Fictional",
            "email": f"ada.{NOW.timestamp()}@mail.example",
        },
    ).id
    session.commit()
    return sid


def interaction(runtime, session, sid: str, occurred: datetime) -> str:
    record = runtime.record_store(session).create(
        "interactions",
        {
            "kind": "email",
            "occurred_at": occurred.isoformat(),
            "summary": "Asked about a parcel",
            "body": "Wants the parcel sent again.",
        },
        subject_id=sid,
    )
    session.commit()
    return record.id


def listed(http, headers, purpose: str, sid: str, collection: str = "interactions") -> list:
    response = http.get(
        f"/v1/data/{collection}?purpose={purpose}&subject_id={sid}", headers=headers
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_an_expired_record_is_neither_listed_nor_read_by_id_for_a_non_exempt_purpose(
    http, support, runtime, session, ada
) -> None:
    old = interaction(runtime, session, ada, NOW - timedelta(days=3 * 366 + 2))
    recent = interaction(runtime, session, ada, NOW - timedelta(days=30))

    assert [i["id"] for i in listed(http, support, "customer_support", ada)] == [recent]
    refused = http.get(f"/v1/data/interactions/{old}?purpose=customer_support", headers=support)

    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    problem = refused.get_json()
    assert problem["reason"] == "retention"
    assert "Wants" not in refused.get_data(as_text=True)
    runtime.audit.integrate(session)
    events = [e.document for e in runtime.audit.events(session, limit=500)]
    denial = [
        e
        for e in events
        if e["action"] == "data.read"
        and e["outcome"] == "denied"
        and e["target"].get("record_id") == old
    ]
    assert denial and denial[-1]["reason"] == "denied: retention"
    assert denial[-1]["target"]["subject_id"] == ada


def test_an_expired_record_stays_readable_for_a_purpose_exempt_from_retention(
    http, claims, runtime, session, ada
) -> None:
    old = interaction(runtime, session, ada, NOW - timedelta(days=3 * 366 + 2))

    assert [i["id"] for i in listed(http, claims, "legal_claims", ada)] == [old]
    read = http.get(f"/v1/data/interactions/{old}?purpose=legal_claims", headers=claims)
    assert read.status_code == 200
    assert read.get_json()["body"] == "Wants the parcel sent again."


def test_a_field_past_its_own_shorter_period_reads_as_null_except_for_an_exempt_purpose(
    http, support, claims, runtime, session, ada
) -> None:
    # Interactions are kept three years, their free-text body one year.
    older = interaction(runtime, session, ada, NOW - timedelta(days=400))

    (item,) = listed(http, support, "customer_support", ada)
    by_id = http.get(
        f"/v1/data/interactions/{older}?purpose=customer_support", headers=support
    ).get_json()
    exempt = http.get(
        f"/v1/data/interactions/{older}?purpose=legal_claims", headers=claims
    ).get_json()

    assert item["body"] is None and item["summary"] is not None
    assert by_id["body"] is None and by_id["summary"] is not None
    assert exempt["body"] == "Wants the parcel sent again."


def test_every_record_of_a_subject_whose_own_record_expired_is_withheld(
    http, support, runtime, session, ada
) -> None:
    recent = interaction(runtime, session, ada, NOW - timedelta(days=10))
    customers = runtime.tables["customers"]
    session.execute(
        update(customers)
        .where(customers.c.id == ada)
        .values(updated_at=NOW - timedelta(days=4 * 365))
    )
    session.commit()

    assert listed(http, support, "customer_support", ada) == []
    assert listed(http, support, "customer_support", ada, "customers") == []
    for url in (f"/v1/data/customers/{ada}", f"/v1/data/interactions/{recent}"):
        refused = http.get(f"{url}?purpose=customer_support", headers=support)
        assert refused.status_code == 403 and refused.get_json()["reason"] == "retention"


def test_a_write_does_not_revive_an_expired_record(http, support, runtime, session, ada) -> None:
    customers = runtime.tables["customers"]
    session.execute(
        update(customers)
        .where(customers.c.id == ada)
        .values(updated_at=NOW - timedelta(days=4 * 365))
    )
    session.commit()

    refused = http.patch(
        f"/v1/data/customers/{ada}?purpose=customer_support",
        json={"city": "Elsewhere"},
        headers=support,
    )

    assert refused.status_code == 403 and refused.get_json()["reason"] == "retention"
    stored = runtime.record_store(session).get("customers", ada, ["city"])
    assert stored.values["city"] is None
    assert stored.updated_at.replace(tzinfo=UTC) < NOW - timedelta(days=3 * 365)
