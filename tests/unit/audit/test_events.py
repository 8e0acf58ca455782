"""Tests for audit.events: the canonical bytes stay the documented serialisation, and the
validation refuses anything shaped like a personal value (naming the key, never the value).

The canonical bytes are the Merkle leaves, so a faster serialiser must not change one byte:
the reference below is the documented rule written with json.dumps and strftime directly.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.events import (
    Actor,
    AuditEvent,
    Outcome,
    Target,
    UnsafeAuditEvent,
    canonical_bytes,
    format_time,
    new_event_id,
)


def reference_bytes(event: AuditEvent, event_id: str, at: datetime) -> bytes:
    """The documented canonical form: JSON, keys sorted, no white space, UTF-8, null keys
    left out, time as RFC 3339 UTC with microseconds and Z."""
    target = {k: v for k, v in vars(event.target).items() if v is not None}
    doc = {
        "v": 1,
        "id": event_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": event.action,
        "actor": {"id": event.actor.id, "role": event.actor.role},
        "outcome": event.outcome.value,
        "target": target or None,
        "purpose": event.purpose,
        "reason": event.reason,
        "policy_version": event.policy_version,
        "request_id": event.request_id,
        "details": {k: list(v) if isinstance(v, tuple) else v for k, v in event.details.items()}
        or None,
    }
    doc = {k: v for k, v in doc.items() if v is not None}
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


idents = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,20}\Z")
optional_idents = st.none() | idents
events = st.builds(
    AuditEvent,
    action=st.sampled_from(["data.read", "consent.withdraw", "request.erasure.executed"]),
    actor=st.builds(Actor, id=idents, role=idents),
    outcome=st.sampled_from(list(Outcome)),
    target=st.builds(
        Target, collection=optional_idents, record_id=optional_idents, subject_id=optional_idents
    ),
    purpose=optional_idents,
    reason=st.none() | st.from_regex(r"\A[a-z0-9][a-z0-9 _.,:;()/\-]{0,30}\Z"),
    policy_version=st.none() | st.from_regex(r"\A[0-9a-f]{1,64}\Z"),
    request_id=optional_idents,
    details=st.fixed_dictionaries(
        {},
        optional={
            "count": st.integers(0, 10**12),
            "fields": st.lists(idents, max_size=4) | st.tuples(idents, idents),
            "revoked": st.booleans(),
            "route": st.just("/v1/data/<collection>/<record_id>"),
        },
    ),
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)


@settings(max_examples=300, deadline=None)
@given(event=events, at=moments)
def test_canonical_bytes_are_byte_for_byte_the_documented_serialisation(
    event: AuditEvent, at: datetime
) -> None:
    event.validate()
    event_id = "0123456789abcdef0123456789abcdef"
    assert canonical_bytes(event.to_document(event_id, at)) == reference_bytes(event, event_id, at)


def test_format_time_is_rfc3339_utc_with_microseconds_and_refuses_naive_times() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(at) == "2026-03-04T03:06:07.000089Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 3, 4))  # noqa: DTZ001 - the naive time is the point


@pytest.mark.parametrize(
    ("event", "key"),
    [
        (AuditEvent(action="Data.Read", actor=Actor("c1", "application")), "action"),
        (AuditEvent(action="data.read", actor=Actor("ada@example.com", "application")), "actor.id"),
        (
            AuditEvent(
                action="data.read",
                actor=Actor("c1", "application"),
                target=Target(subject_id="Ada Lovelace"),
            ),
            "target.subject_id",
        ),
        # A trailing newline slipped past re.match with '$'; fullmatch refuses it.
        (
            AuditEvent(action="data.read", actor=Actor("c1", "application"), request_id="req-1\n"),
            "request_id",
        ),
        (
            AuditEvent(
                action="data.read",
                actor=Actor("c1", "application"),
                reason="Customer said: call Ada",
            ),
            "reason",
        ),
        (
            AuditEvent(
                action="data.read",
                actor=Actor("c1", "application"),
                details={"email": "ada@example.com"},
            ),
            "details.email",
        ),
        (
            AuditEvent(
                action="data.read",
                actor=Actor("c1", "application"),
                details={"fields": ["email", "Ada Lovelace"]},
            ),
            "details.fields",
        ),
        (
            AuditEvent(action="data.read", actor=Actor("c1", "application"), details={"count": -1}),
            "details.count",
        ),
    ],
    ids=[
        "action",
        "email-actor",
        "name-subject",
        "newline",
        "free-text-reason",
        "undeclared-detail",
        "name-in-list",
        "negative-count",
    ],
)
def test_validate_refuses_value_shaped_strings_naming_only_the_key(
    event: AuditEvent, key: str
) -> None:
    with pytest.raises(UnsafeAuditEvent) as refused:
        event.validate()
    message = str(refused.value)
    assert key in message
    assert "Ada" not in message and "@" not in message


def test_new_event_ids_are_random_version_4_uuids_in_32_lower_case_hex_digits() -> None:
    ids = [new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for event_id in ids:
        parsed = uuid.UUID(hex=event_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert parsed.hex == event_id  # 32 lower-case hex digits, no dashes
    # Every one of the 122 random bits varies: OR and AND-NOT over the ids cover them all.
    values = [int(event_id, 16) for event_id in ids]
    seen_one = seen_zero = 0
    for value in values:
        seen_one |= value
        seen_zero |= ~value
    fixed = (0xF000 << 64) | (0xC000 << 48)
    random_bits = ~fixed & ((1 << 128) - 1)
    assert seen_one & seen_zero & random_bits == random_bits
