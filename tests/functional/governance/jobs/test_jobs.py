"""The jobs table is the truth: a job exists only if the change that asked for it committed,
one worker at a time runs it, a transient failure is retried with backoff up to the cap and
then dead (audited, and shown on the request), and a lapsed lease is given back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor
from audit.models import audit_entries
from governance.db import make_engine, unit_of_work
from governance.jobs.models import Job, JobState
from governance.jobs.reaper import reap
from governance.jobs.service import JobKind, Jobs, claim, now
from governance.jobs.work import run_job
from governance.keys.keystore import KeyStore
from governance.keys.services import FieldCrypto, KeyService
from governance.requests.models import DsrRequest
from governance.requests.services import RequestService
from governance.runtime import Runtime
from governance.store.services import RecordStore
from governance.timestamps import as_utc
from tests.functional.governance.requests.conftest import OFFICER, subject_records

LEASE = timedelta(seconds=60)


def _job(
    session: Session,
    kind: JobKind = JobKind.EXPORTS_PURGE,
    target: str | None = None,
    **options: object,
) -> Job:
    job, _ = Jobs(session).enqueue(kind, target, actor=OFFICER, **options)  # type: ignore[arg-type]
    return job


def _state(runtime: Runtime, job_id: str) -> Job:
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _actions(runtime: Runtime, job_id: str) -> list[str]:
    """The job events about this job, in log order (the job id is the event's target)."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(audit_entries.c.action, audit_entries.c.data)
            .where(audit_entries.c.action.like("job.%"))
            .order_by(audit_entries.c.id)
        ).all()
    return [
        action
        for action, data in rows
        if json.loads(data).get("target", {}).get("record_id") == job_id
    ]


