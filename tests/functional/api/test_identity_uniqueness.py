"""Identity fields are unique, and duplicates already stored are never resolved silently
(issue 26 item 3).

An identity field (the data map's ``identity: true``, e.g. customers.email) is what a
data-subject request is taken in by. A write that would give a second record the same value
is a 409 that names the field, never the value; the database's unique index on the blind
index backs that under concurrency. A store that holds duplicates from before the rule (a
store the gateway did not create, an old import) is shown as such: the officer's look-up
lists every match, and intake by such a value answers 409 with the subjects' ids."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from governance.requests.models import DsrRequest
from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records

EMAIL = "identity.person@mail.example"
OTHER = "other.person@mail.example"
SHARED = "shared.address@mail.example"


@pytest.fixture
def support(issue_key):
    return bearer(issue_key("application", "customer_support"))


@pytest.fixture
def two(runtime, session) -> tuple[str, str]:
    store = runtime.record_store(session)
    first = subject_records(store, email=EMAIL)["customers"][0]
    second = subject_records(store, email=OTHER)["customers"][0]
    session.commit()
    return first, second


@pytest.fixture
def duplicates(runtime, session) -> list[str]:
    return stored_duplicates(runtime, session, SHARED)


def stored_duplicates(runtime, session, email: str) -> list[str]:
    """Two customers holding one e-mail, as a store from before the rule holds them: the
    unique index is dropped inside the test's transaction (rolled back after the test)."""
    session.execute(text("DROP INDEX ix_customers_email_bidx"))
    store = runtime.record_store(session)
    ids = sorted(
        subject_records(store, email=f"first.{email}")["customers"][:1]
        + subject_records(store, email=f"second.{email}")["customers"][:1]
    )
    table = runtime.tables["customers"]
    index = runtime.crypto.blind_index("customers", "email", email)
    # Both rows get the same blind index, as two imports of one address would have.
    session.execute(table.update().where(table.c.id.in_(ids)).values(email_bidx=index))
    session.commit()
    return ids


def customers(runtime, session) -> int:
    table = runtime.tables["customers"]
    return session.scalar(select(func.count()).select_from(table))


def email_of(runtime, session, sid: str) -> str:
    session.expire_all()
    return runtime.record_store(session).get("customers", sid, ["email"]).values["email"]


def assert_duplicate_problem(response, value: str) -> None:
    assert response.status_code == 409, response.get_json()
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/duplicate-identity")
    assert list(body["errors"]) == ["email"] and "email" in body["detail"]
    assert value.split("@")[0] not in response.get_data(as_text=True)


# -- writes: a duplicate identity is a 409 naming the field --------------------------------


def test_creating_a_customer_with_another_customers_email_is_409_and_writes_nothing(
    http, support, runtime, session, two
) -> None:
    before = customers(runtime, session)
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        headers=support,
        json={
            "first_name": "Eve",
            "last_name": "Fictional",
            "email": "Identity.Person@mail.example",
        },
    )

    assert_duplicate_problem(response, EMAIL)
    assert customers(runtime, session) == before


def test_changing_a_customers_email_to_another_customers_is_409_and_changes_nothing(
    http, support, runtime, session, two
) -> None:
    first, second = two
    response = http.patch(
        f"/v1/data/customers/{second}?purpose=customer_support",
        headers=support,
        json={"email": EMAIL},
    )

    assert_duplicate_problem(response, EMAIL)
    assert email_of(runtime, session, second) == OTHER


def test_a_customer_may_be_written_with_its_own_email_again(
    http, support, runtime, session, two
) -> None:
    first, _ = two
    response = http.patch(
        f"/v1/data/customers/{first}?purpose=customer_support",
        headers=support,
        json={"email": EMAIL, "city": "Elsewhere"},
    )
    assert response.status_code == 200, response.get_json()


def test_the_database_refuses_a_duplicate_blind_index_written_past_the_service(
    runtime, session, two
) -> None:
    """The unique index is what holds under concurrency: two writers that both checked
    before either inserted cannot both commit the same identity."""
    table = runtime.tables["customers"]
    index = runtime.crypto.blind_index("customers", "email", EMAIL)
    now = func.now()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            insert(table).values(id="f" * 32, email_bidx=index, created_at=now, updated_at=now)
        )


def test_the_refusal_is_audited_without_the_value(http, support, runtime, session, two) -> None:
    http.post(
        "/v1/data/customers?purpose=customer_support",
        headers=support,
        json={"first_name": "Eve", "last_name": "Fictional", "email": EMAIL},
    )
    runtime.audit.integrate(session)
    events = [e.document for e in runtime.audit.events(session, limit=500)]
    created = [d for d in events if d["action"] == "data.created"]
    assert created[-1]["outcome"] != "allowed"
    assert "identity.person" not in json.dumps(events)


# -- stored duplicates are shown, never resolved silently --------------------------------


def test_the_officers_lookup_lists_every_subject_holding_the_email(
    http, officer, duplicates
) -> None:
    response = http.get(f"/v1/subjects?email={SHARED}", headers=officer)

    assert response.status_code == 200
    assert sorted(s["subject_id"] for s in response.get_json()["items"]) == duplicates
    assert SHARED not in response.get_data(as_text=True)


def test_intake_by_an_email_several_subjects_hold_is_409_with_their_ids(
    http, officer, session, duplicates
) -> None:
    before = session.scalar(select(func.count()).select_from(DsrRequest))
    response = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"email": SHARED}},
    )

    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/ambiguous-subject")
    assert sorted(body["subject_ids"]) == duplicates
    assert SHARED.split("@")[0] not in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(DsrRequest)) == before

    # The officer chooses by id.
    chosen = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": duplicates[1]}},
    )
    assert chosen.status_code == 201
    assert chosen.get_json()["subject_id"] == duplicates[1]


def test_a_request_taken_in_by_email_is_not_run_on_one_of_several_matches(
    http, officer, session, runtime, duplicates
) -> None:
    """A request taken in while the e-mail matched no one is resolved at execution; if the
    e-mail matches several subjects by then, execution is refused with their ids."""
    from governance.requests.services import RequestService
    from tests.functional.governance.requests.conftest import OFFICER

    service = RequestService(session, runtime, OFFICER)
    made = service.create("access", "gdpr", {"email": "later.person@mail.example"})
    assert made.subject_id is None
    table = runtime.tables["customers"]
    later = runtime.crypto.blind_index("customers", "email", "later.person@mail.example")
    session.execute(table.update().where(table.c.id.in_(duplicates)).values(email_bidx=later))
    session.commit()
    http.post(f"/v1/requests/{made.id}/verify", headers=officer, json={"method": "email code"})

    response = http.post(f"/v1/requests/{made.id}/execute", headers=officer)

    assert response.status_code == 409
    assert sorted(response.get_json()["subject_ids"]) == duplicates
    assert http.get(f"/v1/requests/{made.id}", headers=officer).get_json()["status"] == "verified"


def test_the_data_map_endpoint_names_the_identity_fields(http, officer) -> None:
    collections = http.get("/v1/datamap", headers=officer).get_json()["collections"]
    identities = {
        (c["name"], f["name"]) for c in collections for f in c["fields"] if f.get("identity")
    }
    assert identities == {("customers", "email")}
