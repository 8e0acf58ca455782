"""verify's text checks of the copied-out filter columns and of the subject index
(audit/columns.py), on real canonical bytes: they accept exactly what the bytes hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.columns import COLUMNS, check_rows, first_mismatch, index_matches, time_text
from audit.events import Actor, AuditEvent, Outcome, Target, canonical_bytes, parse_leaf

AT = datetime(2026, 12, 2, 13, 4, 5, 6007, tzinfo=UTC)
EVENT_ID = "0f" * 16

EVENTS = {
    "subject": AuditEvent(
        action="data.read",
        actor=Actor("crm-app-1", "application"),
        target=Target(collection="customers", record_id="r-1", subject_id="s-1"),
        purpose="customer_support",
        details={"count": 1, "fields": ["email"]},
    ),
    "record-no-subject": AuditEvent(
        action="client.created",
        actor=Actor("cli:root", "admin"),
        target=Target(record_id="c-1"),
        details={"client_id": "c-1", "subject_ids": ["s-2"]},
    ),
    "list": AuditEvent(
        action="data.listed",
        actor=Actor("crm-app-1", "application"),
        target=Target(collection="orders"),
        purpose="order_fulfilment",
        details={"count": 3},
        subjects=("s-2", "s-1", "s-2"),
    ),
    "list-of-one-subject": AuditEvent(
        action="data.listed",
        actor=Actor("crm-app-1", "application"),
        target=Target(collection="orders", subject_id="s-1"),
        subjects=("s-1",),
    ),
    "no-target": AuditEvent(
        action="auth.denied",
        actor=Actor("anonymous", "none"),
        outcome=Outcome.DENIED,
        reason="no bearer key",
        details={"route": "/v1/audit/events"},
    ),
}


def data_of(event: AuditEvent) -> bytes:
    return canonical_bytes(event.to_document(EVENT_ID, AT))


def columns_of(event: AuditEvent) -> tuple[str, str, str, str | None, str]:
    """The columns as verify reads them (the time as the bytes write it)."""
    return (event.action, event.actor.id, EVENT_ID, event.target.subject_id, time_text(AT))


def check(event: AuditEvent, values: tuple, data: bytes | None = None) -> tuple:  # noqa: ANN001
    return check_rows([(b"leaf", data or data_of(event), *values)])


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_the_text_checks_accept_the_columns_and_index_the_bytes_hold(name: str) -> None:
    event = EVENTS[name]
    values = columns_of(event)

    ok, viewed = check(event, values)

    assert ok
    assert [i for i, _ in viewed] == ([0] if event.subjects else [])
    for _, text in viewed:
        assert index_matches(text, values[4], values[3], event.indexed_subjects())
    assert first_mismatch(parse_leaf(data_of(event)), values, event.indexed_subjects()) is None


OTHER = {
    "action": "data.write",
    "actor_id": "crm-app-2",
    "event_id": "1e" * 16,
    "subject_id": "s-9",
    "recorded_at": "2026-12-02T13:04:05.006008Z",
}


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("name", sorted(EVENTS))
def test_the_text_checks_refuse_any_other_value_and_name_the_column(name: str, column: str) -> None:
    event = EVENTS[name]
    values = list(columns_of(event))
    values[COLUMNS.index(column)] = OTHER[column]

    ok, viewed = check(event, tuple(values))

    assert not ok or not all(
        index_matches(text, values[4], values[3], event.indexed_subjects()) for _, text in viewed
    )
    assert first_mismatch(parse_leaf(data_of(event)), values) == (
        f"column {column} differs from the event bytes"
    )


@pytest.mark.parametrize(
    "tricky",
    [
        'data.read","actor":{"id":"crm-app-1',  # a quote inside a column value
        "data.rea",  # a prefix of the real value
        "data.read\\",
    ],
)
def test_a_column_value_built_to_splice_into_the_bytes_is_refused(tricky: str) -> None:
    event = EVENTS["subject"]

    assert not check(event, (tricky, *columns_of(event)[1:]))[0]


@pytest.mark.parametrize("name", ["subject", "list-of-one-subject"])
def test_a_subject_cleared_from_its_column_is_refused(name: str) -> None:
    event = EVENTS[name]
    values = (*columns_of(event)[:3], None, time_text(AT))

    ok, viewed = check(event, values)

    assert not ok or not all(
        index_matches(text, values[4], None, event.indexed_subjects()) for _, text in viewed
    )
    assert first_mismatch(parse_leaf(data_of(event)), values) == (
        "column subject_id differs from the event bytes"
    )


@pytest.mark.parametrize("indexed", [["s-1"], ["s-1", "s-2", "s-3"], ["s-1", "s-9"], []])
def test_a_subject_index_other_than_the_one_the_bytes_commit_to_is_refused(
    indexed: list[str],
) -> None:
    event = EVENTS["list"]
    values = columns_of(event)
    text = data_of(event).decode()

    assert not index_matches(text, values[4], values[3], indexed)
    assert first_mismatch(parse_leaf(data_of(event)), values, indexed) == (
        "subject index differs from the event bytes"
    )


def test_an_index_for_an_event_whose_bytes_name_no_subjects_is_refused() -> None:
    event = EVENTS["subject"]

    assert first_mismatch(parse_leaf(data_of(event)), columns_of(event), ["s-1"]) == (
        "subject index differs from the event bytes"
    )


def test_times_read_as_the_bytes_write_them() -> None:
    assert time_text(AT) == "2026-12-02T13:04:05.006007Z"
    assert time_text(AT.replace(tzinfo=None)) == "2026-12-02T13:04:05.006007Z"
