"""The record store against the migrated database: create, get, update and list records of
any collection the data map declares, and refuse what the map does not allow."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.store.errors import (
    InvalidRecord,
    RecordNotFound,
    UnknownCollection,
    UnknownFields,
)
from governance.store.schema import CrmTables
from governance.store.services import RecordStore

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.fictional@mail.example",
    "phone": "+15555550123",
    "street": "1 Example Road",
    "city": "Exampleville",
    "postal_code": "00000",
    "country": "ZZ",
    "date_of_birth": "1990-04-01",
    "gender": "undisclosed",
    "language": "en",
    "job_title": "Test Engineer",
}


@pytest.fixture
def tables(policy) -> CrmTables:  # noqa: ANN001
    return CrmTables(policy.datamap)


@pytest.fixture
def store(session: Session, policy, tables: CrmTables, crypto) -> RecordStore:  # noqa: ANN001
    return RecordStore(session, policy.datamap, tables, crypto)


def customer(store: RecordStore, n: int = 0, **changes: object) -> str:
    values = {**CUSTOMER, "email": f"person{n}@mail.example", **changes}
    return store.create("customers", values).id


# -- create and read -----------------------------------------------------------------------


def test_created_customer_reads_back_with_every_field(store: RecordStore) -> None:
    created = store.create("customers", CUSTOMER)

    fetched = store.get("customers", created.id)
    assert fetched.values == {**CUSTOMER, "company_id": None}
    assert created.values == fetched.values
    assert fetched.subject_id == created.id  # a subject's own id is its subject id
    assert fetched.created_at is not None and fetched.updated_at is not None
    assert fetched.as_json() == {"id": created.id, "subject_id": created.id, **fetched.values}


def test_typed_values_round_trip_as_json(store: RecordStore) -> None:
    subject = customer(store)
    company = store.create(
        "companies",
        {
            "name": "Example Widgets",
            "industry": "manufacturing",
            "employee_count": 120,
            "annual_revenue": 1234567.5,
            "country": "ZZ",
        },
    )
    order = store.create(
        "orders",
        {
            "order_number": "ORD-0001",
            "ordered_at": "2026-01-15T10:30:00+02:00",
            "total_amount": "99.9",
            "status": "paid",
            "shipping_postal_code": "00000",
        },
        subject_id=subject,
    )

    assert company.values["employee_count"] == 120
    assert company.values["annual_revenue"] == "1234567.50"
    assert company.subject_id is None
    assert order.subject_id == subject
    assert order.values["ordered_at"] == "2026-01-15T08:30:00Z"
    assert order.values["total_amount"] == "99.90"
    assert order.values["shipping_postal_code"] == "00000"


def test_a_record_can_refer_to_another_collection(store: RecordStore) -> None:
    company = store.create("companies", {"name": "Example Holdings"})

    created = store.create("customers", {**CUSTOMER, "company_id": company.id})

    assert store.get("customers", created.id).values["company_id"] == company.id


def test_a_reference_to_a_missing_record_is_invalid(store: RecordStore) -> None:
    with pytest.raises(InvalidRecord) as caught:
        store.create("customers", {**CUSTOMER, "company_id": "0" * 32})

    assert set(caught.value.extra["errors"]) == {"company_id"}


def test_fields_selects_only_those_fields(store: RecordStore) -> None:
    subject = customer(store)

    fetched = store.get("customers", subject, fields=["city", "email"])
    listed = store.list("customers", fields=["country"], subject_id=subject)

    assert fetched.values == {"city": "Exampleville", "email": "person0@mail.example"}
    assert [r.values for r in listed.items] == [{"country": "ZZ"}]
    assert listed.items[0].as_json() == {"id": subject, "subject_id": subject, "country": "ZZ"}


def test_selecting_an_undeclared_field_is_refused(store: RecordStore) -> None:
    subject = customer(store)

    with pytest.raises(UnknownFields) as caught:
        store.get("customers", subject, fields=["city", "shoe_size"])

    assert set(caught.value.extra["errors"]) == {"shoe_size"}


def test_missing_record_and_unknown_collection_are_not_found(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.get("customers", "f" * 32)
    with pytest.raises(UnknownCollection):
        store.get("pets", "f" * 32)


# -- refused writes ------------------------------------------------------------------------


def test_an_undeclared_field_is_refused_naming_it(store: RecordStore, session: Session) -> None:
    before = store.count("customers")

    with pytest.raises(UnknownFields) as caught:
        store.create("customers", {**CUSTOMER, "shoe_size": 42, "favourite_colour": "teal"})

    assert caught.value.status == 422
    assert set(caught.value.extra["errors"]) == {"shoe_size", "favourite_colour"}
    assert store.count("customers") == before


REJECTED = {
    "email": 123456789,  # not a string
    "date_of_birth": "the-first-of-april-xyz",  # not a date
    "gender": "robot-pirate-xyz",  # not one of the choices
    "country": "Atlantis-xyz",  # longer than max_length 2
    "first_name": None,  # required
}


def test_wrong_types_are_invalid_with_errors_keyed_by_field(store: RecordStore) -> None:
    with pytest.raises(InvalidRecord) as caught:
        store.create("customers", {**CUSTOMER, **REJECTED})

    error = caught.value
    errors = error.extra["errors"]
    assert error.status == 422
    assert set(errors) == set(REJECTED)
    assert all(isinstance(m, list) and m for m in errors.values())
    assert errors["first_name"] == ["is required"]
    assert errors["country"] == ["must be at most 2 characters"]


def test_error_text_never_contains_the_rejected_value(store: RecordStore) -> None:
    with pytest.raises(InvalidRecord) as caught:
        store.create("customers", {**CUSTOMER, **REJECTED})

    text = f"{caught.value} {caught.value.detail} {json.dumps(caught.value.extra)}"
    for value in REJECTED.values():
        if value is not None:
            assert str(value) not in text


def test_company_numbers_of_the_wrong_type_are_invalid(store: RecordStore) -> None:
    with pytest.raises(InvalidRecord) as caught:
        store.create(
            "companies",
            {"name": "Example Co", "employee_count": "many-xyz", "annual_revenue": True},
        )

    errors = caught.value.extra["errors"]
    assert set(errors) == {"employee_count", "annual_revenue"}
    assert "many-xyz" not in json.dumps(errors)


def test_owned_record_without_subject_is_invalid(store: RecordStore) -> None:
    with pytest.raises(InvalidRecord) as caught:
        store.create(
            "support_tickets", {"ticket_type": "billing", "opened_at": "2026-02-01T09:00:00Z"}
        )

    assert set(caught.value.extra["errors"]) == {"subject_id"}


def test_owned_record_of_a_nonexistent_subject_is_invalid(store: RecordStore) -> None:
    before = store.count("support_tickets")

    with pytest.raises(InvalidRecord) as caught:
        store.create(
            "support_tickets",
            {"ticket_type": "billing", "opened_at": "2026-02-01T09:00:00Z"},
            subject_id="0" * 32,
        )

    assert set(caught.value.extra["errors"]) == {"subject_id"}
    assert store.count("support_tickets") == before


def test_a_naive_datetime_is_invalid(store: RecordStore) -> None:
    subject = customer(store)

    with pytest.raises(InvalidRecord) as caught:
        store.create(
            "web_events", {"occurred_at": "2026-02-01T09:00:00", "page": "/"}, subject_id=subject
        )

    assert caught.value.extra["errors"] == {
        "occurred_at": ["must be an RFC 3339 time with a UTC offset"]
    }


# -- update --------------------------------------------------------------------------------


def test_update_changes_only_the_named_fields(store: RecordStore) -> None:
    created = store.create("customers", CUSTOMER)

    updated = store.update("customers", created.id, {"city": "Newtown", "phone": None})

    assert updated.values == {**created.values, "city": "Newtown", "phone": None}
    assert updated.updated_at >= created.updated_at
    assert store.get("customers", created.id).values == updated.values


def test_update_validates_like_create(store: RecordStore) -> None:
    created = store.create("customers", CUSTOMER)

    with pytest.raises(InvalidRecord) as caught:
        store.update("customers", created.id, {"email": None, "gender": "robot-xyz"})
    with pytest.raises(UnknownFields):
        store.update("customers", created.id, {"shoe_size": 42})
    with pytest.raises(InvalidRecord):
        store.update("customers", created.id, {})

    assert set(caught.value.extra["errors"]) == {"email", "gender"}
    assert store.get("customers", created.id).values == created.values


def test_updating_a_missing_record_is_not_found(store: RecordStore) -> None:
    with pytest.raises(RecordNotFound):
        store.update("customers", "f" * 32, {"city": "Nowhere"})


# -- list ----------------------------------------------------------------------------------


def test_pagination_with_limit_and_after_covers_every_record_exactly_once(
    store: RecordStore,
) -> None:
    created = [store.create("companies", {"name": f"Example Firm {i}"}).id for i in range(11)]
    total = store.count("companies")

    seen: list[str] = []
    pages = 0
    after = None
    while True:
        page = store.list("companies", fields=["name"], after=after, limit=4)
        seen += [r.id for r in page.items]
        pages += 1
        assert len(page.items) <= 4
        if page.next_after is None:
            break
        assert page.next_after == page.items[-1].id
        after = page.next_after

    assert len(seen) == len(set(seen)) == total
    assert set(created) <= set(seen)
    assert seen == sorted(seen)
    assert pages == -(-total // 4)


def test_list_filters_by_subject(store: RecordStore) -> None:
    alice, bob = customer(store, 1), customer(store, 2)
    for subject, count in ((alice, 3), (bob, 2)):
        for i in range(count):
            store.create(
                "web_events",
                {"occurred_at": datetime(2026, 3, 1, 12, i, tzinfo=UTC), "page": f"/products/{i}"},
                subject_id=subject,
            )

    alices = store.list("web_events", subject_id=alice)
    bobs = store.list("web_events", subject_id=bob)

    assert len(alices.items) == 3 and {r.subject_id for r in alices.items} == {alice}
    assert len(bobs.items) == 2 and {r.subject_id for r in bobs.items} == {bob}
    with pytest.raises(InvalidRecord):
        store.list("companies", subject_id=alice)


# -- storage -------------------------------------------------------------------------------


def test_encrypted_field_is_stored_as_bytes_in_its_column(
    store: RecordStore, tables: CrmTables, session: Session
) -> None:
    created = store.create("customers", CUSTOMER)
    table = tables["customers"]

    row = session.execute(
        select(table.c.email, table.c.date_of_birth, table.c.city).where(table.c.id == created.id)
    ).one()

    assert bytes(row.email)[:2] == b"\xc7\x01"  # sealed, format version 1
    assert b"mail.example" not in bytes(row.email)  # no plaintext in the ciphertext
    assert bytes(row.date_of_birth)[:2] == b"\xc7\x01"
    assert b"1990" not in bytes(row.date_of_birth)
    assert row.city == "Exampleville"  # a clear field is stored as it is


def test_an_unknown_field_named_like_an_email_is_described_not_echoed(
    session,
    policy,
    crypto,  # noqa: ANN001
) -> None:
    from governance.store.errors import UnknownFields
    from governance.store.schema import CrmTables
    from governance.store.services import RecordStore

    store = RecordStore(session, policy.datamap, CrmTables(policy.datamap), crypto)
    with pytest.raises(UnknownFields) as caught:
        store.create("companies", {"name": "Initech", "ada.lovelace@mail.example": 1})
    assert "ada.lovelace" not in str(caught.value.extra) + caught.value.detail
    assert "(a name that is not an identifier)" in caught.value.extra["errors"]


def test_an_unknown_collection_named_like_an_email_is_described_not_echoed(
    session,
    policy,
    crypto,  # noqa: ANN001
) -> None:
    from governance.store.errors import UnknownCollection
    from governance.store.schema import CrmTables
    from governance.store.services import RecordStore

    store = RecordStore(session, policy.datamap, CrmTables(policy.datamap), crypto)
    with pytest.raises(UnknownCollection) as caught:
        store.list("ada.lovelace@mail.example")
    assert "ada.lovelace" not in caught.value.detail
