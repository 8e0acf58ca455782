"""Applications record consent events only for their own purposes, always with the source
the gateway gives their key (`api`); they may make processing more restrictive, but never
loosen it where the latest officer's, request's or GPC signal's withdrawal or objection
stands, whatever they recorded themselves since."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from governance.consent.services import ConsentService, ConsentSource
from governance.runtime import Runtime
from tests.conftest import bearer
from tests.functional.consent.conftest import OFFICER, add_subjects

NOTICE = "notice-2026-01"


@pytest.fixture
def subject(sessions: sessionmaker[Session], runtime: Runtime) -> str:
    with sessions() as s:
        (sid,) = add_subjects(s, runtime, 1)
        s.commit()
    return sid


def _consent(
    http,
    sid: str,
    key: str,
    purpose: str,
    action: str,
    source: str = "api",  # noqa: ANN001
    **headers: Any,
) -> Any:
    body = {"purpose": purpose, "action": action, "source": source, "policy_version": NOTICE}
    if "evidence" in headers:
        body["evidence"] = headers.pop("evidence")
    return http.post(f"/v1/subjects/{sid}/consents", headers={**bearer(key), **headers}, json=body)


def _objection(http, sid: str, key: str, purpose: str, action: str, source: str) -> Any:  # noqa: ANN001
    return http.post(
        f"/v1/subjects/{sid}/objections",
        headers=bearer(key),
        json={"purpose": purpose, "action": action, "source": source},
    )


def _status(http, sid: str, officer: str, purpose: str) -> str:  # noqa: ANN001
    body = http.get(f"/v1/subjects/{sid}/consents", headers=bearer(officer)).get_json()
    return body["current"][purpose]["status"]


def test_an_application_cannot_grant_a_purpose_it_does_not_hold(http, issue_key, subject) -> None:  # noqa: ANN001
    support = issue_key("application", "customer_support")
    officer = issue_key("compliance_officer")

    response = _consent(http, subject, support, "email_marketing", "grant")

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/consent-change-forbidden")
    assert _status(http, subject, officer, "email_marketing") == "none"


def test_an_application_cannot_withdraw_a_purpose_it_does_not_hold(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    support = issue_key("application", "customer_support")
    officer = issue_key("compliance_officer")
    granted = _consent(http, subject, marketing, "email_marketing", "grant")
    assert granted.status_code == 201

    response = _consent(http, subject, support, "email_marketing", "withdraw")

    assert response.status_code == 403
    assert response.get_json()["type"].endswith("/consent-change-forbidden")
    assert _status(http, subject, officer, "email_marketing") == "granted"


def test_an_application_cannot_lift_an_objection_an_officer_recorded(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    analytics = issue_key("application", "analytics")
    officer = issue_key("compliance_officer")
    assert _objection(http, subject, officer, "analytics", "object", "officer").status_code == 201

    response = _objection(http, subject, analytics, "analytics", "lift", "api")

    assert response.status_code == 403
    assert "compliance officer" in response.get_json()["detail"]
    assert _status(http, subject, officer, "analytics") == "objected"
    assert _objection(http, subject, officer, "analytics", "lift", "officer").status_code == 201


def test_an_application_cannot_regrant_sharing_over_a_gpc_withdrawal(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    sharing = issue_key("application", "third_party_sharing", "email_marketing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, sharing, "third_party_sharing", "grant").status_code == 201
    gpc = _consent(http, subject, sharing, "email_marketing", "withdraw", **{"Sec-GPC": "1"})
    assert gpc.status_code == 201
    assert _status(http, subject, officer, "third_party_sharing") == "withdrawn"

    regrant = _consent(http, subject, sharing, "third_party_sharing", "grant", "api")

    assert regrant.status_code == 403
    assert _status(http, subject, officer, "third_party_sharing") == "withdrawn"


def test_after_a_gpc_withdrawal_an_officer_records_the_subjects_new_grant(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    sharing = issue_key("application", "third_party_sharing", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, sharing, "third_party_sharing", "grant")
    _consent(http, subject, sharing, "email_marketing", "withdraw", **{"Sec-GPC": "1"})

    by_app = _consent(
        http, subject, sharing, "third_party_sharing", "grant", evidence="form-submission-8841"
    )
    again = _consent(
        http,
        subject,
        officer,
        "third_party_sharing",
        "grant",
        "officer",
        evidence="form-submission-8841",
    )

    assert by_app.status_code == 403
    assert again.status_code == 201
    assert _status(http, subject, officer, "third_party_sharing") == "granted"


def test_an_application_cannot_regrant_over_an_officers_withdrawal_without_the_subject(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, marketing, "email_marketing", "grant")
    assert (
        _consent(http, subject, officer, "email_marketing", "withdraw", "officer").status_code
        == 201
    )

    refused = _consent(http, subject, marketing, "email_marketing", "grant")
    read = http.get(
        f"/v1/data/customers/{subject}?purpose=email_marketing", headers=bearer(marketing)
    )

    assert refused.status_code == 403
    assert read.status_code == 403


def test_an_officer_may_reverse_what_an_officer_recorded(http, issue_key, subject) -> None:  # noqa: ANN001
    officer = issue_key("compliance_officer")
    _consent(http, subject, officer, "email_marketing", "withdraw", "officer")
    assert (
        _consent(http, subject, officer, "email_marketing", "grant", "officer").status_code == 201
    )


# -- reading consent: an application sees its own purposes' current state only ------------


def test_an_application_reads_only_the_current_state_of_its_own_purposes(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    assert (
        _consent(
            http, subject, marketing, "email_marketing", "grant", evidence="form-4711"
        ).status_code
        == 201
    )
    assert _objection(http, subject, officer, "analytics", "object", "officer").status_code == 201

    response = http.get(f"/v1/subjects/{subject}/consents", headers=bearer(marketing))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"subject_id", "current"}  # no history, no restriction
    assert set(body["current"]) == {"email_marketing"}
    assert set(body["current"]["email_marketing"]) == {"status", "at", "processable", "reason"}
    assert body["current"]["email_marketing"]["status"] == "granted"
    assert "form-4711" not in response.get_data(as_text=True)


def test_an_officer_keeps_the_full_view_with_history_and_evidence(http, issue_key, subject) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, marketing, "email_marketing", "grant", evidence="form-4711")

    body = http.get(f"/v1/subjects/{subject}/consents", headers=bearer(officer)).get_json()

    assert {"history", "restricted", "restriction"} <= set(body)
    assert [e["evidence"] for e in body["history"]] == ["form-4711"]
    assert "analytics" in body["current"]


# -- a loosening is judged against the latest protected event of the history ---------------


def _current(http, sid: str, key: str, purpose: str) -> dict[str, Any]:  # noqa: ANN001
    body = http.get(f"/v1/subjects/{sid}/consents", headers=bearer(key)).get_json()
    return body["current"][purpose]


def _withdraw_as_officer(http, sid: str, sessions, runtime) -> None:  # noqa: ANN001
    officer = issue_officer(sessions)
    assert (
        _consent(http, sid, officer, "third_party_sharing", "withdraw", "officer").status_code
        == 201
    )


def _withdraw_by_request(http, sid: str, sessions, runtime) -> None:  # noqa: ANN001
    with sessions() as s:  # what executing an opt-out request records
        ConsentService(s, runtime, OFFICER).opt_out(sid, ConsentSource.REQUEST)
        s.commit()


def _withdraw_by_gpc(http, sid: str, sessions, runtime) -> None:  # noqa: ANN001
    browser_app = issue_app(sessions, "email_marketing")
    gpc = _consent(http, sid, browser_app, "email_marketing", "withdraw", **{"Sec-GPC": "1"})
    assert gpc.status_code == 201
    assert {e["purpose"] for e in gpc.get_json()["gpc_opt_outs"]} >= {"third_party_sharing"}


def issue_officer(sessions) -> str:  # noqa: ANN001
    return issue_app(sessions, role="compliance_officer")


def issue_app(sessions, *purposes: str, role: str = "application") -> str:  # noqa: ANN001
    from governance.clients.services import ClientService

    with sessions() as s:
        issued = ClientService(s).create(f"{role}-{uuid.uuid4().hex[:8]}", role, purposes)
        s.commit()
        return issued.key


@pytest.mark.parametrize(
    "withdraw",
    [_withdraw_as_officer, _withdraw_by_request, _withdraw_by_gpc],
    ids=["officer", "request", "gpc"],
)
def test_an_applications_own_withdrawal_does_not_open_a_protected_withdrawal_to_its_grant(
    http, issue_key, subject, sessions, runtime, withdraw
) -> None:  # noqa: ANN001
    sharing = issue_key("application", "third_party_sharing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, sharing, "third_party_sharing", "grant").status_code == 201
    withdraw(http, subject, sessions, runtime)
    assert _consent(http, subject, sharing, "third_party_sharing", "withdraw").status_code == 201

    regrant = _consent(http, subject, sharing, "third_party_sharing", "grant")

    assert regrant.status_code == 403, regrant.get_json()
    assert regrant.get_json()["type"].endswith("/consent-change-forbidden")
    assert _current(http, subject, sharing, "third_party_sharing")["processable"] is False
    assert _status(http, subject, officer, "third_party_sharing") == "withdrawn"


def test_an_applications_objection_and_its_lift_do_not_undo_an_officers_withdrawal(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, marketing, "email_marketing", "grant").status_code == 201
    assert (
        _consent(http, subject, officer, "email_marketing", "withdraw", "officer").status_code
        == 201
    )
    assert (
        _objection(http, subject, marketing, "email_marketing", "object", "api").status_code == 201
    )

    lift = _objection(http, subject, marketing, "email_marketing", "lift", "api")
    regrant = _consent(http, subject, marketing, "email_marketing", "grant")

    assert lift.status_code == 403, lift.get_json()
    assert regrant.status_code == 403, regrant.get_json()
    assert _current(http, subject, marketing, "email_marketing")["processable"] is False
    read = http.get(
        f"/v1/data/customers/{subject}?purpose=email_marketing", headers=bearer(marketing)
    )
    assert read.status_code == 403


def test_an_application_cannot_lift_its_own_objection_over_an_officers_objection(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    analytics = issue_key("application", "analytics")
    officer = issue_key("compliance_officer")
    assert _objection(http, subject, officer, "analytics", "object", "officer").status_code == 201
    assert _objection(http, subject, analytics, "analytics", "object", "api").status_code == 201

    lift = _objection(http, subject, analytics, "analytics", "lift", "api")

    assert lift.status_code == 403, lift.get_json()
    assert _status(http, subject, officer, "analytics") == "objected"
    assert _current(http, subject, analytics, "analytics")["processable"] is False


def test_an_application_cannot_withdraw_over_a_gpc_withdrawal_of_a_purpose_it_does_not_hold(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    sharing = issue_key("application", "third_party_sharing", "email_marketing")
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, sharing, "third_party_sharing", "grant").status_code == 201
    assert (
        _consent(
            http, subject, sharing, "email_marketing", "withdraw", **{"Sec-GPC": "1"}
        ).status_code
        == 201
    )

    response = _consent(http, subject, marketing, "third_party_sharing", "withdraw")

    assert response.status_code == 403, response.get_json()
    assert response.get_json()["type"].endswith("/consent-change-forbidden")
    body = http.get(f"/v1/subjects/{subject}/consents", headers=bearer(officer)).get_json()
    assert body["current"]["third_party_sharing"]["source"] == "gpc"


def test_a_body_claiming_the_subjects_web_form_does_not_reverse_an_officers_withdrawal(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    assert _consent(http, subject, marketing, "email_marketing", "grant").status_code == 201
    assert (
        _consent(http, subject, officer, "email_marketing", "withdraw", "officer").status_code
        == 201
    )

    claimed = _consent(
        http,
        subject,
        marketing,
        "email_marketing",
        "grant",
        "web_form",
        evidence="form-submission-8841",
    )
    unclaimed = http.post(
        f"/v1/subjects/{subject}/consents",
        headers=bearer(marketing),
        json={
            "purpose": "email_marketing",
            "action": "grant",
            "policy_version": NOTICE,
            "evidence": "form-submission-8841",
        },
    )

    assert claimed.status_code == 422, claimed.get_json()
    assert claimed.get_json()["type"].endswith("/invalid-consent-event")
    assert "source" in claimed.get_json()["errors"]
    assert unclaimed.status_code == 403, unclaimed.get_json()
    current = http.get(f"/v1/subjects/{subject}/consents", headers=bearer(officer)).get_json()
    assert (
        current["current"]["email_marketing"]["status"],
        current["current"]["email_marketing"]["source"],
    ) == ("withdrawn", "officer")
    assert len(current["history"]) == 2


def test_the_gateway_decides_the_source_from_the_callers_key(http, issue_key, subject) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    body = {"purpose": "email_marketing", "action": "grant", "policy_version": NOTICE}

    by_app = http.post(f"/v1/subjects/{subject}/consents", headers=bearer(marketing), json=body)
    by_officer = http.post(
        f"/v1/subjects/{subject}/consents",
        headers=bearer(officer),
        json={**body, "action": "withdraw"},
    )

    assert by_app.status_code == 201, by_app.get_json()
    assert by_app.get_json()["source"] == "api"
    assert by_officer.status_code == 201, by_officer.get_json()
    assert by_officer.get_json()["source"] == "officer"


def test_after_an_officers_new_grant_the_application_manages_its_purpose_again(
    http, issue_key, subject
) -> None:  # noqa: ANN001
    marketing = issue_key("application", "email_marketing")
    officer = issue_key("compliance_officer")
    _consent(http, subject, officer, "email_marketing", "withdraw", "officer")
    assert (
        _consent(
            http, subject, officer, "email_marketing", "grant", "officer", evidence="letter-2026-17"
        ).status_code
        == 201
    )
    assert _consent(http, subject, marketing, "email_marketing", "withdraw").status_code == 201

    regrant = _consent(http, subject, marketing, "email_marketing", "grant")

    assert regrant.status_code == 201, regrant.get_json()
    assert _current(http, subject, marketing, "email_marketing")["processable"] is True
