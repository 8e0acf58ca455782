"""The policy read/write matrix: every purpose x every collection x a subject who consented,
one who did not, and one whose processing is restricted.

The oracle is written from the policy files, not from the code under test: which fields a
purpose may see (access.yaml, compiled), and who may be processed (purposes.yaml: consent
needs a grant, a restriction stops all but the exempt purposes)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from audit.events import Actor
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from policies.access import SYSTEM_FIELDS, Effect, Mask
from policies.types import Collection, Field, FieldType
from tests.conftest import bearer

EMAIL_IN_TEXT = "Customer wrote from someone.else@mail.example about the parcel."


def sample(field: Field, refs: dict[str, str]) -> Any:
    if field.references:
        return refs.get(field.references)
    if field.choices:
        return field.choices[0]
    match field.type:
        case FieldType.STRING:
            if field.category == "user.contact.email":
                return f"p{uuid.uuid4().hex[:8]}@mail.example"
            if field.category == "user.contact.phone_number":
                return "+12015550123"
            limit = field.max_length or 255
            return ("Sample " + field.name)[:limit] if limit > 4 else "AB12"[:limit]
        case FieldType.TEXT:
            return EMAIL_IN_TEXT
        case FieldType.INTEGER:
            return 3
        case FieldType.DECIMAL:
            return "12.50"
        case FieldType.BOOLEAN:
            return True
        case FieldType.DATE:
            return "1990-04-01"
        case FieldType.DATETIME:
            return "2026-01-02T03:04:05Z"
    raise AssertionError(field.type)


def values_for(collection: Collection, refs: dict[str, str]) -> dict[str, Any]:
    return {n: sample(f, refs) for n, f in collection.fields.items()}


@pytest.fixture
def world(runtime, session):
    """Three subjects with one record in every collection; their consent states."""
    store = runtime.record_store(session)
    datamap = runtime.policy.datamap
    consent = ConsentService(session, runtime, Actor("cli:test", "operator"))
    company = store.create("companies", values_for(datamap.collections["companies"], {})).id
    subjects: dict[str, dict[str, str]] = {}
    for label in ("granted", "none", "restricted"):
        refs = {"companies": company}
        customer = store.create("customers", values_for(datamap.collections["customers"], refs)).id
        refs["customers"] = customer
        records = {"customers": customer, "companies": company}
        for name in (
            "orders",
            "order_lines",
            "interactions",
            "payment_details",
            "support_tickets",
            "campaign_responses",
            "web_events",
        ):
            spec = datamap.collections[name]
            records[name] = store.create(name, values_for(spec, refs), subject_id=customer).id
            refs[name] = records[name]
        subjects[label] = records
        if label in ("granted", "restricted"):
            for purpose in runtime.policy.purposes:
                if purpose.requires_consent:
                    consent.record_consent(
                        customer,
                        purpose.id,
                        ConsentAction.GRANT,
                        ConsentSource.WEB_FORM,
                        runtime.policy.version,
                    )
        if label == "restricted":
            consent.restrict(customer, ConsentSource.OFFICER)
    session.commit()
    return subjects


def processable(runtime, purpose_id: str, label: str) -> bool:
    purpose = runtime.policy.purposes.get(purpose_id)
    if label == "restricted":
        return purpose.restriction_exemption is not None
    return label == "granted" or not purpose.requires_consent


def check_masked(mask: Mask, shown: Any, original: Any) -> None:
    if original is None:
        assert shown is None
        return
    match mask:
        case Mask.NULL:
            assert shown is None
        case Mask.LAST4:
            assert shown.startswith("****") and str(original).endswith(shown[4:])
            assert shown != original
        case Mask.HASH:
            assert len(shown) == 32 and int(shown, 16) >= 0 and shown != original
        case Mask.YEAR_ONLY:
            assert shown == str(original)[:4]
        case Mask.EMAIL_DOMAIN:
            assert shown.startswith("***@")
        case Mask.REDACT_PII:
            assert "someone.else@mail.example" not in shown


PURPOSES = [
    "customer_support",
    "order_fulfilment",
    "billing",
    "email_marketing",
    "personalised_recommendations",
    "analytics",
    "churn_prediction",
    "third_party_sharing",
    "record_keeping",
    "legal_claims",
]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_reads_return_only_allowed_fields_masked_and_only_processable_subjects(
    purpose, runtime, world, http, issue_key, session
) -> None:
    key = issue_key("application", purpose)
    store = runtime.record_store(session)
    datamap = runtime.policy.datamap
    for name, collection in datamap.collections.items():
        access = runtime.policy.access.access(purpose, name)
        decisions = access.read
        for label, records in world.items():
            record_id = records[name]
            one = http.get(f"/v1/data/{name}/{record_id}?purpose={purpose}", headers=bearer(key))
            listed = http.get(f"/v1/data/{name}?purpose={purpose}&limit=500", headers=bearer(key))
            if not access.readable:
                assert one.status_code == 403 and one.get_json()["reason"] == "collection"
                assert listed.status_code == 403
                continue
            owned = collection.is_subject or collection.has_subject_column
            ok = processable(runtime, purpose, label) or not owned
            assert listed.status_code == 200
            shown_ids = {i.get("id") for i in listed.get_json()["items"]}
            original = store.get(name, record_id).as_json()
            if owned:  # the subject's rows are kept or dropped inside the query
                mine = http.get(
                    f"/v1/data/{name}?purpose={purpose}&subject_id={records['customers']}",
                    headers=bearer(key),
                )
                subject_field = decisions["subject_id"]
                if subject_field.effect is Effect.ALLOW:
                    assert mine.status_code == 200
                    assert len(mine.get_json()["items"]) == (1 if ok else 0), (purpose, name, label)
                else:  # pseudonymised: filtering by a raw id is refused, the list shows hashes
                    assert mine.status_code == 403 and mine.get_json()["reason"] == "field"
                    hashed = runtime.masker().hash(record_id)
                    assert (hashed in shown_ids) == ok, (purpose, name, label)
            if decisions["id"].effect is not Effect.ALLOW:
                # ids shown hashed: no record is addressed by its raw id, processable or not
                assert one.status_code == 404, (purpose, name, label)
                continue
            if not ok:
                assert one.status_code == 403, (purpose, name, label)
                assert one.get_json()["reason"] in {"consent", "restriction", "objection"}
                continue
            assert one.status_code == 200, (purpose, name, label, one.get_json())
            body = one.get_json()
            allowed = {f for f, d in decisions.items() if d.returned}
            assert set(body) <= allowed | set(SYSTEM_FIELDS) | {"erased_fields"}
            for field_name, d in decisions.items():
                if d.returned and field_name not in SYSTEM_FIELDS:
                    assert field_name in body, (purpose, name, field_name)
                if not d.returned:
                    assert field_name not in body
                elif d.effect is Effect.MASK:
                    check_masked(d.mask, body.get(field_name), original.get(field_name))
                elif field_name in original:
                    assert body[field_name] == original[field_name]
            assert body["id"] in shown_ids  # the record is listed under the id it is read with
            if decisions["id"].effect is Effect.MASK:  # pseudonymised: no raw id anywhere
                text = json.dumps(body)
                assert not any(raw in text for raw in records.values()), (purpose, name)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_writes_succeed_only_for_writable_fields_of_processable_subjects(
    purpose, runtime, world, http, issue_key, session
) -> None:
    key = issue_key("application", purpose)
    store = runtime.record_store(session)
    datamap = runtime.policy.datamap
    for name, collection in datamap.collections.items():
        access = runtime.policy.access.access(purpose, name)
        for label, records in world.items():
            record_id = records[name]
            before = store.get(name, record_id).as_json()
            for field_name, spec in collection.fields.items():
                if spec.references or spec.type is FieldType.TEXT:
                    continue  # references and free text have their own tests
                new_value = _changed(spec, before.get(field_name))
                response = http.patch(
                    f"/v1/data/{name}/{record_id}?purpose={purpose}",
                    json={field_name: new_value},
                    headers=bearer(key),
                )
                owned = collection.is_subject or collection.has_subject_column
                ok = field_name in access.writable and (
                    processable(runtime, purpose, label) or not owned
                )
                after = store.get(name, record_id).as_json()
                if ok:
                    assert response.status_code == 200, (purpose, name, field_name, label)
                    before = after
                else:
                    assert response.status_code == 403, (purpose, name, field_name, label)
                    assert after == before  # nothing written


def _changed(field: Field, old: Any) -> Any:
    if field.choices:
        return field.choices[-1] if old != field.choices[-1] else field.choices[0]
    match field.type:
        case FieldType.STRING:
            if field.category == "user.contact.email":
                return f"changed{uuid.uuid4().hex[:6]}@mail.example"
            if field.category == "user.contact.phone_number":
                return "+12015550199"
            return (
                "CHG1"[: field.max_length or 255] if (field.max_length or 255) <= 4 else "Changed"
            )
        case FieldType.INTEGER:
            return 4
        case FieldType.DECIMAL:
            return str(Decimal("13.75"))
        case FieldType.BOOLEAN:
            return not old
        case FieldType.DATE:
            return date(1991, 5, 2).isoformat()
        case FieldType.DATETIME:
            return datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC).isoformat()
    raise AssertionError(field.type)
