"""Intake and the officer's workflow: subject by email or id, due dates, duplicates, unknown
subjects, verification before execution, rejection, extension, the queue, and an audit event
with the officer's id for every transition."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor
from audit.models import audit_entries
from governance.consent.services import ConsentService
from governance.requests.deadlines import Regulation, RequestType, due_at
from governance.requests.errors import (
    DuplicateRequest,
    ExtensionTooLate,
    InvalidRequest,
    InvalidTransition,
    NotExtendable,
    NotVerified,
)
from governance.requests.models import DsrRequest
from governance.requests.services import QueueFilter, RequestExecutor, RequestService
from governance.runtime import Runtime
from governance.store.services import RecordStore
from tests.functional.governance.requests.conftest import OFFICER, subject_records


@pytest.fixture
def service(session: Session, runtime: Runtime) -> RequestService:
    return RequestService(session, runtime, OFFICER)


def test_a_request_by_email_finds_the_subject_through_the_blind_index(
    service: RequestService, store: RecordStore
) -> None:
    sid = subject_records(store, email="find.me@mail.example")["customers"][0]

    request = service.create("access", "gdpr", {"email": "find.me@mail.example"})

    assert request.subject_id == sid and request.subject_found
    assert request.status == "received"
    assert request.received_at + timedelta(days=27) < request.due_at
    stored = service.session.execute(select(DsrRequest.__table__)).mappings().all()
    assert all(b"find.me" not in json.dumps(dict(r), default=str).encode() for r in stored)


def test_the_due_date_follows_the_regulation_from_the_received_time(
    service: RequestService,
) -> None:
    gdpr = service.create(
        "erasure", "gdpr", {"subject_id": "a1"}, received_at=datetime(2026, 1, 31, 9, tzinfo=UTC)
    )
    ccpa = service.create(
        "erasure", "ccpa", {"subject_id": "b1"}, received_at=datetime(2026, 1, 1, 9, tzinfo=UTC)
    )
    opt_out = service.create(
        "opt_out", "ccpa", {"subject_id": "a1"}, received_at=datetime(2026, 1, 5, 9, tzinfo=UTC)
    )

    assert gdpr.due_at == datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
    assert ccpa.due_at.date().isoformat() == "2026-02-14"
    assert opt_out.due_at.date().isoformat() == "2026-01-23"


def test_a_second_open_request_of_the_same_type_is_a_duplicate_naming_the_first(
    service: RequestService, store: RecordStore
) -> None:
    sid = subject_records(store, email="twice@mail.example")["customers"][0]
    first = service.create("erasure", "gdpr", {"subject_id": sid})

    with pytest.raises(DuplicateRequest) as refused:
        service.create("erasure", "gdpr", {"email": "twice@mail.example"})
    assert refused.value.status == 409
    assert refused.value.extra["existing_request_id"] == first.id
    # another type is not a duplicate, and neither is a request after the first finished
    service.create("access", "gdpr", {"subject_id": sid})
    service.reject(first.id, "not verifiable")
    service.create("erasure", "gdpr", {"subject_id": sid})


def test_duplicates_of_an_unknown_email_are_recognised_too(service: RequestService) -> None:
    first = service.create("access", "ccpa", {"email": "stranger@mail.example"})
    assert first.subject_id is None and not first.subject_found
    with pytest.raises(DuplicateRequest):
        service.create("access", "ccpa", {"email": "stranger@mail.example"})


def test_an_unknown_email_is_accepted_and_completes_with_no_data_held(
    service: RequestService, runtime: Runtime, session: Session
) -> None:
    request = service.create("access", "gdpr", {"email": "unknown@mail.example"})
    service.verify(request.id, "email code")
    service.start(request.id)
    session.commit()

    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()

    done = service.get(request.id)
    assert done.status == "completed" and done.subject_found is False
    assert done.result["outcome"] == "no data held on the subject"


def test_executing_an_unverified_request_is_refused_except_a_ccpa_opt_out(
    service: RequestService, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    access = service.create("access", "gdpr", {"subject_id": sid})
    with pytest.raises(NotVerified) as refused:
        service.start(access.id)
    assert refused.value.status == 409
    assert service.get(access.id).status == "received"

    opt_out = service.create("opt_out", "ccpa", {"subject_id": sid})
    assert service.start(opt_out.id).status == "in_progress"


def test_rights_a_regulation_does_not_grant_are_refused(service: RequestService) -> None:
    with pytest.raises(InvalidRequest):
        service.create("opt_out", "gdpr", {"subject_id": "a1"})
    with pytest.raises(InvalidRequest):
        service.create("restriction", "ccpa", {"subject_id": "a1"})
    with pytest.raises(InvalidRequest):
        service.create(
            "objection", "gdpr", {"subject_id": "a1"}, {"purposes": ["billing"]}
        )  # contract: an objection does not stop it
    with pytest.raises(InvalidRequest):
        service.create("access", "gdpr", {"email": "x@mail.example", "subject_id": "a1"})


def test_extension_is_allowed_once_with_a_reason_code(service: RequestService) -> None:
    received = datetime.now(UTC) - timedelta(days=10)
    request = service.create("access", "gdpr", {"subject_id": "a2"}, received_at=received)
    with pytest.raises(InvalidRequest):
        service.extend(request.id, "Complex request across several systems")  # not a code
    extended = service.extend(request.id, "Complexity")
    assert extended.due_at == due_at(Regulation.GDPR, RequestType.ACCESS, received, extended=True)
    assert extended.extension_reason == "complexity"
    with pytest.raises(NotExtendable):
        service.extend(request.id, "number_of_requests")
    ccpa = service.create("opt_out", "ccpa", {"subject_id": "a2"})
    with pytest.raises(NotExtendable):
        service.extend(ccpa.id, "number_of_requests")


def test_an_overdue_request_cannot_be_extended_after_the_fact(service: RequestService) -> None:
    """GDPR Art. 12(3): the extension is decided and told within the first month."""
    request = service.create(
        "erasure", "gdpr", {"subject_id": "a3"}, received_at=datetime.now(UTC) - timedelta(days=40)
    )
    due = request.due_at
    with pytest.raises(ExtensionTooLate) as late:
        service.extend(request.id, "complexity")
    assert "before the original due date" in late.value.detail
    assert "GDPR Art. 12(3)" in late.value.detail
    assert (request.extended, request.due_at) == (False, due)
    assert request.is_overdue(datetime.now(UTC))


def test_transitions_out_of_order_are_refused(service: RequestService) -> None:
    request = service.create("access", "gdpr", {"subject_id": "a3"})
    service.verify(request.id, "account login")
    with pytest.raises(InvalidTransition):
        service.verify(request.id, "account login")
    service.reject(request.id, "identity doubtful")
    with pytest.raises(InvalidTransition):
        service.start(request.id)


def test_the_queue_lists_open_requests_by_due_time_with_overdue_and_week_views(
    service: RequestService,
) -> None:
    now = datetime.now(UTC)
    late = service.create(
        "access", "gdpr", {"subject_id": "q1"}, received_at=now - timedelta(days=40)
    )
    soon = service.create(
        "access", "ccpa", {"subject_id": "q2"}, received_at=now - timedelta(days=40)
    )  # due in about 4 days
    later = service.create("erasure", "gdpr", {"subject_id": "q3"})
    closed = service.create(
        "erasure", "gdpr", {"subject_id": "q4"}, received_at=now - timedelta(days=50)
    )
    service.reject(closed.id, "duplicate by letter")

    everything, _ = service.list(QueueFilter(), limit=500)
    ids = [r.id for r in everything]
    assert ids.index(late.id) < ids.index(soon.id) < ids.index(later.id)
    assert closed.id not in ids
    overdue, _ = service.list(QueueFilter(overdue=True), limit=500)
    assert late.id in [r.id for r in overdue]
    assert {soon.id, later.id}.isdisjoint(r.id for r in overdue)
    week, _ = service.list(QueueFilter(due_within_days=7), limit=500)
    assert soon.id in [r.id for r in week] and later.id not in [r.id for r in week]
    page, cursor = service.list(QueueFilter(), limit=1)
    assert cursor is not None
    rest, _ = service.list(QueueFilter(), after=cursor, limit=500)
    assert page[0].id not in [r.id for r in rest]


def test_every_transition_is_audited_with_the_officers_client_id(
    service: RequestService, runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    request = service.create("restriction", "gdpr", {"subject_id": sid})
    service.extend(request.id, "number_of_requests")
    service.verify(request.id, "signed letter")
    service.start(request.id)
    session.commit()
    RequestExecutor(runtime, OFFICER).run(request.id)
    rejected = service.create("access", "gdpr", {"subject_id": sid})
    service.reject(rejected.id, "withdrawn by the subject")

    rows = session.execute(
        select(audit_entries.c.action, audit_entries.c.actor_id, audit_entries.c.data)
        .where(audit_entries.c.action.like("request.%"))
        .order_by(audit_entries.c.id)
    ).all()
    mine = [
        (a, actor, bytes(d).decode())
        for a, actor, d in rows
        if request.id in bytes(d).decode() or rejected.id in bytes(d).decode()
    ]
    assert [a for a, _, _ in mine] == [
        "request.created",
        "request.extended",
        "request.verified",
        "request.started",
        "request.step.completed",
        "request.completed",
        "request.created",
        "request.rejected",
    ]
    assert {actor for _, actor, _ in mine} == {OFFICER.id}
    assert all("withdrawn by" not in leaf and "backlog" not in leaf for _, _, leaf in mine)
    assert ConsentService(session, runtime, OFFICER).state(sid).restricted


def test_objection_and_opt_out_record_consent_events_from_the_request(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service = RequestService(session, runtime, Actor(id="officer-2", role="compliance_officer"))
    objection = service.create(
        "objection", "gdpr", {"subject_id": sid}, {"purposes": ["analytics", "churn_prediction"]}
    )
    service.verify(objection.id, "email code")
    service.start(objection.id)
    opt_out = service.create("opt_out", "ccpa", {"subject_id": sid})
    service.start(opt_out.id)
    session.commit()
    executor = RequestExecutor(runtime, OFFICER)
    executor.run(objection.id)
    executor.run(opt_out.id)

    state = ConsentService(session, runtime, OFFICER).state(sid)
    assert str(state.of("analytics").status) == "objected"
    assert str(state.of("churn_prediction").status) == "objected"
    for purpose in runtime.policy.purposes.selling_or_sharing():
        assert str(state.of(purpose.id).status) == "withdrawn"
    history = ConsentService(session, runtime, OFFICER).history(sid)
    assert {e.source for e in history} == {"request"}
