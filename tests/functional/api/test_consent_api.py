"""The consent HTTP API: /v1/purposes and /v1/subjects/{id}/consents|objections|restriction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from audit.models import audit_entries
from governance.consent.models import ConsentEvent, ConsentRestriction, ConsentState
from governance.runtime import Runtime
from tests.conftest import bearer
from tests.functional.consent.conftest import add_subjects

PROBLEM = "application/problem+json"
NOTICE = "notice-2026-01"
LEGAL_BASES = {
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
}


@pytest.fixture
def subject(sessions: sessionmaker[Session], runtime: Runtime) -> str:
    with sessions() as s:
        (sid,) = add_subjects(s, runtime, 1)
        s.commit()
    return sid


@pytest.fixture
def app_key(issue_key) -> str:  # noqa: ANN001
    return issue_key("application", "email_marketing")


@pytest.fixture
def officer_key(issue_key) -> str:  # noqa: ANN001
    return issue_key("compliance_officer")


def grant(purpose: str = "email_marketing", **extra: Any) -> dict[str, Any]:
    # No source: the gateway records it from the caller's key.
    return {"purpose": purpose, "action": "grant", "policy_version": NOTICE, **extra}


def post(http, path: str, key: str, body: Any, **headers: str):  # noqa: ANN001, ANN201
    return http.post(path, headers={**bearer(key), **headers}, json=body)


def consents(http, sid: str, key: str) -> dict[str, Any]:  # noqa: ANN001
    response = http.get(f"/v1/subjects/{sid}/consents", headers=bearer(key))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stored(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (ConsentEvent, ConsentState, ConsentRestriction)
        )


def audit_actions(sessions: sessionmaker[Session], sid: str) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(audit_entries.c.action)
                .where(audit_entries.c.subject_id == sid)
                .order_by(audit_entries.c.id)
            )
        )


# -- purposes -----------------------------------------------------------------------------


def test_purposes_are_listed_with_basis_use_and_ccpa_flags(http, app_key: str) -> None:  # noqa: ANN001
    response = http.get("/v1/purposes", headers=bearer(app_key))

    assert response.status_code == 200
    items = {p["id"]: p for p in response.get_json()["items"]}
    assert {"customer_support", "email_marketing", "third_party_sharing"} <= set(items)
    for item in items.values():
        assert {
            "id",
            "description",
            "legal_basis",
            "data_use",
            "sells_or_shares",
            "sensitive",
        } <= set(item)
        assert item["legal_basis"] in LEGAL_BASES
    assert items["third_party_sharing"]["sells_or_shares"] is True
    assert items["email_marketing"]["legal_basis"] == "consent"


def test_an_auditor_cannot_read_purposes(http, issue_key) -> None:  # noqa: ANN001
    response = http.get("/v1/purposes", headers=bearer(issue_key("auditor")))

    assert response.status_code == 403


# -- writing and reading consent --------------------------------------------------------


def test_a_grant_is_recorded_and_read_back(
    http, app_key: str, officer_key: str, subject: str
) -> None:  # noqa: ANN001
    response = post(
        http, f"/v1/subjects/{subject}/consents", app_key, grant(evidence="form-submission:1234")
    )

    assert response.status_code == 201, response.get_json()
    event = response.get_json()
    assert {
        k: event[k]
        for k in ("subject_id", "purpose", "action", "source", "policy_version", "evidence")
    } == {
        "subject_id": subject,
        "purpose": "email_marketing",
        "action": "grant",
        "source": "api",
        "policy_version": NOTICE,
        "evidence": "form-submission:1234",
    }
    assert event["gpc_opt_outs"] == []
    body = consents(http, subject, officer_key)
    assert body["current"]["email_marketing"]["status"] == "granted"
    assert body["current"]["email_marketing"]["source"] == "api"
    assert body["current"]["email_marketing"]["processable"] is True
    assert body["current"]["personalised_recommendations"]["status"] == "none"
    assert body["restricted"] is False
    assert [e["id"] for e in body["history"]] == [event["id"]]


def test_withdraw_then_grant_again_over_http(
    http, app_key: str, officer_key: str, subject: str
) -> None:  # noqa: ANN001
    path = f"/v1/subjects/{subject}/consents"
    for action in ("grant", "withdraw", "grant", "withdraw"):
        assert post(http, path, app_key, grant(action=action)).status_code == 201
        assert consents(http, subject, officer_key)["current"]["email_marketing"]["status"] == (
            "granted" if action == "grant" else "withdrawn"
        )

    assert len(consents(http, subject, officer_key)["history"]) == 4


def test_the_gpc_header_opts_out_of_exactly_the_selling_purposes(
    http,
    app_key: str,
    officer_key: str,
    subject: str,  # noqa: ANN001
) -> None:
    path = f"/v1/subjects/{subject}/consents"
    post(http, path, app_key, grant("third_party_sharing"))

    response = post(http, path, app_key, grant(), **{"Sec-GPC": "1"})

    assert response.status_code == 201
    opt_outs = response.get_json()["gpc_opt_outs"]
    selling = {
        p["id"]
        for p in http.get("/v1/purposes", headers=bearer(app_key)).get_json()["items"]
        if p["sells_or_shares"]
    }
    assert {e["purpose"] for e in opt_outs} == selling
    assert {(e["action"], e["source"]) for e in opt_outs} == {("withdraw", "gpc")}
    current = consents(http, subject, officer_key)["current"]
    assert current["third_party_sharing"]["status"] == "withdrawn"
    assert current["third_party_sharing"]["source"] == "gpc"
    assert current["email_marketing"]["status"] == "granted"
    assert {p for p, c in current.items() if c["source"] == "gpc"} == selling


def test_without_the_gpc_header_nothing_is_opted_out(http, app_key: str, subject: str) -> None:  # noqa: ANN001
    response = post(http, f"/v1/subjects/{subject}/consents", app_key, grant(), **{"Sec-GPC": "0"})

    assert response.get_json()["gpc_opt_outs"] == []


# -- bad input: 4xx problem+json and nothing written ------------------------------------


BAD_CONSENT_WRITES = [
    pytest.param(grant("no_such_purpose"), 422, "unknown-purpose", id="unknown-purpose"),
    pytest.param(grant(action="object"), 422, "validation", id="action-object"),
    pytest.param(grant(action="delete"), 422, "validation", id="action-unknown"),
    pytest.param(
        {k: v for k, v in grant().items() if k != "action"}, 422, "validation", id="action-missing"
    ),
    pytest.param(grant("billing"), 422, "consent-not-applicable", id="grant-contract-purpose"),
    pytest.param(
        grant("analytics", action="withdraw"),
        422,
        "consent-not-applicable",
        id="withdraw-legitimate-interest",
    ),
    pytest.param(grant(source="gpc"), 422, "validation", id="source-gpc-claimed"),
    pytest.param(
        grant(source="officer"), 422, "invalid-consent-event", id="application-claims-officer"
    ),
    pytest.param(grant(source="carrier_pigeon"), 422, "validation", id="source-unknown"),
    pytest.param(
        {k: v for k, v in grant().items() if k != "policy_version"},
        422,
        "validation",
        id="notice-version-missing",
    ),
    pytest.param(
        grant(policy_version="the one from May"), 422, "validation", id="notice-version-with-spaces"
    ),
    pytest.param(
        grant(evidence="ana.lopez@mail.example"), 422, "validation", id="evidence-is-an-email"
    ),
    pytest.param(grant(email="ana.lopez@mail.example"), 422, "validation", id="unknown-key"),
    pytest.param([grant()], 422, "validation", id="body-is-a-list"),
    pytest.param(grant(purpose=7), 422, "validation", id="purpose-not-a-string"),
]


@pytest.mark.parametrize(("body", "status", "slug"), BAD_CONSENT_WRITES)
def test_a_bad_consent_write_is_refused_and_writes_nothing(
    http,
    app_key: str,
    subject: str,
    sessions,
    body: Any,
    status: int,
    slug: str,  # noqa: ANN001
) -> None:
    before = stored(sessions)

    response = post(http, f"/v1/subjects/{subject}/consents", app_key, body, **{"Sec-GPC": "1"})

    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"].endswith("/" + slug)
    assert "ana.lopez" not in json.dumps(problem)
    assert stored(sessions) == before
    assert audit_actions(sessions, subject) == []


@pytest.mark.parametrize("sid", ["0" * 32, "ana.lopez@mail.example"], ids=["unknown", "an-email"])
def test_an_unknown_subject_is_404_and_never_echoed(http, app_key: str, sessions, sid: str) -> None:  # noqa: ANN001
    before = stored(sessions)

    writes = post(http, f"/v1/subjects/{sid}/consents", app_key, grant())
    reads = http.get(f"/v1/subjects/{sid}/consents", headers=bearer(app_key))

    for response in (writes, reads):
        assert response.status_code == 404
        assert response.get_json()["type"].endswith("/unknown-subject")
        assert sid not in response.get_data(as_text=True)
    assert stored(sessions) == before


def test_a_body_that_is_not_json_is_415(http, app_key: str, subject: str, sessions) -> None:  # noqa: ANN001
    before = stored(sessions)

    response = http.post(
        f"/v1/subjects/{subject}/consents",
        data="purpose=email_marketing",
        headers={**bearer(app_key), "Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert stored(sessions) == before


# -- objection and restriction ------------------------------------------------------------


def test_an_objection_is_recorded_and_stops_the_purpose(http, issue_key, subject: str) -> None:  # noqa: ANN001
    path = f"/v1/subjects/{subject}/objections"
    app_key = issue_key("application", "email_marketing", "analytics")  # lifting needs it

    response = post(http, path, app_key, {"purpose": "analytics", "action": "object"})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["action"] == "object"
    analytics = consents(http, subject, app_key)["current"]["analytics"]
    assert (analytics["status"], analytics["processable"]) == ("objected", False)
    lifted = post(http, path, app_key, {"purpose": "analytics", "action": "lift"})
    assert lifted.status_code == 201
    assert consents(http, subject, app_key)["current"]["analytics"]["processable"] is True


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        pytest.param(
            {"purpose": "billing", "action": "object"},
            422,
            "objection-not-applicable",
            id="contract-purpose",
        ),
        pytest.param(
            {"purpose": "analytics", "action": "lift"},
            409,
            "not-objected",
            id="lift-without-objection",
        ),
        pytest.param(
            {"purpose": "analytics", "action": "grant"}, 422, "validation", id="wrong-action"
        ),
    ],
)
def test_a_bad_objection_is_refused_and_writes_nothing(
    http,
    app_key: str,
    subject: str,
    sessions,
    body: dict,
    status: int,
    slug: str,  # noqa: ANN001
) -> None:
    before = stored(sessions)

    response = post(http, f"/v1/subjects/{subject}/objections", app_key, body)

    assert response.status_code == status
    assert response.get_json()["type"].endswith("/" + slug)
    assert stored(sessions) == before


def test_a_restricted_subject_is_processable_only_by_exempt_purposes_over_http(
    http,
    app_key: str,
    officer_key: str,
    subject: str,  # noqa: ANN001
) -> None:
    path = f"/v1/subjects/{subject}/consents"
    for purpose in ("email_marketing", "personalised_recommendations", "third_party_sharing"):
        post(http, path, app_key, grant(purpose))

    response = post(
        http,
        f"/v1/subjects/{subject}/restriction",
        officer_key,
        {"action": "restrict", "source": "officer", "evidence": "request:42"},
    )

    assert response.status_code == 201, response.get_json()
    body = consents(http, subject, officer_key)
    assert body["restricted"] is True
    assert body["restriction"]["source"] == "officer"
    processable = {p for p, c in body["current"].items() if c["processable"]}
    assert processable == {"record_keeping", "legal_claims"}
    assert "restricted" in body["current"]["email_marketing"]["reason"]
    lifted = post(
        http,
        f"/v1/subjects/{subject}/restriction",
        officer_key,
        {"action": "lift", "source": "officer"},
    )
    assert lifted.status_code == 201
    assert consents(http, subject, officer_key)["restricted"] is False


def test_an_application_cannot_restrict(http, app_key: str, subject: str, sessions) -> None:  # noqa: ANN001
    before = stored(sessions)

    response = post(
        http,
        f"/v1/subjects/{subject}/restriction",
        app_key,
        {"action": "restrict", "source": "api"},
    )

    assert response.status_code == 403
    assert stored(sessions) == before


def test_lifting_an_absent_restriction_is_409(http, officer_key: str, subject: str) -> None:  # noqa: ANN001
    response = post(
        http,
        f"/v1/subjects/{subject}/restriction",
        officer_key,
        {"action": "lift", "source": "officer"},
    )

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/not-restricted")


# -- audit and OpenAPI --------------------------------------------------------------------


def test_every_event_and_read_appears_in_the_audit_log(
    http,
    issue_key,
    officer_key: str,
    subject: str,
    sessions,  # noqa: ANN001
) -> None:
    app_key = issue_key("application", "email_marketing", "churn_prediction")  # it objects to
    post(http, f"/v1/subjects/{subject}/consents", app_key, grant(), **{"Sec-GPC": "1"})
    post(
        http,
        f"/v1/subjects/{subject}/objections",
        app_key,
        {"purpose": "churn_prediction", "action": "object", "source": "api"},
    )
    post(
        http,
        f"/v1/subjects/{subject}/restriction",
        officer_key,
        {"action": "restrict", "source": "officer"},
    )
    consents(http, subject, officer_key)

    assert audit_actions(sessions, subject) == [
        "consent.withdrawn",
        "consent.granted",
        "consent.objected",
        "consent.restricted",
        "consent.read",
    ]
    with sessions() as s:
        leaves = [
            bytes(d).decode()
            for d in s.scalars(
                select(audit_entries.c.data).where(audit_entries.c.subject_id == subject)
            )
        ]
    assert all(NOTICE not in leaf for leaf in leaves)
    assert '"purpose":"email_marketing"' in leaves[1]


def test_the_openapi_document_describes_the_consent_endpoints(http) -> None:  # noqa: ANN001
    spec = http.get("/openapi.json").get_json()

    paths = spec["paths"]
    assert {
        "/v1/purposes",
        "/v1/subjects/{subject_id}/consents",
        "/v1/subjects/{subject_id}/objections",
        "/v1/subjects/{subject_id}/restriction",
    } <= set(paths)
    params = paths["/v1/subjects/{subject_id}/consents"]["post"]["parameters"]
    assert "Sec-GPC" in {p["name"] for p in params}


def test_the_openapi_document_says_the_gateway_decides_the_source(http) -> None:  # noqa: ANN001
    spec = http.get("/openapi.json").get_json()

    for path in (
        "/v1/subjects/{subject_id}/consents",
        "/v1/subjects/{subject_id}/objections",
        "/v1/subjects/{subject_id}/restriction",
    ):
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "$ref"
        ]
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert "source" not in schema.get("required", []), path
        assert schema["properties"]["source"]["deprecated"] is True, path
    description = spec["paths"]["/v1/subjects/{subject_id}/consents"]["post"]["description"]
    assert "`api` for an" in description
