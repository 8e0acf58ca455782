"""Headers a client library relies on: Location on 201, WWW-Authenticate on 401."""

from __future__ import annotations

import pytest

from governance.store.services import RecordStore
from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records


@pytest.fixture
def subject(session, runtime) -> dict[str, list[str]]:  # noqa: ANN001
    store: RecordStore = runtime.record_store(session)
    ids = subject_records(store, email="conventions@mail.example")
    session.commit()
    return ids


def test_a_created_request_has_a_location_that_reads_it_back(http, issue_key, subject) -> None:  # noqa: ANN001
    officer = bearer(issue_key("compliance_officer"))
    created = http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": "access",
            "regulation": "gdpr",
            "subject": {"subject_id": subject["customers"][0]},
        },
    )

    assert created.status_code == 201
    location = created.headers["Location"]
    assert location == f"/v1/requests/{created.get_json()['id']}"
    assert http.get(location, headers=officer).status_code == 200


def test_a_created_client_without_a_url_of_its_own_points_at_its_collection(
    http, issue_key
) -> None:  # noqa: ANN001
    created = http.post(
        "/v1/clients",
        headers=bearer(issue_key("admin")),
        json={"name": "located-app", "role": "auditor"},
    )

    assert created.status_code == 201
    assert created.headers["Location"] == "/v1/clients"


def test_401_without_a_key_carries_a_bearer_challenge(http) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="crm-privacy-gateway"'


def test_401_with_a_wrong_key_says_the_token_is_invalid(http) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap", headers=bearer("not-a-key"))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_since_accepts_a_bare_date_as_the_start_of_that_day_utc(http, issue_key) -> None:  # noqa: ANN001
    auditor = bearer(issue_key("auditor"))
    day = http.get("/v1/audit/events?since=2026-12-02&limit=1", headers=auditor)
    assert day.status_code == 200, day.get_json()
    future = http.get("/v1/audit/events?since=2999-01-01", headers=auditor)
    assert future.status_code == 200 and future.get_json()["items"] == []
    naive = http.get("/v1/audit/events?since=2026-12-02T10:00:00", headers=auditor)
    assert naive.status_code == 422  # a time without an offset could be any zone
    assert http.get("/v1/audit/events?since=2026-13-02", headers=auditor).status_code == 422


def test_the_queue_shows_open_requests_by_default_and_takes_several_statuses(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    officer = bearer(issue_key("compliance_officer"))
    sid = subject["customers"][0]
    kept = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "access", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    closed = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    http.post(
        f"/v1/requests/{closed['id']}/reject",
        headers=officer,
        json={"reason": "withdrawn by the subject"},
    )

    def ids(query: str) -> set[str]:
        response = http.get(f"/v1/requests{query}", headers=officer)
        assert response.status_code == 200, response.get_json()
        return {r["id"] for r in response.get_json()["items"]}

    assert kept["id"] in ids("") and closed["id"] not in ids("")
    assert kept["id"] in ids("?status=open") and closed["id"] not in ids("?status=open")
    assert ids("?status=received,rejected") >= {kept["id"], closed["id"]}
    assert closed["id"] in ids("?status=Closed") and kept["id"] not in ids("?status=closed")
    bad = http.get("/v1/requests?status=pending", headers=officer)
    assert bad.status_code == 422 and "status" in bad.get_json()["errors"]


def test_an_email_with_surrounding_blanks_is_trimmed(http, issue_key, subject) -> None:  # noqa: ANN001
    officer = bearer(issue_key("compliance_officer"))
    created = http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": "access",
            "regulation": "gdpr",
            "subject": {"email": "  conventions@mail.example \n"},
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["subject_id"] == subject["customers"][0]