def test_a_job_created_in_a_rolled_back_transaction_does_not_exist(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        job_id = _job(session).id
        session.rollback()
    with runtime.sessions() as session:
        assert session.get(Job, job_id) is None


def test_only_one_of_two_workers_claims_a_job(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        job_id = _job(session).id
    with unit_of_work(runtime.sessions) as session:
        first = claim(session, job_id, "worker-a", LEASE)
    with unit_of_work(runtime.sessions) as session:
        second = claim(session, job_id, "worker-b", LEASE)
    assert first is not None and first.worker == "worker-a" and first.attempts == 1
    assert second is None


def test_an_exclusive_job_is_open_once_whoever_asks(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        first, created = Jobs(session).enqueue(
            JobKind.KEYS_ROTATE, actor=OFFICER, exclusive="keys.rotate"
        )
        again, created_again = Jobs(session).enqueue(
            JobKind.KEYS_ROTATE, actor=OFFICER, exclusive="keys.rotate"
        )
    assert created and not created_again and again.id == first.id


def test_a_successful_job_is_succeeded_and_runs_once(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        job_id = _job(session).id
    assert run_job(runtime, job_id) is JobState.SUCCEEDED
    assert run_job(runtime, job_id) is None  # a second delivery finds nothing to do
    job = _state(runtime, job_id)
    assert job.state == "succeeded" and job.attempts == 1 and job.lease_until is None


def test_a_lapsed_lease_is_given_back_to_the_queue_and_delivered(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        job_id = _job(session).id
    with unit_of_work(runtime.sessions) as session:
        claim(session, job_id, "killed-worker", timedelta(seconds=1))
    delivered: list[str] = []

    report = reap(runtime, delivered.extend, at=now() + timedelta(seconds=5))

    assert report.requeued == 1 and delivered == [job_id]
    job = _state(runtime, job_id)
    assert job.state == "queued" and job.error_code == "lease_expired" and job.worker is None
    assert _actions(runtime, job_id) == ["job.requeued"]
    _due_now(runtime, job_id)  # the reaper ran five seconds ahead; so does the worker
    assert run_job(runtime, job_id) is JobState.SUCCEEDED


def _due_now(runtime: Runtime, job_id: str) -> None:
    with unit_of_work(runtime.sessions) as s:
        s.get(Job, job_id).not_before = now()  # type: ignore[union-attr]


# -- the erasure-specific part: a database blip is retried, then shown to the officer -------
@pytest.fixture
def keystore_down(runtime: Runtime) -> Iterator[Runtime]:
    dead = make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    keys = KeyService(runtime.keys.provider, KeyStore(dead))
    yield dataclasses.replace(
        runtime, keys=keys, crypto=FieldCrypto(keys, runtime.policy.datamap), task_runner=None
    )
    dead.dispose()


def _started_erasure(
    runtime: Runtime, session: Session, store: RecordStore, request_type: str = "erasure"
) -> tuple[str, str]:
    sid = subject_records(store)["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create(request_type, "gdpr", {"subject_id": sid})
    service.verify(request.id, "signed letter")
    service.start(request.id)
    job, _ = Jobs(session).enqueue(JobKind.REQUEST_EXECUTE, request.id, actor=OFFICER)
    session.commit()
    return request.id, job.id


def test_an_erasure_that_meets_a_database_blip_is_retried_with_backoff_and_completes(
    runtime: Runtime, session: Session, store: RecordStore, keystore_down: Runtime
) -> None:
    request_id, job_id = _started_erasure(runtime, session, store)

    assert run_job(keystore_down, job_id) is JobState.QUEUED  # the shred could not run
    job = _state(runtime, job_id)
    assert job.error_code == "store_unavailable" and job.attempts == 1
    assert as_utc(job.not_before) >= now() + timedelta(seconds=3)  # backoff: the retry waits
    assert run_job(runtime, job_id) is None  # not yet due
    delivered: list[str] = []
    reap(runtime, delivered.extend, at=now())
    assert delivered == []  # the reaper waits for the backoff too

    reap(runtime, delivered.extend, at=now() + timedelta(seconds=10))
    assert delivered == [job_id]
    _due_now(runtime, job_id)  # ten seconds later, for the worker's clock too
    assert run_job(runtime, job_id) is JobState.SUCCEEDED
    session.expire_all()
    assert session.get(DsrRequest, request_id).status == "completed"  # type: ignore[union-attr]
    assert _actions(runtime, job_id) == ["job.requeued"]


def test_an_execution_failing_at_every_attempt_is_dead_and_shown_on_the_request(
    runtime: Runtime, session: Session, store: RecordStore, keystore_down: Runtime, http, issue_key
) -> None:  # noqa: ANN001
    # An outage is waited out for job_outage_seconds (test_outage.py), and an erasure whose
    # rows are deleted for ever; past the budget (0 here), an access request's attempts count.
    settings = dataclasses.replace(
        runtime.settings, job_max_attempts=2, job_retry_seconds=1, job_outage_seconds=0
    )
    down = dataclasses.replace(keystore_down, settings=settings, task_runner=None)
    request_id, job_id = _started_erasure(runtime, session, store, "access")
    with unit_of_work(runtime.sessions) as s:
        s.get(Job, job_id).max_attempts = 2  # type: ignore[union-attr]

    assert run_job(down, job_id) is JobState.QUEUED
    _due_now(runtime, job_id)
    assert run_job(down, job_id) is JobState.DEAD

    job = _state(runtime, job_id)
    assert job.state == "dead" and job.attempts == 2 and job.error_code == "store_unavailable"
    assert _actions(runtime, job_id) == ["job.requeued", "job.dead"]
    session.expire_all()
    request = session.get(DsrRequest, request_id)
    assert request is not None and request.status == "failed"
    assert request.error == "retries_exhausted"
    assert (
        RequestService(session, runtime, Actor(id="o", role="compliance_officer"))
        .get(request_id)
        .is_overdue(now())
        is False
    )  # its due date still ticks, unchanged
    officer = {"Authorization": f"Bearer {issue_key('compliance_officer')}"}
    shown = http.get(f"/v1/jobs/{job_id}", headers=officer).get_json()
    assert shown["state"] == "dead" and shown["error_code"] == "store_unavailable"
    listed = http.get("/v1/jobs?state=dead", headers=officer).get_json()["items"]
    assert job_id in [j["id"] for j in listed]
    queue = http.get(f"/v1/requests/{request_id}", headers=officer).get_json()
    assert queue["error"] == "retries_exhausted" and queue["job"]["state"] == "dead"
