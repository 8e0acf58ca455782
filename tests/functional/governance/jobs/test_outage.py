"""An outage is waited out, not counted: with the key store really unreachable for longer
than the attempt cap used to allow, an erasure whose rows are deleted keeps its job queued,
waiting on the key store (shown on the job, the request and the API), and once the key
store is back it reaches its shred step and completes; nothing ends `retries_exhausted`.
Only past the outage budget is a job that holds no half-done erasure given up."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from audit.models import audit_entries
from governance.db import make_engine, unit_of_work
from governance.jobs.models import Job, JobState
from governance.jobs.service import JobKind, Jobs
from governance.jobs.work import run_job
from governance.keys.keystore import KeyStore
from governance.keys.services import FieldCrypto, KeyService
from governance.requests.models import DsrRequest, DsrStep
from governance.requests.services import RequestService
from governance.runtime import Runtime
from governance.timestamps import as_utc
from tests.conftest import bearer, fresh_postgres_database
from tests.functional.governance.requests.conftest import OFFICER, subject_records
from tests.migrated import migrated_keystore

OLD_ATTEMPT_CAP = 5  # the default cap that used to bury a job after about 75 s of outage


@dataclass
class OwnKeyStore:
    """A key store of the test's own that the test can take away and give back for real:
    a SQLite file whose folder is renamed, or a PostgreSQL database that is renamed."""

    url: str
    engine: Engine
    away: object  # () -> None
    back: object  # () -> None


def _sqlite_keystore(tmp_path: Path) -> Iterator[OwnKeyStore]:
    folder = tmp_path / "keystore"
    url = f"sqlite:///{folder / 'keystore.db'}"
    migrated_keystore(url)
    engine = make_engine(url, write_lock_at_begin=False, secure_delete=True)

    def away() -> None:
        engine.dispose()
        folder.rename(tmp_path / "keystore-away")

    def back() -> None:
        (tmp_path / "keystore-away").rename(folder)

    yield OwnKeyStore(url, engine, away, back)
    engine.dispose()


def _postgres_keystore(server: str) -> Iterator[OwnKeyStore]:
    for url in fresh_postgres_database(server):
        name = make_url(url).database
        migrated_keystore(url)
        engine = make_engine(
            url, write_lock_at_begin=False, secure_delete=True, connect_args={"connect_timeout": 2}
        )
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")

        def rename(old: str, new: str, engine: Engine = engine, admin: Engine = admin) -> None:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": old},
                )
                conn.execute(text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))

        def away(name: str = str(name)) -> None:
            rename(name, f"{name}_away")

        def back(name: str = str(name)) -> None:
            rename(f"{name}_away", name)

        yield OwnKeyStore(url, engine, away, back)
        engine.dispose()
        admin.dispose()


@pytest.fixture
def own_keystore(tmp_path: Path) -> Iterator[OwnKeyStore]:
    server = os.environ.get("GOVERNANCE_TEST_DATABASE_URL")
    yield from (_postgres_keystore(server) if server else _sqlite_keystore(tmp_path))


@pytest.fixture
def patient(runtime: Runtime, own_keystore: OwnKeyStore) -> Runtime:
    """The runtime on the test's own key store, retrying every second (a small backoff
    base and ceiling by settings: the outage is real, only the clock is shortened)."""
    keys = KeyService(runtime.keys.provider, KeyStore(own_keystore.engine))
    settings = dataclasses.replace(
        runtime.settings, job_retry_seconds=1, job_retry_ceiling_seconds=1
    )
    return dataclasses.replace(
        runtime,
        settings=settings,
        keys=keys,
        crypto=FieldCrypto(keys, runtime.policy.datamap),
        task_runner=None,
    )


def _started(runtime: Runtime, session: Session, request_type: str) -> tuple[str, str, str]:
    sid = subject_records(runtime.record_store(session))["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create(request_type, "gdpr", {"subject_id": sid})
    service.verify(request.id, "signed letter")
    service.start(request.id)
    job, _ = Jobs(session).enqueue(JobKind.REQUEST_EXECUTE, request.id, actor=OFFICER)
    session.commit()
    return sid, request.id, job.id


def _job(runtime: Runtime, job_id: str) -> Job:
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _when_due(runtime: Runtime, job_id: str) -> None:
    """Wait (about a second: the backoff the settings give) until the job is due."""
    for _ in range(400):
        if as_utc(_job(runtime, job_id).not_before) <= as_utc(_now()):
            return
        time.sleep(0.05)
    raise AssertionError("the job never came due")


def _now():  # noqa: ANN202
    from governance.jobs.service import now

    return now()


def _events(runtime: Runtime, prefix: str) -> list[tuple[str, dict]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(audit_entries.c.action, audit_entries.c.data)
            .where(audit_entries.c.action.like(f"{prefix}%"))
            .order_by(audit_entries.c.id)
        ).all()
    return [(action, json.loads(data)) for action, data in rows]


def test_an_erasure_outlasts_a_key_store_outage_longer_than_the_old_cap_and_shreds(
    runtime: Runtime, session: Session, patient: Runtime, own_keystore: OwnKeyStore, http, issue_key
) -> None:  # noqa: ANN001
    sid, request_id, job_id = _started(patient, session, "erasure")
    own_keystore.away()  # type: ignore[operator]
    try:
        for _ in range(OLD_ATTEMPT_CAP + 2):
            _when_due(runtime, job_id)
            assert run_job(patient, job_id) is JobState.QUEUED

        job = _job(runtime, job_id)
        assert job.attempts == OLD_ATTEMPT_CAP + 2 and job.attempts < job.max_attempts
        assert job.waiting_on == "key_store" and job.error_code == "store_unavailable"
        session.expire_all()
        request = session.get(DsrRequest, request_id)
        assert request is not None and request.status == "in_progress"
        assert request.error is None
        done = set(
            session.scalars(
                select(DsrStep.name).where(
                    DsrStep.request_id == request_id, DsrStep.state == "done"
                )
            )
        )
        assert "delete:customers" in done and "shred" not in done  # half-way: rows gone
        officer = bearer(issue_key("compliance_officer"))
        shown = http.get(f"/v1/jobs/{job_id}", headers=officer).get_json()
        assert shown["state"] == "queued" and shown["waiting_on"] == "key_store"
        assert shown["waiting_since"] is not None
        page = http.get(f"/v1/requests/{request_id}", headers=officer).get_json()
        assert page["status"] == "in_progress" and page["job"]["waiting_on"] == "key_store"
    finally:
        own_keystore.back()  # type: ignore[operator]

    _when_due(runtime, job_id)
    assert run_job(patient, job_id) is JobState.SUCCEEDED

    session.expire_all()
    request = session.get(DsrRequest, request_id)
    assert request is not None and request.status == "completed"
    assert request.result["steps"]["shred"]["shredded"] is True  # type: ignore[index]
    stored = patient.keys.keystore.fetch([sid]).get(sid)
    assert stored is not None and stored.shredded
    job = _job(runtime, job_id)
    assert job.waiting_on is None and job.waiting_since is None
    requests = _events(runtime, "request.")
    assert not [
        d
        for a, d in requests
        if d.get("target", {}).get("record_id") == request_id and a == "request.failed"
    ]
    assert "retries_exhausted" not in json.dumps(_events(runtime, "job."))
    assert not [
        a for a, d in _events(runtime, "job.dead") if d.get("target", {}).get("record_id") == job_id
    ]


def test_past_the_outage_budget_a_job_with_no_half_done_erasure_is_given_up(
    runtime: Runtime, session: Session, patient: Runtime, own_keystore: OwnKeyStore
) -> None:
    settings = dataclasses.replace(patient.settings, job_outage_seconds=0, job_max_attempts=2)
    impatient = dataclasses.replace(patient, settings=settings)
    _, request_id, job_id = _started(patient, session, "access")
    with unit_of_work(runtime.sessions) as s:
        s.get(Job, job_id).max_attempts = 2  # type: ignore[union-attr]
    own_keystore.away()  # type: ignore[operator]
    try:
        assert run_job(impatient, job_id) is JobState.QUEUED
        _when_due(runtime, job_id)
        assert run_job(impatient, job_id) is JobState.DEAD
    finally:
        own_keystore.back()  # type: ignore[operator]
    session.expire_all()
    request = session.get(DsrRequest, request_id)
    assert request is not None and request.status == "failed"
    assert request.error == "retries_exhausted"
