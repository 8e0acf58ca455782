"""The retention sweep removes exactly what is past its period: it deletes the expired rows
of a delete-collection and anonymises those of an anonymise-collection (against an
expectation computed from the records' dates), nulls a field past its own period, erases a
subject whose own record expired through the erasure steps, skips held records and held
subjects (counting them in the plan), and audits every batch."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.consent.models import ConsentEvent
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from governance.requests.models import ErasureSuppression
from governance.retention.holds import HoldService
from governance.retention.sweep import RetentionSweep
from governance.runtime import Runtime
from governance.store.services import RecordStore
from tests.functional.governance.requests.conftest import OFFICER, subject_records

NOW = datetime.now(UTC)
SYSTEM = Actor(id="cli:test", role="operator")


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def backdate(
    session: Session, runtime: Runtime, collection: str, record_id: str, **columns: Any
) -> None:
    table = runtime.tables[collection]
    session.execute(update(table).where(table.c.id == record_id).values(**columns))


def rows(session: Session, runtime: Runtime, collection: str, ids: list[str]) -> dict[str, Any]:
    table = runtime.tables[collection]
    found = session.execute(select(table).where(table.c.id.in_(ids))).mappings().all()
    return {r["id"]: dict(r) for r in found}


def sweep(runtime: Runtime, session: Session, **kwargs: Any) -> Any:
    sweeper = RetentionSweep(runtime, SYSTEM)
    run = sweeper.create(session, **kwargs)
    session.commit()
    done = sweeper.run(run.id)
    session.expire_all()
    return done


@pytest.fixture
def subject(runtime: Runtime, session: Session, store: RecordStore) -> dict[str, Any]:
    """A customer with, per collection, records past and within their periods."""
    ids = subject_records(store)
    sid = ids["customers"][0]

    def add(collection: str, values: dict[str, Any]) -> str:
        return store.create(collection, values, subject_id=sid).id

    old = {
        "interactions": add(
            "interactions",
            {"kind": "email", "body": "Old note.", "occurred_at": ago(3 * 366).isoformat()},
        ),
        "web_events": add(
            "web_events",
            {"page": "/old", "occurred_at": ago(400).isoformat(), "ip_address": "192.0.2.9"},
        ),
        "orders": add(
            "orders",
            {
                "order_number": "ORD-OLD",
                "total_amount": "5.00",
                "ordered_at": ago(11 * 366).isoformat(),
                "shipping_postal_code": "12345",
                "shipping_city": "Oldtown",
            },
        ),
        "campaign_responses": add(
            "campaign_responses", {"campaign_code": "CMP-OLD", "sent_at": ago(3 * 365).isoformat()}
        ),
    }
    noted = add(
        "interactions",
        {"kind": "email", "body": "A note from last year.", "occurred_at": ago(400).isoformat()},
    )
    line = add(
        "order_lines",
        {"order_id": old["orders"], "product_sku": "SKU-OLD", "quantity": 1, "unit_price": "5.00"},
    )
    backdate(session, runtime, "order_lines", line, created_at=ago(11 * 366))
    old["order_lines"] = line
    session.commit()
    return {"sid": sid, "all": ids, "old": old, "noted": noted}


def test_a_sweep_deletes_and_anonymises_exactly_the_expired_rows(
    runtime: Runtime, session: Session, subject: dict[str, Any]
) -> None:
    everything = {c: [*ids, subject["old"].get(c)] for c, ids in subject["all"].items()}
    everything["interactions"].append(subject["noted"])

    run = sweep(runtime, session)

    assert run.state == "completed", run.error
    for collection, ids in everything.items():
        ids = [i for i in ids if i]
        spec = runtime.policy.datamap.collection(collection)
        left = rows(session, runtime, collection, ids)
        old = subject["old"].get(collection)
        expected_kept = {i for i in ids if i != old or spec.erasure.strategy == "anonymize"}
        assert set(left) == expected_kept, collection
        for record_id, row in left.items():
            anonymised = record_id == old
            if spec.has_subject_column:
                assert (row["subject_id"] is None) is anonymised, (collection, record_id)
    order = rows(session, runtime, "orders", [subject["old"]["orders"]])[subject["old"]["orders"]]
    assert order["order_number"] == "ORD-OLD"  # kept: on_erasure keep
    assert order["shipping_city"] is None and order["shipping_postal_code"] is None
    assert run.totals["deleted"] == 3 and run.totals["anonymised"] == 2
    assert run.progress["delete:web_events"]["done"] == 1


def test_a_field_past_its_own_period_is_nulled_and_its_row_kept(
    runtime: Runtime, session: Session, subject: dict[str, Any]
) -> None:
    run = sweep(runtime, session)

    noted = rows(session, runtime, "interactions", [subject["noted"]])[subject["noted"]]
    assert noted["body"] is None and noted["kind"] == "email"
    assert run.progress["null:interactions.body"]["done"] == 1
    recent = subject["all"]["interactions"]
    assert all(
        r["body"] is not None for r in rows(session, runtime, "interactions", recent).values()
    )


def test_a_subject_whose_own_record_expired_is_erased_through_the_erasure_steps(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    ids = subject_records(store)
    sid = ids["customers"][0]
    ConsentService(session, runtime, OFFICER).record_consent(
        sid, "email_marketing", ConsentAction.GRANT, ConsentSource.OFFICER, "notice-1"
    )
    backdate(session, runtime, "customers", sid, updated_at=ago(4 * 365))
    suppressed_before = session.scalar(select(func.count()).select_from(ErasureSuppression))
    session.commit()

    run = sweep(runtime, session)

    assert run.state == "completed" and run.totals["erased"] == 1
    datamap = runtime.policy.datamap
    for collection, record_ids in ids.items():
        left = rows(session, runtime, collection, record_ids)
        if datamap.collection(collection).erasure.strategy == "anonymize":
            assert len(left) == len(record_ids)
            assert all(r["subject_id"] is None for r in left.values())
        else:
            assert left == {}, collection
    assert runtime.keys.data_keys([sid])[sid] is None
    assert (
        session.scalar(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.subject_id == sid)
        )
        == 0
    )
    assert session.scalar(select(func.count()).select_from(ErasureSuppression)) == (
        suppressed_before + 1
    )
    runtime.audit.integrate(session)
    swept = [
        e.document
        for e in runtime.audit.events(session, limit=1000)
        if e.document["action"] == "retention.swept"
        and e.document["details"]["rule"] == "erase:customers"
    ]
    assert swept and swept[-1]["details"]["subject_ids"] == [sid]


def test_held_records_and_held_subjects_are_skipped_and_counted_as_held(
    runtime: Runtime, session: Session, store: RecordStore, subject: dict[str, Any]
) -> None:
    holds = HoldService(session, runtime, OFFICER)
    holds.place("subject", "litigation", "CASE-1", subject_id=subject["sid"])
    holds.place("collection", "regulatory_inquiry", "DPA-1", collection="campaign_responses")
    other = subject_records(store)["customers"][0]
    holds.place("subject", "tax_audit", "TAX-1", subject_id=other)
    backdate(session, runtime, "customers", other, updated_at=ago(4 * 365))
    session.commit()

    plan = {r["rule"]: r for r in RetentionSweep(runtime, SYSTEM).plan(session)}
    run = sweep(runtime, session)

    for collection, record_id in subject["old"].items():
        assert record_id in rows(session, runtime, collection, [record_id]), collection
    assert runtime.record_store(session).get("customers", other).id == other
    assert plan["delete:interactions"]["held"] >= 1
    assert plan["erase:customers"]["held"] == 1 and plan["erase:customers"]["due"] == 0
    assert plan["delete:campaign_responses"]["due"] == 0
    assert plan["delete:campaign_responses"]["hold_ids"]
    assert run.totals["deleted"] == 0 and run.totals["erased"] == 0


def test_every_batch_is_audited_with_its_rule_count_and_id_digest(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    old = [
        store.create(
            "web_events", {"page": f"/p{n}", "occurred_at": ago(500).isoformat()}, subject_id=sid
        ).id
        for n in range(3)
    ]
    session.commit()

    run = sweep(runtime, session, batch_size=1)

    runtime.audit.integrate(session)
    events = [
        e.document
        for e in runtime.audit.events(session, limit=1000)
        if e.document["action"] == "retention.swept"
        and e.document["details"]["rule"] == "delete:web_events"
    ]
    assert [e["details"]["count"] for e in events] == [1, 1, 1]
    assert sorted(e["details"]["digest"] for e in events) == sorted(
        hashlib.sha256(i.encode()).hexdigest() for i in old
    )
    assert {e["policy_version"] for e in events} == {runtime.policy.version}
    assert {e["target"]["collection"] for e in events} == {"web_events"}
    assert run.progress["delete:web_events"]["batches"] == 3


def test_a_dry_run_records_the_plan_and_changes_nothing(
    runtime: Runtime, session: Session, subject: dict[str, Any]
) -> None:
    run = sweep(runtime, session, dry_run=True)

    assert run.state == "completed" and run.dry_run
    assert {r["rule"]: r["due"] for r in run.plan}["delete:interactions"] == 1
    for collection, record_id in subject["old"].items():
        assert record_id in rows(session, runtime, collection, [record_id])


def test_the_plan_shows_counts_and_dates_but_ids_only_when_asked(
    runtime: Runtime, session: Session, subject: dict[str, Any]
) -> None:
    sweeper = RetentionSweep(runtime, SYSTEM)

    plain = {r["rule"]: r for r in sweeper.plan(session)}
    with_ids = {r["rule"]: r for r in sweeper.plan(session, ids=True)}

    assert "ids" not in plain["delete:web_events"]
    assert with_ids["delete:web_events"]["ids"] == [subject["old"]["web_events"]]
    assert plain["delete:web_events"]["due"] == 1
    assert plain["delete:web_events"]["oldest_due"].startswith(ago(400).date().isoformat())
