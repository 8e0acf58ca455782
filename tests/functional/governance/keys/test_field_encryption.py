"""Field encryption through the store, on SQLite and PostgreSQL: invisible to callers,
searchable by blind index, and loud about any ciphertext that is not where it was sealed."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.keys.errors import CiphertextIntegrityError
from governance.store.errors import InvalidRecord
from governance.store.schema import CrmTables
from governance.store.services import RecordStore

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.fictional@mail.example",
    "phone": "+12015550123",
    "street": "1 Example Road",
    "city": "Exampleville",
    "postal_code": "00001",
    "country": "US",
    "date_of_birth": "1990-04-01",
    "gender": "undisclosed",
    "language": "en",
}


@pytest.fixture
def store(session: Session, policy, crypto) -> RecordStore:  # noqa: ANN001
    return RecordStore(session, policy.datamap, CrmTables(policy.datamap), crypto)


def new_customer(store: RecordStore, email: str, **changes: object) -> str:
    return store.create("customers", {**CUSTOMER, "email": email, **changes}).id


def test_a_customer_is_found_by_email_however_the_caller_writes_it(store: RecordStore) -> None:
    wanted = new_customer(store, "grace.example@mail.example")
    new_customer(store, "other.person@mail.example")

    page = store.list("customers", ["email"], lookup={"email": "  Grace.Example@MAIL.example "})

    assert [r.id for r in page.items] == [wanted]
    assert page.items[0].values["email"] == "grace.example@mail.example"


def test_a_customer_is_found_by_phone_in_another_notation(store: RecordStore) -> None:
    wanted = new_customer(store, "phone.person@mail.example", phone="+4915123456789")

    page = store.list("customers", ["city"], lookup={"phone": "0049 1512 3456789"})

    assert [r.id for r in page.items] == [wanted]


def test_the_lookup_runs_on_the_index_column_without_opening_any_ciphertext(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    wanted = new_customer(store, "index.only@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    # Break every ciphertext of the row: a lookup that decrypted would now fail.
    session.execute(update(table).where(table.c.id == wanted).values(email=b"\xc7\x01broken"))

    page = store.list("customers", ["city"], lookup={"email": "index.only@mail.example"})

    assert [r.id for r in page.items] == [wanted]


def test_the_blind_index_is_eight_bytes_and_never_the_plain_value(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    created = new_customer(store, "stored.index@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    email_bidx, phone_bidx = session.execute(
        select(table.c.email_bidx, table.c.phone_bidx).where(table.c.id == created)
    ).one()
    assert len(bytes(email_bidx)) == 8 and len(bytes(phone_bidx)) == 8
    assert b"stored" not in bytes(email_bidx)


def test_an_update_reseals_and_reindexes_the_field(store: RecordStore) -> None:
    created = new_customer(store, "before@mail.example")

    store.update("customers", created, {"email": "after@mail.example"})

    assert store.list("customers", ["email"], lookup={"email": "before@mail.example"}).items == []
    found = store.list("customers", ["email"], lookup={"email": "after@mail.example"}).items
    assert [r.values["email"] for r in found] == ["after@mail.example"]


def test_looking_up_by_a_field_without_a_blind_index_is_refused(store: RecordStore) -> None:
    with pytest.raises(InvalidRecord):
        store.list("customers", lookup={"city": "Exampleville"})


def test_records_of_a_subject_are_sealed_under_the_subjects_key(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    subject = new_customer(store, "tickets@mail.example")
    ticket = store.create(
        "support_tickets",
        {
            "ticket_type": "billing",
            "priority": "normal",
            "opened_at": "2026-01-02T03:04:05Z",
            "description": "Please call me back.",
            "status": "open",
        },
        subject_id=subject,
    )
    tables = CrmTables(policy.datamap)
    customer_email = session.scalar(
        select(tables["customers"].c.email).where(tables["customers"].c.id == subject)
    )
    ticket_text = session.scalar(
        select(tables["support_tickets"].c.description).where(
            tables["support_tickets"].c.id == ticket.id
        )
    )
    assert bytes(customer_email)[2:10] == bytes(ticket_text)[2:10]  # the same key id
    assert store.get("support_tickets", ticket.id).values["description"] == "Please call me back."


def test_a_ciphertext_swapped_between_two_customers_fails_with_the_integrity_error(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    a = new_customer(store, "swap.a@mail.example")
    b = new_customer(store, "swap.b@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    email_a = session.scalar(select(table.c.email).where(table.c.id == a))
    session.execute(update(table).where(table.c.id == b).values(email=email_a))

    with pytest.raises(CiphertextIntegrityError, match="another data key"):
        store.get("customers", b, ["email"])


def test_a_ciphertext_moved_to_another_field_of_the_same_row_fails(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    a = new_customer(store, "moved@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    email = session.scalar(select(table.c.email).where(table.c.id == a))
    session.execute(update(table).where(table.c.id == a).values(street=email))

    with pytest.raises(CiphertextIntegrityError, match="moved from another row or field"):
        store.get("customers", a, ["street"])


def test_a_tampered_ciphertext_fails_and_the_error_names_no_value(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    a = new_customer(store, "tampered@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    email = bytearray(session.scalar(select(table.c.email).where(table.c.id == a)))
    email[-1] ^= 0xFF
    session.execute(update(table).where(table.c.id == a).values(email=bytes(email)))

    with pytest.raises(CiphertextIntegrityError) as caught:
        store.get("customers", a, ["email"])
    assert "tampered@" not in str(caught.value)


def test_only_the_fields_asked_for_are_decrypted(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    a = new_customer(store, "partial@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    session.execute(update(table).where(table.c.id == a).values(street=b"\xc7\x01not a ciphertext"))

    record = store.get("customers", a, ["email", "city"])  # the broken street is never opened

    assert record.values == {"email": "partial@mail.example", "city": "Exampleville"}
    with pytest.raises(CiphertextIntegrityError):
        store.get("customers", a, ["street"])


def test_plaintext_written_around_the_service_is_refused_not_served(
    store: RecordStore,
    session: Session,
    policy,  # noqa: ANN001
) -> None:
    a = new_customer(store, "bypass@mail.example")
    table = CrmTables(policy.datamap)["customers"]
    session.execute(update(table).where(table.c.id == a).values(email=b'"injected@mail.example"'))

    with pytest.raises(CiphertextIntegrityError, match="encrypt-existing"):
        store.get("customers", a, ["email"])
