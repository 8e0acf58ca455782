"""Legal holds over HTTP: officers place, list, read and release them; bad input is a 422
problem that names the field and echoes no value; releasing a hold resumes the erasure that
waited on it."""

from __future__ import annotations

import pytest

from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records


@pytest.fixture
def sid(runtime, session) -> str:
    sid = subject_records(runtime.record_store(session))["customers"][0]
    session.commit()
    return sid


def test_an_officer_places_lists_reads_and_releases_a_hold(inline_http, officer, sid) -> None:
    placed = inline_http.post(
        "/v1/holds",
        headers=officer,
        json={"scope": "subject", "subject_id": sid, "reason": "Litigation", "matter": "CASE-1"},
    )

    assert placed.status_code == 201, placed.get_json()
    hold = placed.get_json()
    assert placed.headers["Location"] == f"/v1/holds/{hold['id']}"
    assert (hold["active"], hold["reason"], hold["subject_id"]) == (True, "litigation", sid)
    listed = inline_http.get(f"/v1/holds?active=true&subject_id={sid}", headers=officer)
    assert [h["id"] for h in listed.get_json()["items"]] == [hold["id"]]
    assert inline_http.get(f"/v1/holds/{hold['id']}", headers=officer).status_code == 200

    released = inline_http.post(
        f"/v1/holds/{hold['id']}/release", headers=officer, json={"reason": "matter_closed"}
    )
    assert released.status_code == 200
    assert released.get_json()["active"] is False
    again = inline_http.post(
        f"/v1/holds/{hold['id']}/release", headers=officer, json={"reason": "matter_closed"}
    )
    assert again.status_code == 409
    assert again.get_json()["type"].endswith("/hold-released")
    assert inline_http.get("/v1/holds?active=false", headers=officer).get_json()["items"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "subject", "reason": "litigation", "matter": "Smith v. Jones 2026"}, "matter"),
        ({"scope": "subject", "reason": "gut_feeling", "matter": "M-1"}, "reason"),
        ({"scope": "planet", "reason": "litigation", "matter": "M-1"}, "scope"),
        (
            {"scope": "collection", "collection": "leads", "reason": "litigation", "matter": "M-1"},
            "collection",
        ),
        ({"scope": "subject", "reason": "litigation", "matter": "M-1"}, "subject_id"),
        (
            {
                "scope": "subject",
                "reason": "litigation",
                "matter": "M-1",
                "subject_id": "x",
                "expires_at": "2026-13-01",
            },
            "expires_at",
        ),
    ],
)
def test_an_invalid_hold_is_a_422_problem_naming_the_field(
    inline_http, officer, body, field
) -> None:
    response = inline_http.post("/v1/holds", headers=officer, json=body)

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert "Smith" not in response.get_data(as_text=True)


def test_an_unknown_hold_is_404_and_applications_may_not_place_holds(
    inline_http, officer, issue_key, sid
) -> None:
    assert inline_http.get("/v1/holds/" + "0" * 32, headers=officer).status_code == 404
    app = bearer(issue_key("application", "customer_support"))
    refused = inline_http.post(
        "/v1/holds",
        headers=app,
        json={"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "M-1"},
    )
    assert refused.status_code == 403


def test_releasing_the_hold_resumes_the_waiting_erasure_to_completion(
    inline_http, officer, sid
) -> None:
    hold = inline_http.post(
        "/v1/holds",
        headers=officer,
        json={
            "scope": "subject",
            "subject_id": sid,
            "reason": "regulatory_inquiry",
            "matter": "DPA-17",
        },
    ).get_json()
    request = inline_http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    inline_http.post(
        f"/v1/requests/{request['id']}/verify", headers=officer, json={"method": "signed_letter"}
    )
    inline_http.post(f"/v1/requests/{request['id']}/execute", headers=officer).close()

    waiting = inline_http.get(f"/v1/requests/{request['id']}", headers=officer).get_json()
    assert (waiting["status"], waiting["hold_id"]) == ("on_hold", hold["id"])
    assert all(s["state"] == "pending" for s in waiting["steps"])
    assert inline_http.get(f"/v1/holds/{hold['id']}", headers=officer).get_json()[
        "waiting_requests"
    ] == [request["id"]]

    released = inline_http.post(
        f"/v1/holds/{hold['id']}/release", headers=officer, json={"reason": "settled"}
    )
    assert released.get_json()["resumed_requests"] == [request["id"]]
    released.close()  # the response is done: the inline runner resumes the erasure now
    done = inline_http.get(f"/v1/requests/{request['id']}", headers=officer).get_json()
    assert done["status"] == "completed" and done["hold_id"] is None


def test_a_subject_whose_erasure_waits_on_a_hold_is_served_only_for_legal_claims(
    inline_http, officer, issue_key, sid
) -> None:
    """Art. 17(3)(e): the hold keeps the data for legal claims, nothing else; the erasure
    still stands, so every other purpose meets 403 `erasure` and lists leave them out."""
    support = bearer(issue_key("application", "customer_support"))
    counsel = bearer(issue_key("application", "legal_claims"))
    inline_http.post(
        "/v1/holds",
        headers=officer,
        json={"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "CASE-4"},
    )
    request = inline_http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    inline_http.post(
        f"/v1/requests/{request['id']}/verify", headers=officer, json={"method": "signed_letter"}
    )
    inline_http.post(f"/v1/requests/{request['id']}/execute", headers=officer).close()
    assert (
        inline_http.get(f"/v1/requests/{request['id']}", headers=officer).get_json()["status"]
        == "on_hold"
    )

    by_id = inline_http.get(f"/v1/data/customers/{sid}?purpose=customer_support", headers=support)
    listed = inline_http.get(
        "/v1/data/customers?purpose=customer_support&limit=500", headers=support
    )
    held = inline_http.get(f"/v1/data/customers/{sid}?purpose=legal_claims", headers=counsel)
    held_list = inline_http.get(
        "/v1/data/customers?purpose=legal_claims&limit=500", headers=counsel
    )

    assert by_id.status_code == 403
    assert by_id.get_json()["reason"] == "erasure"
    assert sid not in {r["id"] for r in listed.get_json()["items"]}
    assert held.status_code == 200
    assert sid in {r["id"] for r in held_list.get_json()["items"]}
