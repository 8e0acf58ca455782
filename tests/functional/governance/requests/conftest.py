"""A subject with records in every collection related to it, and a runtime that runs
request execution inline (in the test's transaction)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.runtime import Runtime
from governance.store.services import RecordStore

OFFICER = Actor(id="officer-test", role="compliance_officer")


def subject_records(
    store: RecordStore, email: str | None = None, tag: str | None = None
) -> dict[str, list[str]]:
    """A customer with two of most owned records; returns collection -> record ids."""
    tag = tag or uuid.uuid4().hex[:8]
    company = store.create("companies", {"name": f"Example Works {tag}", "country": "ZZ"})
    customer = store.create(
        "customers",
        {
            "first_name": "Ada",
            "last_name": "Fictional",
            "email": email or f"ada.{tag}@mail.example",
            "phone": "+15555550123",
            "street": "1 Example Road",
            "city": "Exampleville",
            "postal_code": "00000",
            "country": "ZZ",
            "date_of_birth": "1990-04-01",
            "gender": "undisclosed",
            "language": "en",
            "job_title": "Test Engineer",
            "company_id": company.id,
        },
    )
    sid = customer.id
    ids: dict[str, list[str]] = {"customers": [sid]}

    def add(collection: str, values: dict[str, Any]) -> str:
        record_id = store.create(collection, values, subject_id=sid).id
        ids.setdefault(collection, []).append(record_id)
        return record_id

    for n in range(2):
        add(
            "interactions",
            {
                "kind": "email",
                "direction": "inbound",
                "occurred_at": f"2026-0{n + 1}-10T10:00:00Z",
                "summary": "Asked about delivery",
                "body": "Call me on my phone.",
                "outcome": "resolved",
            },
        )
        order = add(
            "orders",
            {
                "order_number": f"ORD-{tag}-{n}",
                "ordered_at": f"2026-0{n + 1}-12T09:00:00Z",
                "status": "paid",
                "channel": "web",
                "payment_method": "card",
                "currency": "EUR",
                "total_amount": "19.99",
                "shipping_city": "Exampleville",
                "shipping_postal_code": "00000",
            },
        )
        add(
            "order_lines",
            {
                "order_id": order,
                "product_sku": "SKU-1",
                "product_name": "Lamp",
                "quantity": 1,
                "unit_price": "19.99",
            },
        )
        add(
            "web_events",
            {
                "occurred_at": f"2026-0{n + 1}-11T08:00:00Z",
                "page": "/cart",
                "duration_seconds": 30,
                "device_id": "device-1",
                "ip_address": "192.0.2.1",
            },
        )
    add(
        "payment_details",
        {
            "method": "card",
            "card_brand": "visa",
            "card_last4": "4242",
            "card_expiry": "2030-01",
            "billing_city": "Exampleville",
        },
    )
    add(
        "support_tickets",
        {
            "ticket_type": "delivery",
            "priority": "normal",
            "opened_at": "2026-02-01T10:00:00Z",
            "description": "Parcel late",
            "status": "resolved",
            "resolution": "Resent",
            "satisfaction": 4,
        },
    )
    add(
        "campaign_responses",
        {
            "campaign_code": "CMP-1",
            "channel": "email",
            "sent_at": "2026-03-01T08:00:00Z",
            "opened": True,
            "clicked": False,
            "feedback": "Nice offer",
        },
    )
    return ids


@pytest.fixture
def inline_runtime(runtime: Runtime) -> Runtime:
    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    return dataclasses.replace(runtime, settings=settings, task_runner=None)


@pytest.fixture
def store(session: Session, runtime: Runtime) -> RecordStore:
    return runtime.record_store(session)
