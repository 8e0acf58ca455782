"""Rectification writes the corrections through the store's write path (validated, sealed,
audited) and keeps no corrected value once done."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.models import audit_entries
from governance.requests.errors import InvalidRequest
from governance.requests.failures import explanation
from governance.requests.services import RequestExecutor, RequestService
from governance.runtime import Runtime
from governance.store.errors import RecordNotFound
from governance.store.services import RecordStore
from tests.functional.governance.requests.conftest import OFFICER, subject_records


def test_corrections_are_applied_sealed_audited_and_then_forgotten(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    records = subject_records(store)
    sid = records["customers"][0]
    order = records["orders"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create(
        "rectification",
        "gdpr",
        {"subject_id": sid},
        {
            "corrections": [
                {
                    "collection": "customers",
                    "fields": {"last_name": "Corrected", "city": "Newtown"},
                },
                {
                    "collection": "orders",
                    "record_id": order,
                    "fields": {"shipping_postal_code": "11111"},
                },
            ]
        },
    )
    assert request.details == {
        "corrections": [
            {"collection": "customers", "record_id": None, "fields": ["city", "last_name"]},
            {"collection": "orders", "record_id": order, "fields": ["shipping_postal_code"]},
        ]
    }
    assert request.sealed_details is not None and b"Corrected" not in request.sealed_details
    service.verify(request.id, "account login")
    service.start(request.id)
    session.commit()

    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()

    assert service.get(request.id).status == "completed"
    customer = store.get("customers", sid)
    assert customer.values["last_name"] == "Corrected" and customer.values["city"] == "Newtown"
    assert store.get("orders", order).values["shipping_postal_code"] == "11111"
    table = runtime.tables["customers"]
    raw = session.execute(select(table.c.last_name).where(table.c.id == sid)).scalar_one()
    assert b"Corrected" not in bytes(raw)  # sealed like any write
    assert service.get(request.id).sealed_details is None
    rectified = (
        session.execute(
            select(audit_entries.c.data).where(
                audit_entries.c.action == "request.record.rectified",
                audit_entries.c.subject_id == sid,
            )
        )
        .scalars()
        .all()
    )
    assert len(rectified) == 2 and all(b"Corrected" not in bytes(d) for d in rectified)


def test_invalid_corrections_are_refused_at_intake(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    for details in (
        {"corrections": [{"collection": "customers", "fields": {"gender": "robot"}}]},
        {"corrections": [{"collection": "customers", "fields": {"nope": 1}}]},
        {"corrections": [{"collection": "orders", "fields": {"currency": "EUR"}}]},  # no id
        {"corrections": [{"collection": "companies", "record_id": "x", "fields": {"name": "A"}}]},
        {"corrections": []},
    ):
        with pytest.raises(InvalidRequest):
            service.create("rectification", "gdpr", {"subject_id": sid}, details)


def test_intake_refuses_a_correction_of_another_subjects_record_or_of_a_link(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    foreign = subject_records(store)["orders"][0]
    service = RequestService(session, runtime, OFFICER)
    with pytest.raises(InvalidRequest) as refused:
        service.create(
            "rectification",
            "gdpr",
            {"subject_id": sid},
            {
                "corrections": [
                    {
                        "collection": "orders",
                        "record_id": foreign,
                        "fields": {"shipping_city": "Elsewhere"},
                    }
                ]
            },
        )
    assert refused.value.extra["errors"] == {
        "corrections_0": ["record_id: no record of the subject has this id"]
    }
    with pytest.raises(InvalidRequest) as link:
        service.create(
            "rectification",
            "gdpr",
            {"subject_id": sid},
            {"corrections": [{"collection": "customers", "fields": {"company_id": foreign}}]},
        )
    assert list(link.value.extra["errors"]) == ["corrections_0.company_id"]


def test_intake_by_email_checks_the_records_of_the_subject_it_finds(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    email = f"ada.{uuid.uuid4().hex[:8]}@mail.example"
    subject_records(store, email=email)
    foreign = subject_records(store)["orders"][0]
    service = RequestService(session, runtime, OFFICER)
    with pytest.raises(InvalidRequest):
        service.create(
            "rectification",
            "gdpr",
            {"email": email},
            {
                "corrections": [
                    {
                        "collection": "orders",
                        "record_id": foreign,
                        "fields": {"shipping_city": "Elsewhere"},
                    }
                ]
            },
        )


def test_a_record_deleted_after_intake_fails_the_request_as_record_gone(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    records = subject_records(store)
    sid, ticket = records["customers"][0], records["support_tickets"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create(
        "rectification",
        "gdpr",
        {"subject_id": sid},
        {
            "corrections": [
                {
                    "collection": "support_tickets",
                    "record_id": ticket,
                    "fields": {"satisfaction": 4},
                }
            ]
        },
    )
    service.verify(request.id, "account login")
    service.start(request.id)
    table = runtime.tables["support_tickets"]
    session.execute(table.delete().where(table.c.id == ticket))
    session.commit()

    with pytest.raises(RecordNotFound):
        RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()
    failed = service.get(request.id)
    assert (failed.status, failed.error) == ("failed", "record_gone")
    assert "no longer exists" in (explanation(failed.error) or "")
    with pytest.raises(RecordNotFound):  # executing again cannot succeed ...
        service.start(request.id)
        session.commit()
        RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()
    rejected = service.reject(request.id, "The ticket is no longer held.")  # ... so it is closed
    assert rejected.status == "rejected"
