"""The queue's filters the console needs: by type and regulation, a search by e-mail (its
blind index), subject id or request id, and the counts by urgency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from governance.requests.services import QueueFilter, RequestService
from governance.runtime import Runtime
from tests.functional.governance.requests.conftest import OFFICER, subject_records


@pytest.fixture
def service(session: Session, runtime: Runtime) -> RequestService:
    return RequestService(session, runtime, OFFICER)


def _ids(service: RequestService, query: QueueFilter) -> set[str]:
    return {r.id for r in service.list(query, limit=500)[0]}


def test_the_queue_filters_by_type_and_regulation(service, store) -> None:  # noqa: ANN001
    sid = subject_records(store)["customers"][0]
    access = service.create("access", "gdpr", {"subject_id": sid})
    erasure = service.create("erasure", "ccpa", {"subject_id": sid})
    assert _ids(service, QueueFilter(types=("access",))) >= {access.id}
    assert erasure.id not in _ids(service, QueueFilter(types=("access",)))
    assert erasure.id in _ids(service, QueueFilter(regulations=("ccpa",)))
    assert access.id not in _ids(service, QueueFilter(regulations=("ccpa",)))


def test_a_search_by_email_finds_requests_made_by_email_and_by_the_subjects_id(
    service, store
) -> None:  # noqa: ANN001
    sid = subject_records(store, email="queue.search@mail.example")["customers"][0]
    by_email = service.create("access", "gdpr", {"email": "queue.search@mail.example"})
    by_id = service.create("erasure", "gdpr", {"subject_id": sid})
    other = service.create("access", "gdpr", {"subject_id": subject_records(store)["customers"][0]})
    found = _ids(service, QueueFilter(search=" Queue.Search@mail.example "))
    assert {by_email.id, by_id.id} <= found and other.id not in found
    assert _ids(service, QueueFilter(search=by_id.id)) == {by_id.id}
    assert _ids(service, QueueFilter(search=sid)) == {by_email.id, by_id.id}


def test_the_counts_split_open_requests_by_urgency(service, store, session) -> None:  # noqa: ANN001
    before = service.counts()
    now = datetime.now(UTC)
    late = service.create(
        "access",
        "gdpr",
        {"subject_id": subject_records(store)["customers"][0]},
        received_at=now - timedelta(days=40),
    )
    soon = service.create(
        "access",
        "gdpr",
        {"subject_id": subject_records(store)["customers"][0]},
        received_at=now - timedelta(days=26),
    )
    service.create("access", "gdpr", {"subject_id": subject_records(store)["customers"][0]})
    after = service.counts()
    assert late.is_overdue(now) and not soon.is_overdue(now)
    assert (
        after.overdue - before.overdue,
        after.due_soon - before.due_soon,
        after.on_time - before.on_time,
    ) == (1, 1, 1)
