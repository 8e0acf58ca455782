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
    created = http.post("/v1/requests", headers=officer, json={
        "type": "access", "regulation": "gdpr",
        "subject": {"subject_id": subject["customers"][0]}})

    assert created.status_code == 201
    location = created.headers["Location"]
    assert location == f"/v1/requests/{created.get_json()['id']}"
    assert http.get(location, headers=officer).status_code == 200


def test_a_created_client_without_a_url_of_its_own_points_at_its_collection(
        http, issue_key) -> None:  # noqa: ANN001
    created = http.post("/v1/clients", headers=bearer(issue_key("admin")),
                        json={"name": "located-app", "role": "auditor"})

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
