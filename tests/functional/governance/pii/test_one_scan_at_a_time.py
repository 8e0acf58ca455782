"""One store scan at a time (issue 14 item 6): a request while one is queued or running gets
that one, and the database itself refuses a second unfinished scan, so two workers that
both looked and found none cannot both start one. On both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from governance.db import unit_of_work
from governance.pii.models import PiiScan, ScanState


def test_a_request_while_a_scan_is_queued_returns_that_scan(runtime) -> None:
    service = runtime.pii_scans()
    with unit_of_work(runtime.sessions) as session:
        first, created = service.request(session, sample=5, requested_by="test")
        assert created
        again = [service.request(session, sample=5, requested_by="test") for _ in range(4)]

    assert [(scan.id, made) for scan, made in again] == [(first.id, False)] * 4
    with unit_of_work(runtime.sessions) as session:
        assert service.unfinished(session) == [first.id]


def test_a_request_while_a_scan_is_running_returns_that_scan(runtime) -> None:
    service = runtime.pii_scans()
    with unit_of_work(runtime.sessions) as session:
        first, _ = service.request(session, sample=5, requested_by="test")
        session.execute(
            update(PiiScan).where(PiiScan.id == first.id).values(state=ScanState.RUNNING.value)
        )
        again, created = service.request(session, sample=5, requested_by="test")

    assert (again.id, created) == (first.id, False)


def test_the_database_refuses_a_second_unfinished_scan(runtime) -> None:
    service = runtime.pii_scans()
    with unit_of_work(runtime.sessions) as session:
        service.create(session, sample=5, requested_by="worker-1")
    # A second worker that checked before the first committed, and creates anyway:
    with pytest.raises(IntegrityError), unit_of_work(runtime.sessions) as session:
        service.create(session, sample=5, requested_by="worker-2")


def test_a_new_scan_may_start_once_the_last_one_finished(runtime) -> None:
    service = runtime.pii_scans()
    with unit_of_work(runtime.sessions) as session:
        first, _ = service.request(session, sample=5, requested_by="test")
        session.execute(
            update(PiiScan).where(PiiScan.id == first.id).values(state=ScanState.COMPLETED.value)
        )
        second, created = service.request(session, sample=5, requested_by="test")

    assert created and second.id != first.id
