"""``keys encrypt-existing``: an adopted store's plaintext is sealed in place, indexes are
filled, a crash resumes, and a second run changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, select

from governance.db import unit_of_work
from governance.keys.cipher import is_sealed
from governance.keys.existing import encrypt_existing
from governance.runtime import Runtime
from governance.store.values import to_plain_bytes

NOW = "2026-01-01T00:00:00+00:00"


def plaintext_store(rt: Runtime, count: int) -> list[str]:
    """Customers and tickets written as an older CRM held them: plaintext in the columns the
    data map now marks encrypted (JSON plain form, or bare UTF-8 text), no blind indexes."""
    customers = rt.tables["customers"]
    tickets = rt.tables["support_tickets"]
    fields = rt.policy.datamap.collections["customers"].fields
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"{n:032x}" for n in range(count)]
    with unit_of_work(rt.sessions) as session:
        session.execute(
            insert(customers),
            [
                {
                    "id": i,
                    "first_name": to_plain_bytes(fields["first_name"], "Ada"),
                    "last_name": b"Fictional",  # bare text, as a legacy column would hold
                    "email": to_plain_bytes(fields["email"], f"person{n}@mail.example"),
                    "phone": b"+12015550123",
                    "city": "Exampleville",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, i in enumerate(ids)
            ],
        )
        session.execute(
            insert(tickets),
            [
                {
                    "id": f"{n:031x}t",
                    "subject_id": i,
                    "ticket_type": "billing",
                    "opened_at": now,
                    "description": b"Please call me.",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, i in enumerate(ids)
            ],
        )
    return ids


def stored(rt: Runtime, collection: str, column: str) -> list[bytes | None]:
    table = rt.tables[collection]
    with unit_of_work(rt.sessions) as session:
        return [None if v is None else bytes(v) for v in session.scalars(select(table.c[column]))]


def test_plaintext_is_sealed_indexed_and_reads_back(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    ids = plaintext_store(rt, 25)

    report = encrypt_existing(
        rt.sessions, rt.policy.datamap, rt.tables, rt.crypto, None, batch_size=7
    )

    assert report.rows == 50 and report.sealed == 25 * 4 + 25
    assert all(is_sealed(v) for v in stored(rt, "customers", "email"))
    assert all(is_sealed(v) for v in stored(rt, "support_tickets", "description"))
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        found = store.list(
            "customers",
            ["first_name", "last_name", "email", "phone"],
            lookup={"email": "PERSON3@mail.example"},
        ).items
        assert [r.id for r in found] == [ids[3]]
        assert found[0].values == {
            "first_name": "Ada",
            "last_name": "Fictional",
            "email": "person3@mail.example",
            "phone": "+12015550123",
        }
        ticket = store.list("support_tickets", ["description"], subject_id=ids[3]).items[0]
        assert ticket.values["description"] == "Please call me."


def test_a_second_run_changes_nothing(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    plaintext_store(rt, 10)
    encrypt_existing(rt.sessions, rt.policy.datamap, rt.tables, rt.crypto, None)
    before = stored(rt, "customers", "email")

    again = encrypt_existing(rt.sessions, rt.policy.datamap, rt.tables, rt.crypto, None)

    assert again.rows == 0 and again.sealed == 0
    assert stored(rt, "customers", "email") == before


class Crash(Exception):
    pass


def test_a_run_that_crashed_resumes_from_its_saved_position(own_runtime) -> None:  # noqa: ANN001
    rt = own_runtime()
    plaintext_store(rt, 30)

    def crash(collection: str, rows: int) -> None:
        if rows >= 10:
            raise Crash

    with pytest.raises(Crash):
        encrypt_existing(
            rt.sessions,
            rt.policy.datamap,
            rt.tables,
            rt.crypto,
            None,
            batch_size=10,
            progress=crash,
        )
    job = rt.keys.keystore.running_job("encrypt_existing")
    assert job is not None and json.loads(job.position)["collection"] == "customers"

    resumed = encrypt_existing(
        rt.sessions, rt.policy.datamap, rt.tables, rt.crypto, None, batch_size=10
    )

    assert resumed.resumed and resumed.rows == 20 + 30  # the rest of customers, then tickets
    assert all(is_sealed(v) for v in stored(rt, "customers", "email"))
    assert rt.keys.keystore.running_job("encrypt_existing") is None
