"""The record of processing has one row per purpose with every point of GDPR Art. 30(1)
filled from the policy files, the categories a purpose may actually read, its transfers,
its time limits from the retention rules, and whether retention is met in the store; the
XLSX opens with openpyxl and holds the same rows as the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.retention.sweep import RetentionSweep
from governance.ropa.formats import to_csv, to_xlsx
from governance.ropa.record import COLUMNS, build_record
from governance.runtime import Runtime
from tests.functional.governance.requests.conftest import subject_records

ART_30_1 = (
    "controller",
    "description",
    "data_subject_categories",
    "personal_data_categories",
    "recipients",
    "transfers",
    "erasure_time_limits",
    "security_measures",
)


def test_every_purpose_has_a_row_with_every_article_30_point_filled(
    runtime: Runtime, session: Session
) -> None:
    record = build_record(session, runtime)

    rows = {r["purpose"]: r for r in record["processing"]}
    assert set(rows) == set(runtime.policy.purposes.ids())
    for purpose, row in rows.items():
        for key in (*ART_30_1, "lawful_basis", "legitimate_interest"):
            assert row[key], (purpose, key)
    assert record["fictional"] is True
    assert "Example Retail" in rows["billing"]["controller"]
    assert any("tamper-evident" in m for m in record["security_measures"])


def test_the_categories_are_those_the_access_rules_let_the_purpose_read(
    runtime: Runtime, session: Session
) -> None:
    rows = {r["purpose"]: r for r in build_record(session, runtime)["processing"]}

    support = set(rows["customer_support"]["personal_data_categories"])
    assert "user.contact.email" in support
    assert "user.demographic.date_of_birth" not in support  # denied by its rules
    assert "user.contact.address.street" not in support  # masked to null: not read
    assert rows["legal_claims"]["special_category_condition"] == "legal claims (Art. 9(2)(f))"


def test_transfers_name_the_country_and_safeguard_and_limits_come_from_retention(
    runtime: Runtime, session: Session
) -> None:
    rows = {r["purpose"]: r for r in build_record(session, runtime)["processing"]}

    assert rows["email_marketing"]["transfers"] == [
        "E-mail delivery service (fictional): US, standard contractual clauses"
    ]
    assert rows["billing"]["transfers"] == ["none outside the EEA"]
    limits = " | ".join(rows["customer_support"]["erasure_time_limits"])
    assert "P1Y from occurred_at (interactions.body)" in limits
    assert "P3Y from updated_at (customers)" in limits
    assert rows["legal_claims"]["legitimate_interest"].startswith("Establishing")


def test_retention_met_is_computed_from_the_store_and_the_last_sweep(
    runtime: Runtime, session: Session
) -> None:
    store = runtime.record_store(session)
    sid = subject_records(store)["customers"][0]
    store.create(
        "support_tickets",
        {
            "ticket_type": "other",
            "opened_at": (datetime.now(UTC) - timedelta(days=4 * 365)).isoformat(),
        },
        subject_id=sid,
    )
    session.commit()

    before = {r["purpose"]: r for r in build_record(session, runtime)["processing"]}
    sweep = RetentionSweep(runtime, Actor(id="cli:test", role="operator"))
    run = sweep.create(session)
    session.commit()
    sweep.run(run.id)
    after = {r["purpose"]: r for r in build_record(session, runtime)["processing"]}

    assert before["customer_support"]["retention_due_records"] >= 1
    assert before["customer_support"]["retention_met"] is False
    assert after["customer_support"]["retention_met"] is True
    assert after["customer_support"]["last_sweep"] != "never"
    assert before["email_marketing"]["retention_met"] is True  # reads no tickets


def test_the_xlsx_opens_with_openpyxl_and_holds_the_same_rows_as_the_csv(
    runtime: Runtime, session: Session
) -> None:
    record = build_record(session, runtime)

    from_csv = list(csv.reader(io.StringIO(to_csv(record))))
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(record)))
    sheet = book["Art. 30 record"]
    from_xlsx = [
        [c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)
    ]

    assert from_xlsx == from_csv
    assert from_csv[0] == [header for _, header in COLUMNS]
    assert len(from_csv) == 1 + len(runtime.policy.purposes)
    assert {"CCPA", "Organisation"} <= set(book.sheetnames)
