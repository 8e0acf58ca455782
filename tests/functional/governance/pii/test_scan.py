"""Store scans of a demo store: every declared personal field is reported, a planted
undeclared field is found, results hold no matched text, and a scan resumes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from demo.store import fill_demo_store
from governance.db import unit_of_work
from governance.pii.models import PiiScan, PiiScanField, ScanState

PLANTED = "Resolved; customer wrote from planted.person{}@mail.example"


@pytest.fixture
def demo(runtime, sessions):
    fill_demo_store(
        sessions, runtime.policy.datamap, runtime.crypto, customers=40, seed=5, batch_size=40
    )
    return runtime


def scan(runtime, sample: int = 80) -> dict:
    service = runtime.pii_scans()
    with unit_of_work(runtime.sessions) as session:
        scan_id = service.create(session, sample=sample, requested_by="test").id
    service.run(scan_id)
    with unit_of_work(runtime.sessions) as session:
        return service.report(session, scan_id)


def finding(report: dict, collection: str, field: str, kind: str, entity: str) -> bool:
    return any(
        f["collection"] == collection
        and f["field"] == field
        and f["kind"] == kind
        and (f.get("entity_type") == entity or entity in f.get("entity_types", []))
        for f in report["findings"]
    )


def test_a_scan_of_the_demo_store_reports_every_declared_personal_field(demo) -> None:
    report = scan(demo)
    assert report["state"] == "completed"
    datamap = demo.policy.datamap
    personal = {
        (c.name, f.name)
        for c in datamap.collections.values()
        for f in c.fields.values()
        if f.is_personal
    }
    reported = {(f["collection"], f["field"]) for f in report["fields"] if f["personal"]}
    assert reported == personal
    by_field = {(f["collection"], f["field"]): f for f in report["fields"]}
    assert "IBAN_CODE" in by_field[("payment_details", "iban")]["entities"]
    assert "IP_ADDRESS" in by_field[("web_events", "ip_address")]["entities"]
    assert report["progress"] == {
        "fields_done": len(report["fields"]),
        "fields_total": len(report["fields"]),
    }


def test_a_scan_finds_emails_planted_in_a_notes_field_that_held_none(demo) -> None:
    before = scan(demo)
    assert not finding(before, "support_tickets", "resolution", "undeclared", "EMAIL_ADDRESS")
    with unit_of_work(demo.sessions) as session:
        store_table = demo.tables["support_tickets"]
        ids = [
            r
            for (r,) in session.execute(
                store_table.select().with_only_columns(store_table.c.id).limit(400)
            )
        ]
        from governance.pii.services import record_store

        store = record_store(session, demo.policy.datamap, demo.tables, demo.crypto)
        for n, record_id in enumerate(ids):
            store.update("support_tickets", record_id, {"resolution": PLANTED.format(n)})
    after = scan(demo, sample=400)
    assert finding(after, "support_tickets", "resolution", "undeclared", "EMAIL_ADDRESS")


def test_scan_results_hold_no_matched_text(demo) -> None:
    report = scan(demo)
    text = json.dumps(report, default=str)
    assert "@" not in text and "mail.example" not in text


def test_a_field_declared_for_an_entity_that_never_occurs_is_reported(demo) -> None:
    report = scan(demo)
    assert finding(report, "payment_details", "card_brand", "declared_not_found", "CREDIT_CARD")


def test_an_interrupted_scan_resumes_with_the_fields_not_yet_done(demo) -> None:
    service = demo.pii_scans()
    with unit_of_work(demo.sessions) as session:
        scan_id = service.create(session, sample=30, requested_by="test").id
    service.run(scan_id)
    # As if the process died after the first collections: un-finish the rest.
    with unit_of_work(demo.sessions) as session:
        session.execute(
            update(PiiScan)
            .where(PiiScan.id == scan_id)
            .values(state=ScanState.RUNNING.value, fields_done=5, finished_at=None)
        )
        session.execute(
            update(PiiScanField)
            .where(PiiScanField.scan_id == scan_id, PiiScanField.position >= 5)
            .values(done=False, result=None)
        )
        assert service.unfinished(session) == [scan_id]
    service.run(scan_id)
    with unit_of_work(demo.sessions) as session:
        report = service.report(session, scan_id)
    assert report["state"] == "completed"
    assert all(f["done"] for f in report["fields"])
    assert report["progress"]["fields_done"] == report["progress"]["fields_total"]
