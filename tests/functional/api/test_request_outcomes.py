"""What the officer sees when a request cannot go as planned: an extension in time (and the
refusal of one after the due date), a failure with a reason code and a sentence, a failed
request closed with a reason, an export the erasure deleted, and an e-mail that matched no
one at intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.store.errors import RecordNotFound
from tests.functional.api.test_requests_api import subject  # noqa: F401 - fixture


def _create(http, headers, body):  # noqa: ANN001, ANN202
    created = http.post("/v1/requests", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def _received_days_ago(http, headers, records, regulation, days):  # noqa: ANN001, ANN202
    received = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _create(
        http,
        headers,
        {
            "type": "access",
            "regulation": regulation,
            "subject": {"subject_id": records["customers"][0]},
            "received_at": received,
        },
    )["id"]


def test_an_extension_in_time_names_its_reason_code_and_explanation(
    inline_http,
    officer,
    subject,  # noqa: ANN001, F811
) -> None:
    rid = _received_days_ago(inline_http, officer, subject, "GDPR", 5)
    extended = inline_http.post(
        f"/v1/requests/{rid}/extend", headers=officer, json={"reason": "Number_of_requests"}
    )
    assert extended.status_code == 200
    body = extended.get_json()
    assert body["extended"] is True and body["extension_reason"] == "number_of_requests"
    assert "number of requests" in body["extension_explanation"]
    assert body["overdue"] is False


def test_a_late_extension_is_a_409_and_the_request_stays_overdue(
    inline_http,
    officer,
    subject,  # noqa: ANN001, F811
) -> None:
    rid = _received_days_ago(inline_http, officer, subject, "ccpa", 70)
    late = inline_http.post(
        f"/v1/requests/{rid}/extend", headers=officer, json={"reason": "complexity"}
    )
    assert late.status_code == 409 and late.mimetype == "application/problem+json"
    assert "CCPA Regulations 7021(b)" in late.get_json()["detail"]
    shown = inline_http.get(f"/v1/requests/{rid}", headers=officer).get_json()
    assert shown["extended"] is False and shown["overdue"] is True


def test_a_failed_request_shows_its_reason_and_can_be_rejected(
    inline_http,
    officer,
    subject,  # noqa: F811
    runtime,
    session,  # noqa: ANN001, F811
) -> None:
    ticket = subject["support_tickets"][0]
    rid = _create(
        inline_http,
        officer,
        {
            "type": "rectification",
            "regulation": "gdpr",
            "subject": {"subject_id": subject["customers"][0]},
            "details": {
                "corrections": [
                    {
                        "collection": "support_tickets",
                        "record_id": ticket,
                        "fields": {"satisfaction": 5},
                    }
                ]
            },
        },
    )["id"]
    inline_http.post(f"/v1/requests/{rid}/verify", headers=officer, json={"method": "id document"})
    table = runtime.tables["support_tickets"]
    session.execute(table.delete().where(table.c.id == ticket))
    session.commit()
    with pytest.raises(RecordNotFound):  # the inline runner lets the step's error through
        inline_http.post(f"/v1/requests/{rid}/execute", headers=officer).close()

    failed = inline_http.get(f"/v1/requests/{rid}", headers=officer).get_json()
    assert failed["status"] == "failed" and failed["error"] == "record_gone"
    assert "no longer exists" in failed["error_explanation"]
    rejected = inline_http.post(
        f"/v1/requests/{rid}/reject",
        headers=officer,
        json={"reason": "The ticket is no longer held."},
    )
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"


def test_an_export_deleted_by_the_subjects_erasure_says_so(
    inline_http,
    officer,
    subject,  # noqa: ANN001, F811
) -> None:
    sid = subject["customers"][0]
    access = _create(
        inline_http,
        officer,
        {"type": "access", "regulation": "gdpr", "subject": {"subject_id": sid}},
    )["id"]
    erase = _create(
        inline_http,
        officer,
        {"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    )["id"]
    for rid in (access, erase):
        inline_http.post(
            f"/v1/requests/{rid}/verify", headers=officer, json={"method": "email code"}
        )
        inline_http.post(f"/v1/requests/{rid}/execute", headers=officer).close()
    gone = inline_http.get(f"/v1/requests/{access}/export", headers=officer)
    assert gone.status_code == 410
    assert gone.get_json()["detail"] == (
        f"the export was deleted when the subject's erasure request {erase} was executed"
    )
    assert gone.get_json()["erasure_request_id"] == erase


def test_an_email_that_matched_no_one_is_flagged_on_the_request(
    inline_http,
    officer,  # noqa: ANN001, F811
) -> None:
    shown = _create(
        inline_http,
        officer,
        {"type": "access", "regulation": "gdpr", "subject": {"email": "ada.typo@mail.example"}},
    )
    assert shown["subject_found"] is False
    assert "No subject matched at intake" in shown["subject_note"]
