"""Scale-out: two `governance serve` instances and two `governance worker` processes on one
PostgreSQL and one Redis. Data-subject requests and policy reads go through both web
instances; every request completes exactly once (no step recorded twice) and the audit log
verifies. PostgreSQL only: it runs in the PostgreSQL pass of ./scripts/test."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.events import Actor
from audit.models import audit_entries
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.requests.services import RequestService
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.conftest import fresh_postgres_database
from tests.functional.governance.jobs.test_celery import Workers, _redis_url
from tests.functional.governance.requests.conftest import subject_records
from tests.functional.serving import served
from tests.migrated import migrated, migrated_keystore

OFFICER = Actor(id="officer-scale", role="compliance_officer")
REQUESTS = 6


def _call(port: int, method: str, path: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,  # noqa: S310
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310 - our server
        return answer.status, json.loads(answer.read() or b"{}")


def test_two_web_instances_and_two_workers_complete_every_request_exactly_once(
    tmp_path: Path,
) -> None:
    server = os.environ.get("GOVERNANCE_TEST_DATABASE_URL")
    if not server:
        pytest.skip("needs PostgreSQL: runs in the PostgreSQL pass of ./scripts/test")
    with contextlib.ExitStack() as stack:
        fresh = contextlib.contextmanager(fresh_postgres_database)
        crm, keystore = stack.enter_context(fresh(server)), stack.enter_context(fresh(server))
        migrated(crm)
        migrated_keystore(keystore)
        env = {
            **os.environ,
            "GOVERNANCE_DATABASE_URL": crm,
            "GOVERNANCE_KEYSTORE_URL": keystore,
            "GOVERNANCE_VAR_DIR": str(tmp_path / "var"),
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            "GOVERNANCE_TASK_RUNNER": "celery",
            "GOVERNANCE_BROKER_URL": _redis_url(),
            "GOVERNANCE_JOB_LEASE_SECONDS": "5",
        }
        (tmp_path / "var").mkdir(mode=0o700)
        runtime = open_runtime(Settings.from_env(env))
        stack.callback(runtime.dispose)
        with unit_of_work(runtime.sessions) as session:
            clients = ClientService(session)
            officer = clients.create("officer-scale", "compliance_officer", ()).key
            support = clients.create("support-scale", "application", ("customer_support",)).key
            service = RequestService(session, runtime, OFFICER)
            requests, readable = [], []
            for n in range(REQUESTS):
                ids = subject_records(
                    runtime.record_store(session),
                    email=f"scale.{n}.{uuid.uuid4().hex[:6]}@mail.example",
                )
                request = service.create("erasure", "gdpr", {"subject_id": ids["customers"][0]})
                service.verify(request.id, "signed letter")
                requests.append(request.id)
            for _ in range(4):
                readable.append(subject_records(runtime.record_store(session))["customers"][0])

        pool = Workers(env, tmp_path)
        stack.callback(pool.stop)
        pool.start()
        pool.start()
        ports = [stack.enter_context(served(env))[0], stack.enter_context(served(env))[0]]

        for n, request_id in enumerate(requests):
            status, body = _call(
                ports[n % 2], "POST", f"/v1/requests/{request_id}/execute", officer
            )
            assert status == 202 and body["status"] == "in_progress"
        for n, sid in enumerate(readable):
            status, body = _call(
                ports[n % 2], "GET", f"/v1/data/customers/{sid}?purpose=customer_support", support
            )
            assert status == 200 and body["id"] == sid

        def finished() -> bool:
            with runtime.sessions() as session:
                jobs = list(session.scalars(select(Job).where(Job.target_id.in_(requests))))
            return len(jobs) == REQUESTS and all(j.state == "succeeded" for j in jobs)

        deadline = time.monotonic() + 120
        while not finished():
            assert time.monotonic() < deadline, "the requests did not all complete"
            time.sleep(0.3)

        with runtime.sessions() as session:
            for request_id in requests:
                assert (
                    RequestService(session, runtime, OFFICER).get(request_id).status == "completed"
                )
            rows = (
                session.execute(
                    select(audit_entries.c.data).where(
                        audit_entries.c.action == "request.step.completed"
                    )
                )
                .scalars()
                .all()
            )
            workers = {j.worker for j in session.scalars(select(Job))}
        steps = [
            (json.loads(r)["target"]["record_id"], json.loads(r)["details"]["step"]) for r in rows
        ]
        assert len(steps) == len(set(steps))  # no step of any request recorded twice
        assert {rid for rid, _ in steps} == set(requests)
        assert len(workers) >= 1
        with unit_of_work(runtime.sessions) as session:
            runtime.audit.integrate(session, checkpoint=True)
        with runtime.sessions() as session:
            report = runtime.audit.verify(session)
        assert report.ok, report.problems
