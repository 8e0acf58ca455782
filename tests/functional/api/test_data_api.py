"""The policy API's contract beyond the matrix: bad input is a clear 4xx that writes nothing,
explanations, lookups by email, the PII check of free-text writes, and the audit trail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from audit.events import Actor
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from tests.conftest import bearer

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.api@mail.example",
    "phone": "+12015550123",
    "city": "Exampleville",
    "country": "US",
    "language": "en",
}


@pytest.fixture
def support(issue_key):
    return bearer(issue_key("application", "customer_support"))


@pytest.fixture
def ada(runtime, session) -> str:
    customer = runtime.record_store(session).create("customers", CUSTOMER).id
    session.commit()
    return customer


def count(runtime, session, collection: str) -> int:
    table = runtime.tables[collection]
    return session.scalar(select(func.count()).select_from(table))


def audit_documents(runtime, session) -> list[dict]:
    runtime.audit.integrate(session)
    return [e.document for e in runtime.audit.events(session, limit=500)]


# -- bad input: a clear 4xx, nothing written ---------------------------------------------


def test_an_unknown_collection_is_404(http, support) -> None:
    response = http.get("/v1/data/leads?purpose=customer_support", headers=support)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_an_unknown_field_in_fields_is_422_naming_it(http, support, ada) -> None:
    response = http.get(
        f"/v1/data/customers/{ada}?purpose=customer_support&fields=email,shoe_size", headers=support
    )
    assert response.status_code == 422
    assert "shoe_size" in response.get_json()["errors"]


def test_a_denied_field_named_in_fields_is_403_with_the_reason(http, support, ada) -> None:
    response = http.get(
        f"/v1/data/customers/{ada}?purpose=customer_support&fields=email,date_of_birth",
        headers=support,
    )
    assert response.status_code == 403
    body = response.get_json()
    assert body["reason"] == "field"
    assert "date_of_birth" in body["detail"] and "no-demographics" in body["detail"]


def test_a_purpose_the_client_does_not_have_is_403(http, support, ada) -> None:
    response = http.get(f"/v1/data/customers/{ada}?purpose=email_marketing", headers=support)
    assert response.status_code == 403 and response.get_json()["reason"] == "purpose"


def test_a_missing_purpose_is_422_naming_the_parameter(http, support, ada) -> None:
    response = http.get(f"/v1/data/customers/{ada}", headers=support)
    assert response.status_code == 422 and "purpose" in json.dumps(response.get_json()["errors"])


@pytest.mark.parametrize("cursor", ["not-ours!", "eyJhZnRlciI6IDV9"])  # garbage; {"after": 5}
def test_a_malformed_cursor_is_400(http, support, cursor) -> None:
    response = http.get(
        f"/v1/data/customers?purpose=customer_support&cursor={cursor}", headers=support
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_write_with_a_wrong_type_is_422_and_writes_nothing(
    http, support, runtime, session
) -> None:
    before = count(runtime, session, "customers")
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        json={**{k: v for k, v in CUSTOMER.items() if k != "phone"}, "first_name": 42},
        headers=support,
    )
    assert response.status_code == 422
    assert "first_name" in response.get_json()["errors"]
    assert count(runtime, session, "customers") == before


def test_a_write_of_an_undeclared_field_is_422_and_writes_nothing(
    http, support, runtime, session
) -> None:
    before = count(runtime, session, "customers")
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        json={
            "first_name": "A",
            "last_name": "B",
            "email": "x@mail.example",
            "ada.lovelace@mail.example": 1,
        },
        headers=support,
    )
    assert response.status_code == 422
    assert "ada.lovelace" not in response.get_data(as_text=True)
    assert count(runtime, session, "customers") == before


@pytest.mark.parametrize("issued", [{"id": "0" * 32}, {"subject_id": "0" * 32}])
def test_a_create_naming_an_id_the_store_issues_is_422_and_writes_nothing(
    http, support, runtime, session, issued
) -> None:
    before = count(runtime, session, "customers")
    response = http.post(
        "/v1/data/customers?purpose=customer_support", json={**CUSTOMER, **issued}, headers=support
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json()["errors"]) == set(issued)
    assert count(runtime, session, "customers") == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param("{", 400, id="malformed-json"),
        pytest.param("[]", 422, id="a-list"),
        pytest.param("{}", 422, id="empty"),
        pytest.param('{"city": 5}', 422, id="wrong-type"),
        pytest.param('{"no_such_field": 1}', 422, id="undeclared-field"),
    ],
)
def test_a_bad_patch_is_refused_and_changes_nothing(
    http, support, ada, runtime, session, body, status
) -> None:
    path = f"/v1/data/customers/{ada}?purpose=customer_support"
    before = http.get(path, headers=support).get_json()

    response = http.patch(path, data=body, content_type="application/json", headers=support)

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert http.get(path, headers=support).get_json() == before


def test_a_write_of_a_field_the_purpose_may_not_write_is_403(
    http, support, ada, runtime, session
) -> None:
    response = http.patch(
        f"/v1/data/customers/{ada}?purpose=customer_support",
        json={"date_of_birth": "1980-01-01"},
        headers=support,
    )
    assert response.status_code == 403 and response.get_json()["reason"] == "field"
    assert runtime.record_store(session).get("customers", ada).values["date_of_birth"] is None


def test_an_oversized_body_is_413_and_writes_nothing(http, support, runtime, session) -> None:
    before = count(runtime, session, "customers")
    huge = "x" * (runtime.settings.max_request_bytes + 1)
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        data=json.dumps({"first_name": huge}),
        content_type="application/json",
        headers=support,
    )
    assert response.status_code == 413
    assert count(runtime, session, "customers") == before


def test_a_body_that_is_not_json_is_415_and_writes_nothing(http, support, runtime, session) -> None:
    before = count(runtime, session, "customers")
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        data="first_name=Ada",
        content_type="application/x-www-form-urlencoded",
        headers=support,
    )
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert count(runtime, session, "customers") == before


def test_reading_a_missing_record_is_404(http, support) -> None:
    response = http.get(
        "/v1/data/customers/" + "0" * 32 + "?purpose=customer_support", headers=support
    )
    assert response.status_code == 404


# -- what works ----------------------------------------------------------------------------


def test_create_then_read_back_through_policy(http, support, runtime, session) -> None:
    created = http.post(
        "/v1/data/customers?purpose=customer_support", json=CUSTOMER, headers=support
    )
    assert created.status_code == 201
    record_id = created.get_json()["id"]

    read = http.get(f"/v1/data/customers/{record_id}?purpose=customer_support", headers=support)

    assert read.status_code == 200
    assert read.get_json()["email"] == "ada.api@mail.example"
    assert read.get_json()["phone"] == "****0123"


def test_explain_gives_every_field_its_effect_and_reason_and_the_policy_version(
    http, support, ada, runtime
) -> None:
    response = http.get(
        f"/v1/data/customers/{ada}?purpose=customer_support&explain=true", headers=support
    )
    body = response.get_json()
    assert set(body) == {"record", "decision"}  # the decision beside the record
    assert body["record"]["id"] == ada and "decision" not in body["record"]
    decision = body["decision"]
    assert decision["policy_version"] == runtime.policy.version
    assert decision["fields"]["phone"] == {
        "effect": "mask",
        "mask": "last4",
        "rule": "customer_support/phone-last4",
        "reason": "field phone: masked last4 by rule customer_support/phone-last4",
    }
    assert decision["fields"]["date_of_birth"]["effect"] == "deny"
    assert decision["fields"]["job_title"]["reason"] == (
        "field job_title: no rule of purpose customer_support allows it"
    )


def test_a_customer_is_found_by_email_through_the_blind_index(http, support, ada) -> None:
    response = http.get(
        "/v1/data/customers?purpose=customer_support&email=ADA.API@mail.example", headers=support
    )
    assert [item["id"] for item in response.get_json()["items"]] == [ada]


def test_a_purpose_that_cannot_see_emails_cannot_probe_them_by_filter(http, issue_key, ada) -> None:
    analytics = bearer(issue_key("application", "analytics"))
    response = http.get(
        "/v1/data/customers?purpose=analytics&email=ada.api@mail.example", headers=analytics
    )
    assert response.status_code == 403 and response.get_json()["reason"] == "field"


def test_pagination_covers_every_processable_record_once(http, support, runtime, session) -> None:
    store = runtime.record_store(session)
    made = {
        store.create("customers", {**CUSTOMER, "email": f"p{n}@mail.example"}).id for n in range(7)
    }
    session.commit()
    seen, cursor = [], None
    while True:
        url = "/v1/data/customers?purpose=customer_support&limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        body = http.get(url, headers=support).get_json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_consent_withdrawn_then_granted_closes_and_reopens_the_door(
    http, issue_key, runtime, session, ada
) -> None:
    marketing = bearer(issue_key("application", "email_marketing"))
    consent = ConsentService(session, runtime, Actor("cli:test", "operator"))
    url = f"/v1/data/customers/{ada}?purpose=email_marketing"
    assert http.get(url, headers=marketing).status_code == 403

    version = runtime.policy.version
    consent.record_consent(
        ada, "email_marketing", ConsentAction.GRANT, ConsentSource.WEB_FORM, version
    )
    session.commit()
    assert http.get(url, headers=marketing).status_code == 200

    consent.record_consent(
        ada, "email_marketing", ConsentAction.WITHDRAW, ConsentSource.API, version
    )
    session.commit()
    denied = http.get(url, headers=marketing)
    assert denied.status_code == 403 and denied.get_json()["reason"] == "consent"
    assert (
        "consent withdrawn" in denied.get_json()["detail"]
        and "via api" in denied.get_json()["detail"]
    )


# -- free text through the PII check -----------------------------------------------------------


def test_free_text_with_undeclared_pii_is_redacted_when_the_policy_says_redact(
    http, support, ada, runtime, session
) -> None:
    response = http.post(
        "/v1/data/support_tickets?purpose=customer_support",
        json={
            "subject_id": ada,
            "ticket_type": "billing",
            "opened_at": "2026-01-02T03:04:05Z",
            "description": "Please reply to grace.other@mail.example about my refund.",
        },
        headers=support,
    )
    assert response.status_code == 201
    assert response.get_json()["redacted_fields"] == ["description"]
    stored = runtime.record_store(session).get("support_tickets", response.get_json()["id"])
    assert "grace.other@mail.example" not in stored.values["description"]
    assert "<EMAIL_ADDRESS>" in stored.values["description"]

    changed = http.patch(
        f"/v1/data/support_tickets/{response.get_json()['id']}?purpose=customer_support",
        json={"resolution": "Refund sent, confirmed by grace.other@mail.example"},
        headers=support,
    )
    assert changed.status_code == 200 and changed.get_json()["redacted_fields"] == ["resolution"]
    clean = http.post(
        "/v1/data/support_tickets?purpose=customer_support",
        json={
            "subject_id": ada,
            "ticket_type": "billing",
            "opened_at": "2026-01-02T03:04:05Z",
            "description": "The invoice total looks wrong.",
        },
        headers=support,
    )
    assert "redacted_fields" not in clean.get_json()


@pytest.fixture
def refusing_http(runtime, tmp_path):
    """The app under a copy of the policies where the support desk refuses PII in free text."""
    import dataclasses
    import shutil

    from api import create_app
    from policies.loader import load_policy_set

    shutil.copytree(runtime.settings.policy_dir, tmp_path / "policies")
    access = tmp_path / "policies" / "access.yaml"
    access.write_text(
        access.read_text().replace(
            "customer_support:\n    free_text_pii: redact",
            "customer_support:\n    free_text_pii: refuse",
        )
    )
    policy = load_policy_set(tmp_path / "policies")
    refusing = dataclasses.replace(runtime, policy=policy, decisions=None, _masker=None)
    return create_app(runtime=refusing, background_integrator=False).test_client()


def test_free_text_with_undeclared_pii_is_refused_422_when_the_policy_says_refuse(
    refusing_http, support, ada, runtime, session
) -> None:
    before = count(runtime, session, "support_tickets")
    response = refusing_http.post(
        "/v1/data/support_tickets?purpose=customer_support",
        json={
            "subject_id": ada,
            "ticket_type": "billing",
            "opened_at": "2026-01-02T03:04:05Z",
            "description": "Please reply to grace.other@mail.example about my refund.",
        },
        headers=support,
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "EMAIL_ADDRESS" in text and "grace.other" not in text
    assert count(runtime, session, "support_tickets") == before


def test_marketing_feedback_with_personal_data_is_refused_by_the_shipped_policy(
    http, issue_key, runtime, session, ada
) -> None:
    """The shipped policy's email_marketing purpose refuses PII in free text: the path an
    application developer meets on the demo with demo-marketing-app."""
    marketing = bearer(issue_key("application", "email_marketing"))
    ConsentService(session, runtime, Actor("cli:test", "operator")).record_consent(
        ada, "email_marketing", ConsentAction.GRANT, ConsentSource.WEB_FORM, runtime.policy.version
    )
    session.commit()
    before = count(runtime, session, "campaign_responses")
    url = "/v1/data/campaign_responses?purpose=email_marketing"
    record = {"subject_id": ada, "campaign_code": "SPRING-26", "sent_at": "2026-03-01T09:00:00Z"}
    refused = http.post(
        url,
        headers=marketing,
        json={**record, "feedback": "Ask Grace Hopper to call me on +1 415 555 0142."},
    )
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "Grace" not in refused.get_data(as_text=True)
    assert count(runtime, session, "campaign_responses") == before
    kept = http.post(url, headers=marketing, json={**record, "feedback": "Too many e-mails."})
    assert kept.status_code == 201 and "redacted_fields" not in kept.get_json()


# -- audit ------------------------------------------------------------------------------------


def test_a_read_is_audited_with_purpose_fields_masks_and_policy_version(
    http, support, ada, runtime, session
) -> None:
    http.get(f"/v1/data/customers/{ada}?purpose=customer_support", headers=support)

    event = [d for d in audit_documents(runtime, session) if d["action"] == "data.read"][-1]
    assert event["purpose"] == "customer_support"
    assert event["target"] == {"collection": "customers", "record_id": ada, "subject_id": ada}
    assert "email" in event["details"]["fields"] and event["details"]["masked_fields"] == [
        "phone",
        "street",
        "postal_code",
    ]
    assert event["policy_version"] == runtime.policy.version
    assert "ada.api" not in json.dumps(event)


def test_a_denial_is_audited_with_its_reason(http, issue_key, ada, runtime, session) -> None:
    marketing = bearer(issue_key("application", "email_marketing"))
    http.get(f"/v1/data/customers/{ada}?purpose=email_marketing", headers=marketing)

    event = [d for d in audit_documents(runtime, session) if d["action"] == "data.read"][-1]
    assert event["outcome"] == "denied" and event["reason"] == "denied: consent"
    assert event["purpose"] == "email_marketing" and event["details"]["http_status"] == 403


def test_a_denial_for_a_value_sent_in_place_of_an_id_keeps_the_value_out_of_the_log(
    http, issue_key, runtime, session
) -> None:
    marketing = bearer(issue_key("application", "email_marketing"))
    iban = "DE89370400440532013000"
    http.get(f"/v1/data/customers/{iban}?purpose=jane_doe", headers=marketing)

    event = [d for d in audit_documents(runtime, session) if d["action"] == "data.read"][-1]
    assert event["outcome"] == "denied"
    assert iban not in json.dumps(event) and "jane_doe" not in json.dumps(event)


def test_a_list_is_audited_with_a_count_and_a_digest(http, support, ada, runtime, session) -> None:
    http.get("/v1/data/customers?purpose=customer_support", headers=support)
    event = [d for d in audit_documents(runtime, session) if d["action"] == "data.listed"][-1]
    assert event["details"]["count"] >= 1 and len(event["details"]["digest"]) == 64


def test_an_erased_subjects_email_coming_back_is_told_to_the_officer_not_the_application(
    http, support, issue_key, runtime, session
) -> None:
    """Issue 26 item 4: a flag in the application's answer let any app test whether a
    person was erased. The application's answer is the same as for anyone; the match is
    audited against the new subject and shown to compliance officers."""
    from datetime import UTC, datetime

    from governance.requests.models import ErasureSuppression

    index = runtime.crypto.blind_index("customers", "email", "returned@mail.example")
    session.add(ErasureSuppression(email_bidx=index, created_at=datetime.now(UTC)))
    session.commit()

    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        json={**CUSTOMER, "email": "Returned@mail.example"},
        headers=support,
    )
    other = http.post(
        "/v1/data/customers?purpose=customer_support",
        json={**CUSTOMER, "email": "new.person@mail.example"},
        headers=support,
    )

    assert response.status_code == other.status_code == 201
    assert set(response.get_json()) == set(other.get_json()) == {"id"}
    returned = response.get_json()["id"]
    matched = [
        d for d in audit_documents(runtime, session) if d["action"] == "request.suppression.matched"
    ]
    assert len(matched) == 1
    assert matched[0]["target"]["record_id"] == matched[0]["target"]["subject_id"] == returned
    assert "returned@" not in json.dumps(matched)
    officer = bearer(issue_key("compliance_officer"))
    [shown] = http.get(f"/v1/subjects?id={returned}", headers=officer).get_json()["items"]
    [unflagged] = http.get(f"/v1/subjects?id={other.get_json()['id']}", headers=officer).get_json()[
        "items"
    ]
    assert shown["matches_erased_subject"] is True
    assert unflagged["matches_erased_subject"] is False


def test_the_created_record_schema_carries_no_erasure_flag(http) -> None:
    schemas = http.get("/openapi.json").get_json()["components"]["schemas"]
    created = [s for name, s in schemas.items() if name.startswith("Created")]
    assert created and all("flags" not in s.get("properties", {}) for s in created)


def test_a_subject_filter_shaped_like_an_email_is_422_and_never_echoed(http, support) -> None:
    response = http.get(
        "/v1/data/support_tickets?purpose=customer_support&subject_id=ada.lovelace@mail.example",
        headers=support,
    )
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "subject_id" in response.get_json()["errors"]
    assert "ada.lovelace" not in response.get_data(as_text=True)


def test_a_record_id_shaped_like_an_email_is_404_and_never_echoed(
    http, support, runtime, session
) -> None:
    response = http.get(
        "/v1/data/customers/ada.lovelace@mail.example?purpose=customer_support", headers=support
    )
    assert response.status_code == 404
    assert "ada.lovelace" not in response.get_data(as_text=True)
    leaves = json.dumps(audit_documents(runtime, session))
    assert "ada.lovelace" not in leaves  # the refusal is audited without the raw id


@pytest.mark.parametrize(
    "email", ["not an email", "a@b", "ada\x00@mail.example", "@mail.example", "two@@mail.example"]
)
def test_a_customer_whose_email_is_not_an_email_is_422_and_writes_nothing(
    http, support, runtime, session, email
) -> None:
    before = count(runtime, session, "customers")
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        json={**{k: v for k, v in CUSTOMER.items() if k != "phone"}, "email": email},
        headers=support,
    )
    assert response.status_code == 422
    assert "email" in response.get_json()["errors"]
    assert email not in response.get_data(as_text=True)
    assert count(runtime, session, "customers") == before


def test_a_nul_byte_in_any_string_field_is_422(http, support, runtime, session) -> None:
    response = http.post(
        "/v1/data/customers?purpose=customer_support",
        json={**{k: v for k, v in CUSTOMER.items() if k != "phone"}, "first_name": "Ada\x00"},
        headers=support,
    )
    assert response.status_code == 422
    assert "first_name" in response.get_json()["errors"]


@pytest.mark.parametrize("status", ["in_progress", "failed"])
def test_a_subject_whose_erasure_is_executing_is_served_for_no_purpose(
    http, support, issue_key, ada, session, status
) -> None:
    from governance.requests.models import DsrRequest

    officer = bearer(issue_key("compliance_officer"))
    assert (
        http.get(f"/v1/data/customers/{ada}?purpose=customer_support", headers=support).status_code
        == 200
    )
    made = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": ada}},
    ).get_json()
    http.post(f"/v1/requests/{made['id']}/verify", headers=officer, json={"method": "email code"})
    request = session.get(DsrRequest, made["id"])
    request.status = status  # the executor's first step sets in_progress; a blip, failed
    session.commit()

    by_id = http.get(f"/v1/data/customers/{ada}?purpose=customer_support", headers=support)
    listed = http.get("/v1/data/customers?purpose=customer_support&limit=500", headers=support)

    assert by_id.status_code == 403
    assert by_id.get_json()["reason"] == "erasure"
    assert ada not in {r["id"] for r in listed.get_json()["items"]}
