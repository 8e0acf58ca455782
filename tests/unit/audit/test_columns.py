"""verify's byte checks of the copied-out filter columns (audit/columns.py), on real
canonical bytes: they accept exactly the column values the bytes hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.columns import COLUMNS, first_mismatch, fragments, rows_match, time_text
from audit.events import Actor, AuditEvent, Outcome, Target, canonical_bytes, parse_leaf

AT = datetime(2026, 12, 2, 13, 4, 5, 6007, tzinfo=UTC)
EVENT_ID = "0f" * 16

EVENTS = {
    "subject": AuditEvent(
        action="data.read", actor=Actor("crm-app-1", "application"),
        target=Target(collection="customers", record_id="r-1", subject_id="s-1"),
        purpose="customer_support", details={"count": 1, "fields": ["email"]}),
    "record-no-subject": AuditEvent(
        action="client.created", actor=Actor("cli:root", "admin"),
        target=Target(record_id="c-1"), details={"client_id": "c-1", "subject_ids": ["s-2"]}),
    "no-target": AuditEvent(
        action="auth.denied", actor=Actor("anonymous", "none"), outcome=Outcome.DENIED,
        reason="no bearer key", details={"route": "/v1/audit/events"}),
}


def columns_of(event: AuditEvent) -> tuple[str, str, str, str | None, str]:
    return (event.action, event.actor.id, EVENT_ID, event.target.subject_id,
            time_text(AT))


def row(event: AuditEvent, values: tuple) -> tuple:  # noqa: ANN001
    data = canonical_bytes(event.to_document(EVENT_ID, AT))
    return (b"leaf", data, *fragments(*values))


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_the_byte_checks_accept_the_columns_the_bytes_hold(name: str) -> None:
    event = EVENTS[name]
    values = columns_of(event)

    assert rows_match([row(event, values)])
    document = parse_leaf(canonical_bytes(event.to_document(EVENT_ID, AT)))
    assert first_mismatch(document, (*values[:4], "2026-12-02 13:04:05.006007")) is None


OTHER = {"action": "data.write", "actor_id": "crm-app-2", "event_id": "1e" * 16,
         "subject_id": "s-9", "recorded_at": "2026-12-02T13:04:05.006008Z"}


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("name", sorted(EVENTS))
def test_the_byte_checks_refuse_any_other_value_and_name_the_column(
    name: str, column: str
) -> None:
    event = EVENTS[name]
    values = list(columns_of(event))
    values[COLUMNS.index(column)] = OTHER[column]

    assert not rows_match([row(event, tuple(values))])
    document = parse_leaf(canonical_bytes(event.to_document(EVENT_ID, AT)))
    assert first_mismatch(document, values) == column


@pytest.mark.parametrize("tricky", [
    'data.read","actor":{"id":"crm-app-1',  # a quote inside a column value
    "data.rea",  # a prefix of the real value
    "data.read\\",
])
def test_a_column_value_built_to_splice_into_the_bytes_is_refused(tricky: str) -> None:
    event = EVENTS["subject"]
    values = (tricky, *columns_of(event)[1:])

    assert not rows_match([row(event, values)])


def test_a_subject_cleared_from_its_column_is_refused() -> None:
    event = EVENTS["subject"]
    values = (*columns_of(event)[:3], None, time_text(AT))

    assert not rows_match([row(event, values)])
    document = parse_leaf(canonical_bytes(event.to_document(EVENT_ID, AT)))
    assert first_mismatch(document, values) == "subject_id"


def test_stored_times_read_as_the_bytes_write_them() -> None:
    assert time_text(AT) == "2026-12-02T13:04:05.006007Z"
    assert time_text(AT.replace(tzinfo=None)) == "2026-12-02T13:04:05.006007Z"
    assert time_text("2026-12-02 13:04:05.006007") == "2026-12-02T13:04:05.006007Z"
