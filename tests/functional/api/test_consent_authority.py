"""Applications may always make processing more restrictive, but loosen it only for their
own purposes and never over an officer's, a request's or a GPC signal's event."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from governance.runtime import Runtime
from tests.conftest import bearer
from tests.functional.consent.conftest import add_subjects

NOTICE = "notice-2026-01"


@pytest.fixture
def subject(sessions: sessionmaker[Session], runtime: Runtime) -> str:
    with sessions() as s:
        (sid,) = add_subjects(s, runtime, 1)
        s.commit()
    return sid


def _consent(http, sid: str, key: str, purpose: str, action: str, source: str = "api",  # noqa: ANN001
             **headers: Any) -> Any:
    body = {"purpose": purpose, "action": action, "source": source, "policy_version": NOTICE}
    if "evidence" in headers:
        body["evidence"] = headers.pop("evidence")
    return http.post(f"/v1/subjects/{sid}/consents", headers={**bearer(key), **headers},
                     json=body)


def _objection(http, sid: str, key: str, purpose: str, action: str, source: str) -> Any:  # noqa: ANN001
    return http.post(f"/v1/subjects/{sid}/objections", headers=bearer(key),
                     json={"purpose": purpose, "action": action, "source": source})


def _status(http, sid: str, officer: str, purpose: str) -> str:  # noqa: ANN001
    body = http.get(f"/v1/subjects/{sid}/consents", headers=bearer(officer)).get_json()
    return body["current"][purpose]["status"]


def test_an_application_cannot_grant_a_purpose_it_does_not_hold(http, issue_key, subject) -> None:  # noqa: ANN001
    support = issue_key("application", "customer_support")
    officer = issue_key("compliance_officer")

    response = _consent(http, subject, support, "email_marketing", "grant", "web_form")

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/consent-change-forbidden")
    assert _status(http, subject, officer, "email_marketing") == "none"


def test_an_application_may_withdraw_any_purpose(http, issue_key, subject) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    support = issue_key("application", "customer_support")
    officer = issue_key("compliance_officer")
    granted = _consent(http, subject, marketing, "email_marketing", "grant", "web_form")
    assert granted.status_code == 201

    response = _consent(http, subject, support, "email_marketing", "withdraw")

    assert response.status_code == 201
    assert _status(http, subject, officer, "email_marketing") == "withdrawn"


def test_an_application_cannot_lift_an_objection_an_officer_recorded(
        http, issue_key, subject) -> None:  # noqa: ANN001
    analytics = issue_key("application", "analytics")
    officer = issue_key("compliance_officer")
    assert _objection(http, subject, officer, "analytics", "object", "officer").status_code == 201

    response = _objection(http, subject, analytics, "analytics", "lift", "api")

    assert response.status_code == 403
    assert "compliance officer" in response.get_json()["detail"]
    assert _status(http, subject, officer, "analytics") == "objected"
    assert _objection(http, subject, officer, "analytics", "lift", "officer").status_code == 201


def test_an_application_cannot_regrant_sharing_over_a_gpc_withdrawal(
        http, issue_key, subject) -> None:  # noqa: ANN001
    sharing = issue_key("application", "third_party_sharing", "email_marketing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, sharing, "third_party_sharing", "grant",
                    "web_form").status_code == 201
    gpc = _consent(http, subject, sharing, "email_marketing", "withdraw", **{"Sec-GPC": "1"})
    assert gpc.status_code == 201
    assert _status(http, subject, officer, "third_party_sharing") == "withdrawn"

    regrant = _consent(http, subject, sharing, "third_party_sharing", "grant", "api")

    assert regrant.status_code == 403
    assert _status(http, subject, officer, "third_party_sharing") == "withdrawn"


def test_the_subjects_own_new_grant_may_follow_a_gpc_withdrawal(
        http, issue_key, subject) -> None:  # noqa: ANN001
    sharing = issue_key("application", "third_party_sharing", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, sharing, "third_party_sharing", "grant", "web_form")
    _consent(http, subject, sharing, "email_marketing", "withdraw", **{"Sec-GPC": "1"})

    again = _consent(http, subject, sharing, "third_party_sharing", "grant", "web_form",
                     evidence="form-submission-8841")

    assert again.status_code == 201
    assert _status(http, subject, officer, "third_party_sharing") == "granted"


def test_an_application_cannot_regrant_over_an_officers_withdrawal_without_the_subject(
        http, issue_key, subject) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, marketing, "email_marketing", "grant", "web_form")
    assert _consent(http, subject, officer, "email_marketing", "withdraw",
                    "officer").status_code == 201

    refused = _consent(http, subject, marketing, "email_marketing", "grant", "web_form")
    read = http.get(f"/v1/data/customers/{subject}?purpose=email_marketing",
                    headers=bearer(marketing))

    assert refused.status_code == 403
    assert read.status_code == 403


def test_an_officer_may_reverse_what_an_officer_recorded(http, issue_key, subject) -> None:  # noqa: ANN001
    officer = issue_key("compliance_officer")
    _consent(http, subject, officer, "email_marketing", "withdraw", "officer")
    assert _consent(http, subject, officer, "email_marketing", "grant",
                    "officer").status_code == 201


# -- reading consent: an application sees its own purposes' current state only ------------


def test_an_application_reads_only_the_current_state_of_its_own_purposes(
        http, issue_key, subject) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, marketing, "email_marketing", "grant", "web_form",
                    evidence="form-4711").status_code == 201
    assert _objection(http, subject, officer, "analytics", "object", "officer").status_code == 201

    response = http.get(f"/v1/subjects/{subject}/consents", headers=bearer(marketing))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"subject_id", "current"}  # no history, no restriction
    assert set(body["current"]) == {"email_marketing"}
    assert set(body["current"]["email_marketing"]) == {"status", "at", "processable", "reason"}
    assert body["current"]["email_marketing"]["status"] == "granted"
    assert "form-4711" not in response.get_data(as_text=True)


def test_an_officer_keeps_the_full_view_with_history_and_evidence(
        http, issue_key, subject) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, marketing, "email_marketing", "grant", "web_form",
             evidence="form-4711")

    body = http.get(f"/v1/subjects/{subject}/consents", headers=bearer(officer)).get_json()

    assert {"history", "restricted", "restriction"} <= set(body)
    assert [e["evidence"] for e in body["history"]] == ["form-4711"]
    assert "analytics" in body["current"]
