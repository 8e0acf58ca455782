"""Erasure follows the data map exactly: deleted collections lose the subject's rows,
anonymised ones keep theirs without the person, the key is shredded, and verification
looks the subject up again; the email's blind index is kept to flag a re-created person."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.models import audit_entries  # noqa: F401 - the audit tables are migrated
from governance.consent.models import ConsentEvent
from governance.consent.services import ConsentService, ConsentSource
from governance.requests.models import DsrRequest, DsrStep, ErasureSuppression
from governance.requests.services import RequestExecutor, RequestService
from governance.requests.suppression import SuppressionList
from governance.runtime import Runtime
from governance.store.services import RecordStore
from policies.types import ErasureStrategy, OnErasure
from tests.functional.governance.requests.conftest import OFFICER, subject_records


def erase(runtime: Runtime, session: Session, subject: dict[str, str]) -> DsrRequest:
    service = RequestService(session, runtime, OFFICER)
    request = service.create("erasure", "gdpr", subject)
    service.verify(request.id, "signed letter")
    service.start(request.id)
    session.commit()
    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()
    return service.get(request.id)


def count(session: Session, runtime: Runtime, collection: str, **where: object) -> int:
    table = runtime.tables[collection]
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return int(session.scalar(query) or 0)


def test_erasure_deletes_or_anonymises_each_collection_as_the_data_map_says(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    mine = subject_records(store)
    other = subject_records(store)
    sid = mine["customers"][0]

    request = erase(runtime, session, {"subject_id": sid})

    assert request.status == "completed", request.result
    datamap = runtime.policy.datamap
    for collection in datamap.subject_owned():
        table = runtime.tables[collection.name]
        ids = mine.get(collection.name, [])
        left = session.execute(select(table).where(table.c.id.in_(ids))).mappings().all()
        if collection.erasure.strategy is ErasureStrategy.DELETE:
            assert left == [], collection.name
            continue
        assert len(left) == len(ids) > 0  # kept for the legal obligation ...
        for row in left:
            assert row["subject_id"] is None  # ... but about no one
            for field in collection.fields.values():
                if field.encrypted or field.on_erasure is OnErasure.NULL:
                    assert row[field.name] is None, (collection.name, field.name)
                elif field.on_erasure is OnErasure.KEEP:
                    assert row[field.name] is not None, (collection.name, field.name)
    # the other subject is untouched
    for collection, ids in other.items():
        assert count(session, runtime, collection) >= len(ids)
        assert store.get(collection, ids[0]).subject_id == other["customers"][0]


def test_erasure_shreds_the_key_and_records_a_passing_verification(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]

    request = erase(runtime, session, {"subject_id": sid})

    assert runtime.keys.data_keys([sid])[sid] is None
    assert runtime.keys.keystore.fetch([sid])[sid].shredded
    steps = {s.name: s for s in RequestService(session, runtime, OFFICER).steps(request.id)}
    assert all(s.state == "done" for s in steps.values())
    assert list(steps)[-3:] == ["suppress", "shred", "verify"]
    assert steps["shred"].result["shredded"] is True
    verification = steps["verify"].result
    assert verification["verified"] is True and verification["problems"] == []
    assert verification["count"] >= len(runtime.policy.datamap.subject_owned()) + 2
    assert request.work is None  # the blind indexes used to verify are not kept


def test_verification_failure_fails_the_request_and_a_rerun_resumes_it(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    ConsentService(session, runtime, OFFICER).record_consent(
        sid, "email_marketing", "grant", ConsentSource.WEB_FORM, "notice-1"
    )
    service = RequestService(session, runtime, OFFICER)
    request = service.create("erasure", "gdpr", {"subject_id": sid})
    service.verify(request.id, "email code")
    service.start(request.id)
    # the consent step is marked done without having run: the history is still there
    step = session.scalar(
        select(DsrStep).where(DsrStep.request_id == request.id, DsrStep.name == "consent")
    )
    step.state = "done"
    session.commit()

    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()

    failed = service.get(request.id)
    assert failed.status == "failed" and failed.error == "verification"
    assert failed.result["verification"]["problems"] == ["consent"]
    verify_step = service.steps(request.id)[-1]
    assert verify_step.name == "verify" and verify_step.state == "pending"

    step.state = "pending"  # the officer has the step run again
    service.start(request.id)
    session.commit()
    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()
    assert service.get(request.id).status == "completed"


def test_erasure_removes_the_consent_history(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    ConsentService(session, runtime, OFFICER).record_consent(
        sid, "email_marketing", "grant", ConsentSource.WEB_FORM, "notice-1"
    )

    erase(runtime, session, {"subject_id": sid})

    assert (
        session.scalar(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.subject_id == sid)
        )
        == 0
    )


def test_suppression_keeps_only_the_email_blind_index_and_flags_a_recreated_email(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    email = "erased.person@mail.example"
    subject_records(store, email=email)

    request = erase(runtime, session, {"email": email})
    assert request.status == "completed"

    entries = session.scalars(select(ErasureSuppression)).all()
    index = runtime.crypto.blind_index("customers", "email", email)
    assert index in [e.email_bidx for e in entries]
    assert [c.name for c in ErasureSuppression.__table__.columns] == ["email_bidx", "created_at"]

    suppressions = SuppressionList(
        session, runtime.policy.datamap, runtime.crypto, runtime.audit, OFFICER
    )
    recreated = {"first_name": "Ada", "last_name": "Again", "email": email}
    assert suppressions.check("customers", recreated, record_id="new-record") is True
    assert suppressions.check("customers", {**recreated, "email": "someone@mail.example"}) is False


def test_erasure_of_an_unknown_email_completes_with_no_data_held(
    runtime: Runtime, session: Session
) -> None:
    request = erase(runtime, session, {"email": "nobody.here@mail.example"})

    assert request.status == "completed"
    assert request.subject_found is False
    assert request.result["outcome"] == "no data held on the subject"
    assert [s.name for s in RequestService(session, runtime, OFFICER).steps(request.id)] == [
        "no_data"
    ]
