"""The data-subject request endpoints through the HTTP app: contract paths, codes and
fields; execution in the background after the request's commit; the export download."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from audit.models import audit_entries
from governance.store.services import RecordStore
from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records


@pytest.fixture
def subject(session, runtime) -> dict[str, list[str]]:  # noqa: ANN001
    store: RecordStore = runtime.record_store(session)
    ids = subject_records(store, email="http.subject@mail.example")
    session.commit()
    return ids


def test_intake_answers_201_with_the_contract_fields(http, officer, subject) -> None:  # noqa: ANN001
    response = http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": "access",
            "regulation": "gdpr",
            "subject": {"email": "http.subject@mail.example"},
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {"id", "status", "received_at", "due_at"} <= set(body)
    assert body["status"] == "received" and body["subject_id"] == subject["customers"][0]
    assert "http.subject" not in response.get_data(as_text=True)


def test_a_duplicate_is_a_409_naming_the_first(http, officer, subject) -> None:  # noqa: ANN001
    body = {
        "type": "erasure",
        "regulation": "ccpa",
        "subject": {"subject_id": subject["customers"][0]},
    }
    first = http.post("/v1/requests", headers=officer, json=body).get_json()
    second = http.post("/v1/requests", headers=officer, json=body)
    assert second.status_code == 409
    assert second.mimetype == "application/problem+json"
    assert second.get_json()["existing_request_id"] == first["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "gossip", "regulation": "gdpr", "subject": {"subject_id": "a1"}},
        {"type": "access", "regulation": "hipaa", "subject": {"subject_id": "a1"}},
        {"type": "access", "regulation": "gdpr", "subject": {}},
        {"type": "opt_out", "regulation": "gdpr", "subject": {"subject_id": "a1"}},
        {"type": "access", "regulation": "gdpr", "subject": {"email": "not-an-email"}},
    ],
)
def test_bad_intake_is_a_422_and_writes_nothing(http, officer, body) -> None:  # noqa: ANN001
    response = http.post("/v1/requests", headers=officer, json=body)
    assert response.status_code == 422
    assert http.get("/v1/requests", headers=officer).get_json()["items"] == []


def test_only_compliance_officers_manage_requests(http, issue_key) -> None:  # noqa: ANN001
    for role in ("application", "auditor", "admin"):
        response = http.get("/v1/requests", headers=bearer(issue_key(role)))
        assert response.status_code == 403


def test_executing_an_unverified_request_is_a_409(http, officer, subject) -> None:  # noqa: ANN001
    created = http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": "erasure",
            "regulation": "gdpr",
            "subject": {"subject_id": subject["customers"][0]},
        },
    ).get_json()
    response = http.post(f"/v1/requests/{created['id']}/execute", headers=officer)
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/not-verified")


def test_access_request_end_to_end_with_the_export_download(
    inline_http,
    officer,
    subject,  # noqa: ANN001
) -> None:
    sid = subject["customers"][0]
    created = inline_http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "access", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    rid = created["id"]
    early = inline_http.get(f"/v1/requests/{rid}/export", headers=officer)
    assert early.status_code == 409
    verified = inline_http.post(
        f"/v1/requests/{rid}/verify", headers=officer, json={"method": "email code"}
    )
    assert verified.status_code == 200
    assert verified.get_json()["status"] == "verified"
    assert verified.get_json()["verification_method"] == "email_code"

    started = inline_http.post(f"/v1/requests/{rid}/execute", headers=officer)
    assert started.status_code == 202
    assert started.get_json()["status"] == "in_progress"
    started.close()  # the response is done: the inline runner runs the steps now

    shown = inline_http.get(f"/v1/requests/{rid}", headers=officer).get_json()
    assert shown["status"] == "completed"
    assert [s["name"] for s in shown["steps"]] == ["export"]
    assert shown["export_available"] is True
    download = inline_http.get(f"/v1/requests/{rid}/export", headers=officer)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        names = set(archive.namelist())
        data = json.loads(archive.read("data.json"))
    assert "data.json" in names and "customers.csv" in names and "orders.csv" in names
    assert data["collections"]["customers"]["records"][0]["id"] == sid


def test_erasure_end_to_end_and_the_queue(inline_http, officer, subject) -> None:  # noqa: ANN001
    sid = subject["customers"][0]
    created = inline_http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": "erasure",
            "regulation": "gdpr",
            "subject": {"subject_id": sid},
            "received_at": "2026-01-31T10:00:00Z",
        },
    ).get_json()
    rid = created["id"]
    assert created["due_at"].startswith("2026-02-28T23:59:59")
    late = inline_http.post(
        f"/v1/requests/{rid}/extend", headers=officer, json={"reason": "complexity"}
    )
    assert late.status_code == 409 and late.get_json()["type"].endswith("extension-too-late")
    assert "original due date" in late.get_json()["detail"]
    queue = inline_http.get("/v1/requests?overdue=true", headers=officer).get_json()
    assert [r["id"] for r in queue["items"]] == [rid] and queue["items"][0]["overdue"]
    inline_http.post(
        f"/v1/requests/{rid}/verify", headers=officer, json={"method": "signed letter"}
    )
    inline_http.post(f"/v1/requests/{rid}/execute", headers=officer).close()

    done = inline_http.get(f"/v1/requests/{rid}", headers=officer).get_json()
    assert done["status"] == "completed", done
    assert done["steps"][-1]["name"] == "verify"
    assert done["steps"][-1]["result"]["verified"] is True
    assert inline_http.get("/v1/requests?overdue=true", headers=officer).get_json()["items"] == []
    assert (
        inline_http.get("/v1/requests?status=completed", headers=officer).get_json()["items"][0][
            "id"
        ]
        == rid
    )


def test_reject_and_unknown_ids(http, officer) -> None:  # noqa: ANN001
    created = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "access", "regulation": "ccpa", "subject": {"email": "nobody@mail.example"}},
    )
    rid = created.get_json()["id"]
    rejected = http.post(
        f"/v1/requests/{rid}/reject", headers=officer, json={"reason": "could not verify identity"}
    )
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert (
        http.post(
            f"/v1/requests/{rid}/verify", headers=officer, json={"method": "email code"}
        ).status_code
        == 409
    )
    assert http.get("/v1/requests/nope", headers=officer).status_code == 404
    assert http.get("/v1/requests?cursor=garbage", headers=officer).status_code == 400


def test_the_openapi_document_describes_the_request_endpoints(http) -> None:  # noqa: ANN001
    paths = http.get("/openapi.json").get_json()["paths"]
    for path in (
        "/v1/requests",
        "/v1/requests/{request_id}",
        "/v1/requests/{request_id}/verify",
        "/v1/requests/{request_id}/reject",
        "/v1/requests/{request_id}/extend",
        "/v1/requests/{request_id}/execute",
        "/v1/requests/{request_id}/export",
    ):
        assert path in paths, path


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [
        pytest.param("verify", '{"method": "phone call to Jane Doe"}', 422, id="free-text-method"),
        pytest.param("verify", "{}", 422, id="no-method"),
        pytest.param("verify", "{", 400, id="malformed-json"),
        pytest.param("reject", "{}", 422, id="no-reason"),
        pytest.param("extend", '{"reason": "' + "x" * 2001 + '"}', 422, id="reason-too-long"),
        pytest.param("extend", '{"reason": "we are busy"}', 422, id="reason-not-a-code"),
    ],
)
def test_a_bad_workflow_action_is_refused_and_changes_nothing(  # noqa: ANN001
    http, officer, subject, runtime, action, body, status
) -> None:
    created = http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": "access",
            "regulation": "gdpr",
            "subject": {"subject_id": subject["customers"][0]},
        },
    ).get_json()
    before = http.get(f"/v1/requests/{created['id']}", headers=officer).get_json()

    response = http.post(
        f"/v1/requests/{created['id']}/{action}",
        headers=officer,
        data=body,
        content_type="application/json",
    )

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert http.get(f"/v1/requests/{created['id']}", headers=officer).get_json() == before
    with runtime.sessions() as session:  # every entry, integrated or still queued
        logged = b"".join(bytes(d) for d in session.scalars(select(audit_entries.c.data)))
    assert logged and b"jane" not in logged.lower()


@pytest.mark.parametrize("action", ["verify", "reject", "extend", "execute"])
def test_a_workflow_action_on_an_unknown_request_is_404(http, officer, action) -> None:  # noqa: ANN001
    body = {
        "verify": {"method": "email code"},
        "reject": {"reason": "r"},
        "extend": {"reason": "complexity"},
        "execute": None,
    }[action]
    response = http.post(f"/v1/requests/{'0' * 32}/{action}", headers=officer, json=body)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_type_and_regulation_are_matched_in_any_case(http, officer, subject) -> None:  # noqa: ANN001
    response = http.post(
        "/v1/requests",
        headers=officer,
        json={
            "type": " Access",
            "regulation": "GDPR",
            "subject": {"subject_id": subject["customers"][0]},
        },
    )

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["type"], response.get_json()["regulation"]) == ("access", "gdpr")
