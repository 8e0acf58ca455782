"""The officer finds a person by e-mail or id, without an application's key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit.models import audit_entries
from governance.store.services import RecordStore
from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records

EMAIL = "lookup.person@mail.example"


@pytest.fixture
def officer(issue_key) -> dict[str, str]:  # noqa: ANN001
    return bearer(issue_key("compliance_officer"))


@pytest.fixture
def person(session, runtime) -> dict[str, list[str]]:  # noqa: ANN001
    store: RecordStore = runtime.record_store(session)
    ids = subject_records(store, email=EMAIL)
    session.commit()
    return ids


def test_lookup_by_email_names_the_subject_its_collections_and_its_requests(
    http, officer, person
) -> None:  # noqa: ANN001
    subject_id = person["customers"][0]
    made = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "access", "regulation": "gdpr", "subject": {"email": EMAIL}},
    ).get_json()

    response = http.get(f"/v1/subjects?email={EMAIL}", headers=officer)

    assert response.status_code == 200
    [found] = response.get_json()["items"]
    assert found["subject_id"] == subject_id
    assert found["records"]["customers"] == 1
    assert set(found["records"]) == {c for c, ids in person.items() if ids}
    assert [r["id"] for r in found["open_requests"]] == [made["id"]]
    assert found["past_requests"] == []
    assert EMAIL not in response.get_data(as_text=True)


def test_lookup_by_id_gives_the_same_subject(http, officer, person) -> None:  # noqa: ANN001
    subject_id = person["customers"][0]
    response = http.get(f"/v1/subjects?id={subject_id}", headers=officer)
    assert [s["subject_id"] for s in response.get_json()["items"]] == [subject_id]


def test_an_email_no_subject_has_is_an_empty_list(http, officer, person) -> None:  # noqa: ANN001
    response = http.get("/v1/subjects?email=nobody.here@mail.example", headers=officer)
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


def test_the_email_is_never_written_to_the_audit_log(http, officer, person, session) -> None:  # noqa: ANN001
    http.get(f"/v1/subjects?email={EMAIL}", headers=officer)
    leaves = session.execute(select(audit_entries.c.data)).scalars().all()
    assert leaves and not any(EMAIL.encode() in bytes(leaf) for leaf in leaves)


def test_an_application_cannot_look_subjects_up(http, issue_key, person) -> None:  # noqa: ANN001
    app = bearer(issue_key("application", "customer_support"))
    assert http.get(f"/v1/subjects?email={EMAIL}", headers=app).status_code == 403


@pytest.mark.parametrize("query", ["", f"email={EMAIL}&id=abc", "email=not-an-email"])
def test_a_lookup_names_exactly_one_valid_key(http, officer, query) -> None:  # noqa: ANN001
    response = http.get(f"/v1/subjects?{query}", headers=officer)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
