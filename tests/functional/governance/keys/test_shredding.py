"""Crypto-shredding: after the subject's key is destroyed, its encrypted fields are
unreadable everywhere, including in a copy of the CRM store taken before, and reads say
"erased" instead of failing."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audit.events import Actor, parse_leaf
from governance.db import make_engine, make_session_factory, unit_of_work
from governance.keys.events import KeyEvents
from governance.keys.services import SubjectErased
from governance.keys.shredding import shred_subject
from governance.runtime import Runtime
from governance.store.services import RecordStore
from tests.functional.governance.keys.conftest import is_sqlite

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.shred@mail.example",
    "phone": "+12015550123",
    "city": "Exampleville",
    "country": "US",
    "date_of_birth": "1990-04-01",
}
TICKET = {
    "ticket_type": "billing",
    "opened_at": "2026-01-02T03:04:05Z",
    "description": "Card ending 4242 was charged twice.",
    "status": "open",
}


def fill(rt: Runtime) -> tuple[str, str, str]:
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        ada = store.create("customers", CUSTOMER).id
        ticket = store.create("support_tickets", TICKET, subject_id=ada).id
        other = store.create("customers", {**CUSTOMER, "email": "bob.kept@mail.example"}).id
    return ada, ticket, other


@contextmanager
def backup_of(rt: Runtime) -> Iterator[str]:
    """A copy of the CRM store as it is now, as a database URL."""
    url = make_url(rt.settings.database_url)
    if is_sqlite(rt.settings.database_url):
        copy = url.database + ".backup"
        # A backup holds the same personal data: owner-only, as the service requires.
        os.close(os.open(copy, os.O_CREAT | os.O_WRONLY, 0o600))
        with sqlite3.connect(url.database) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        yield url.set(database=copy).render_as_string(hide_password=False)
        return
    rt.engine.dispose()  # a template database must have no other sessions
    name = f"backup_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def read(rt: Runtime, sessions, collection: str, record_id: str):  # noqa: ANN001, ANN201
    with unit_of_work(sessions) as session:
        return RecordStore(session, rt.policy.datamap, rt.tables, rt.crypto).get(
            collection, record_id
        )


def test_after_shredding_the_subjects_fields_read_as_erased_in_the_live_store(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    ada, ticket, other = fill(rt)

    assert shred_subject(
        rt.keys, KeyEvents(rt.sessions, rt.audit, Actor("cli:test", "operator")), ada
    )

    customer = read(rt, rt.sessions, "customers", ada)
    assert customer.values["email"] is None and customer.values["first_name"] is None
    assert set(customer.erased) == {"first_name", "last_name", "email", "phone", "date_of_birth"}
    assert customer.values["city"] == "Exampleville"  # clear fields are not the key's business
    assert customer.as_json()["erased_fields"] == list(customer.erased)
    assert read(rt, rt.sessions, "support_tickets", ticket).erased == ("description",)
    assert read(rt, rt.sessions, "customers", other).values["email"] == "bob.kept@mail.example"


def test_a_backup_taken_before_the_shred_is_unreadable_with_the_live_key_store(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    ada, ticket, other = fill(rt)
    with backup_of(rt) as backup_url:
        backup = make_engine(backup_url)
        try:
            before = read(rt, make_session_factory(backup), "customers", ada)
            assert before.values["email"] == "ada.shred@mail.example"  # the backup is complete

            rt.keys.shred(ada)

            restored = make_session_factory(backup)
            customer = read(rt, restored, "customers", ada)
            assert customer.values["email"] is None and "email" in customer.erased
            assert read(rt, restored, "support_tickets", ticket).values["description"] is None
            assert read(rt, restored, "customers", other).values["email"] == "bob.kept@mail.example"
        finally:
            backup.dispose()


def test_shredding_is_audited_with_the_key_id_and_never_key_material(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    ada, _, _ = fill(rt)
    key_id = rt.keys.keystore.fetch([ada])[ada].key_id
    wrapped = rt.keys.keystore.fetch([ada])[ada].wrapped
    events = KeyEvents(rt.sessions, rt.audit, Actor("cli:test", "operator"))

    shred_subject(rt.keys, events, ada)
    again = shred_subject(rt.keys, events, ada)

    assert again is False
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session)
        leaves = [e.leaf for e in rt.audit.events(session, limit=100)]
    shreds = [parse_leaf(leaf) for leaf in leaves if b"key.shredded" in leaf]
    assert shreds[0]["details"] == {"key_id": key_id, "shredded": True}
    assert shreds[0]["target"] == {"subject_id": ada}
    assert shreds[1]["details"] == {"shredded": False}
    assert not any(wrapped.hex().encode() in leaf or wrapped in leaf for leaf in leaves)


def test_no_key_is_ever_made_again_for_a_shredded_subject(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    ada, _, _ = fill(rt)
    rt.keys.shred(ada)

    assert rt.keys.data_keys([ada], create=True) == {ada: None}
    with pytest.raises(SubjectErased), unit_of_work(rt.sessions) as session:
        rt.record_store(session).update("customers", ada, {"email": "new@mail.example"})
