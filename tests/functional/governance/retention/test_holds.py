"""Legal holds are append-only events with a current state; an erasure of a held subject
stops before anything is destroyed, visibly `on_hold` with the hold's id, and completes
once the hold is released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from governance.requests.holds import resume_waiting
from governance.requests.models import DsrRequest
from governance.requests.services import RequestExecutor, RequestService
from governance.retention.errors import HoldAlreadyReleased, InvalidHold
from governance.retention.holds import HoldService
from governance.retention.models import LegalHoldEvent
from governance.runtime import Runtime
from governance.store.services import RecordStore
from tests.functional.governance.requests.conftest import OFFICER, subject_records


def holds(runtime: Runtime, session: Session) -> HoldService:
    return HoldService(session, runtime, OFFICER)


def started_erasure(runtime: Runtime, session: Session, sid: str) -> str:
    service = RequestService(session, runtime, OFFICER)
    request = service.create("erasure", "gdpr", {"subject_id": sid})
    service.verify(request.id, "signed letter")
    service.start(request.id)
    session.commit()
    return request.id


def status(session: Session, request_id: str) -> DsrRequest:
    session.expire_all()
    request = session.get(DsrRequest, request_id)
    assert request is not None
    return request


def test_placing_and_releasing_a_hold_appends_events_and_audits_both(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service = holds(runtime, session)

    hold = service.place("subject", "litigation", "CASE-2026/0042", subject_id=sid)
    service.release(hold.id, "matter_closed")
    session.commit()

    assert [e.action for e in service.history(hold.id)] == ["placed", "released"]
    assert hold.released_at is not None and hold.release_reason == "matter_closed"
    runtime.audit.integrate(session)
    documents = [e.document for e in runtime.audit.events(session, limit=500)]
    mine = [d for d in documents if d["target"].get("record_id") == hold.id]
    assert [d["action"] for d in mine] == ["hold.placed", "hold.released"]
    assert mine[0]["details"]["matter"] == "CASE-2026/0042"
    assert mine[0]["target"]["subject_id"] == sid


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_the_hold_history_refuses_updates_and_deletes(
    runtime: Runtime, session: Session, store: RecordStore, statement: str
) -> None:
    sid = subject_records(store)["customers"][0]
    holds(runtime, session).place("subject", "tax_audit", "AUDIT-7", subject_id=sid)
    session.commit()
    table = LegalHoldEvent.__table__
    change = update(table).values(reason="other") if statement == "update" else delete(table)

    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(change.where(table.c.subject_id == sid))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scope": "subject", "reason": "because", "matter": "M-1"}, "reason"),
        ({"scope": "subject", "reason": "litigation", "matter": "Ada Lovelace v. us"}, "matter"),
        ({"scope": "subject", "reason": "litigation", "matter": "a@b.example"}, "matter"),
        (
            {"scope": "subject", "reason": "litigation", "matter": "M-1", "subject_id": "0" * 32},
            "subject_id",
        ),
        (
            {"scope": "collection", "reason": "litigation", "matter": "M-1", "collection": "leads"},
            "collection",
        ),
        ({"scope": "everything", "reason": "litigation", "matter": "M-1"}, "scope"),
        (
            {
                "scope": "collection",
                "reason": "litigation",
                "matter": "M-1",
                "collection": "orders",
                "expires_at": datetime(2020, 1, 1, tzinfo=UTC),
            },
            "expires_at",
        ),
    ],
)
def test_an_invalid_hold_is_refused_naming_the_field_and_writes_nothing(
    runtime: Runtime, session: Session, kwargs: dict, field: str
) -> None:
    before = session.scalar(select(func.count()).select_from(LegalHoldEvent))
    args = {k: kwargs.pop(k) for k in ("scope", "reason", "matter")}

    with pytest.raises(InvalidHold) as caught:
        holds(runtime, session).place(args["scope"], args["reason"], args["matter"], **kwargs)

    assert field in caught.value.extra["errors"]
    assert "Lovelace" not in str(caught.value.extra)
    assert session.scalar(select(func.count()).select_from(LegalHoldEvent)) == before


def test_a_hold_is_released_once(runtime: Runtime, session: Session) -> None:
    service = holds(runtime, session)
    hold = service.place(
        "collection", "regulatory_inquiry", "DPA-2026-17", collection="support_tickets"
    )
    service.release(hold.id, "settled")

    with pytest.raises(HoldAlreadyReleased):
        service.release(hold.id, "settled")


def test_an_erasure_of_a_held_subject_stops_on_hold_then_completes_after_release(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    hold = holds(runtime, session).place("subject", "litigation", "CASE-9", subject_id=sid)
    request_id = started_erasure(runtime, session, sid)

    assert RequestExecutor(runtime, OFFICER).run(request_id) == "on_hold"

    waiting = status(session, request_id)
    assert (waiting.status, waiting.hold_id) == ("on_hold", hold.id)
    assert store.get("customers", sid).values["email"] is not None  # nothing destroyed
    assert runtime.keys.data_keys([sid])[sid] is not None

    service = holds(runtime, session)
    service.release(hold.id, "matter_closed")
    assert resume_waiting(session, runtime, OFFICER) == [request_id]
    session.commit()
    assert RequestExecutor(runtime, OFFICER).run(request_id) == "completed"

    done = status(session, request_id)
    assert done.hold_id is None
    assert done.result["steps"]["verify"]["verified"] is True
    assert runtime.keys.data_keys([sid])[sid] is None


def test_a_hold_on_a_collection_holding_the_subjects_records_also_stops_the_erasure(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    hold = holds(runtime, session).place(
        "collection", "fraud_investigation", "FRAUD-3", collection="payment_details"
    )
    request_id = started_erasure(runtime, session, sid)

    assert RequestExecutor(runtime, OFFICER).run(request_id) == "on_hold"
    assert status(session, request_id).hold_id == hold.id


def test_a_hold_past_its_expiry_holds_nothing(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    hold = holds(runtime, session).place(
        "subject", "other", "X-1", subject_id=sid, expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    session.execute(
        text("UPDATE legal_holds SET expires_at = :t WHERE id = :id"),
        {"t": datetime.now(UTC) - timedelta(minutes=1), "id": hold.id},
    )
    request_id = started_erasure(runtime, session, sid)

    assert RequestExecutor(runtime, OFFICER).run(request_id) == "completed"
