"""Jobs on real `governance worker` (Celery) processes over the Redis CI starts: a request
executed over HTTP runs on a worker; a worker SIGKILLed in the middle of an erasure leaves
the job to the reaper, and another worker completes it with every step recorded once; a
broker that is down when a job is created loses nothing.

These tests need Redis on 127.0.0.1:6379 (``./scripts/test`` starts it) and fail, rather
than skip, when it is missing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from api import create_app
from audit.events import Actor
from audit.models import audit_entries
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.jobs.reaper import reap
from governance.keys.rotation import ROTATION
from governance.keys.status import key_status
from governance.requests.models import DsrStep
from governance.requests.services import RequestService
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.conftest import bearer, redis_db
from tests.functional.governance.requests.conftest import subject_records
from tests.functional.governance.requests.test_crash import crash_env  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[4]
OFFICER = Actor(id="officer-celery", role="compliance_officer")
# apart from what a developer's own Redis holds in 0: one database per test process (the
# tests flush it), see tests/conftest.py
REDIS_DB = redis_db()


def _redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.fail(
            "Redis is not reachable on 127.0.0.1:6379; ./scripts/test starts it "
            "(apt package redis-server)"
        )
    return url


@pytest.fixture
def celery_env(crash_env: dict[str, str]) -> dict[str, str]:  # noqa: F811
    return {
        **crash_env,
        "GOVERNANCE_TASK_RUNNER": "celery",
        "GOVERNANCE_BROKER_URL": _redis_url(),
        "GOVERNANCE_JOB_LEASE_SECONDS": "2",
        "GOVERNANCE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def runtime_of(celery_env: dict[str, str]) -> Iterator[Runtime]:
    runtime = open_runtime(Settings.from_env(celery_env))
    yield runtime
    runtime.dispose()


class Workers:
    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp, self.processes = env, tmp, []  # type: ignore[var-annotated]

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [
                sys.executable,
                "-m",
                "tests.functional.governance.jobs.paused_cli",
                "worker",
                "--concurrency",
                "1",
            ],
            cwd=ROOT,
            env={**os.environ, **self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        # Killed, not asked to stop: a worker still draining would take the next test's
        # messages from the shared Redis and find no such job in its own database.
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)


@pytest.fixture
def workers(celery_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(celery_env, tmp_path)
    yield pool
    pool.stop()


def _erasure(runtime: Runtime) -> tuple[str, str]:
    with unit_of_work(runtime.sessions) as session:
        ids = subject_records(
            runtime.record_store(session), email=f"celery.{uuid.uuid4().hex[:6]}@mail.example"
        )
        service = RequestService(session, runtime, OFFICER)
        request = service.create("erasure", "gdpr", {"subject_id": ids["customers"][0]})
        service.verify(request.id, "signed letter")
        return request.id, ids["customers"][0]


def _officer(runtime: Runtime) -> str:
    with unit_of_work(runtime.sessions) as session:
        return (
            ClientService(session)
            .create(f"officer-{uuid.uuid4().hex[:6]}", "compliance_officer", ())
            .key
        )


def _wait_for(condition, seconds: float, what: str, logs: Path) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text(errors="replace")[-1500:] for p in logs.glob("*.log"))
            pytest.fail(f"{what} did not happen within {seconds:.0f} s\n{tails}")
        time.sleep(0.2)


def _status(runtime: Runtime, request_id: str) -> str:
    with runtime.sessions() as session:
        return RequestService(session, runtime, OFFICER).get(request_id).status


def _done(runtime: Runtime, request_id: str) -> bool:
    """The request completed and its job recorded that it succeeded."""
    with runtime.sessions() as session:
        job = session.scalar(
            select(Job).where(Job.target_id == request_id).order_by(Job.created_at.desc()).limit(1)
        )
    return (
        _status(runtime, request_id) == "completed" and job is not None and job.state == "succeeded"
    )


def test_a_request_executed_over_http_runs_on_a_celery_worker(
    runtime_of: Runtime, workers: Workers, tmp_path: Path
) -> None:
    workers.start()
    request_id, _ = _erasure(runtime_of)
    http = create_app(runtime=runtime_of, background_integrator=False).test_client()

    started = http.post(f"/v1/requests/{request_id}/execute", headers=bearer(_officer(runtime_of)))

    assert started.status_code == 202, started.get_data(as_text=True)
    _wait_for(lambda: _done(runtime_of, request_id), 90, "the erasure on the worker", tmp_path)
    with runtime_of.sessions() as session:
        job = session.scalar(select(Job).where(Job.target_id == request_id))
        assert job is not None and job.state == "succeeded" and job.attempts == 1
        assert (job.worker or "").startswith("celery:")


def test_a_worker_killed_mid_erasure_leaves_it_to_another_that_completes_it_once(
    runtime_of: Runtime, workers: Workers, tmp_path: Path
) -> None:
    marker = tmp_path / "paused"
    paused = workers.start(
        GOVERNANCE_TEST_PAUSE_AT="delete:interactions", GOVERNANCE_TEST_PAUSE_MARKER=str(marker)
    )
    request_id, sid = _erasure(runtime_of)
    http = create_app(runtime=runtime_of, background_integrator=False).test_client()
    assert (
        http.post(
            f"/v1/requests/{request_id}/execute", headers=bearer(_officer(runtime_of))
        ).status_code
        == 202
    )
    _wait_for(marker.exists, 90, "the worker reaching the pause", tmp_path)

    workers.kill(paused)  # SIGKILL: no on_failure, no ack, nothing said
    workers.start()
    time.sleep(2.5)  # the killed worker's lease (2 s) lapses
    reap(runtime_of, runtime_of.task_runner.deliver)  # what `governance scheduler` runs
    _wait_for(
        lambda: _done(runtime_of, request_id), 90, "the erasure on the second worker", tmp_path
    )

    with runtime_of.sessions() as session:
        steps = list(session.scalars(select(DsrStep).where(DsrStep.request_id == request_id)))
        assert all(s.state == "done" for s in steps)
        completed = (
            session.execute(
                select(audit_entries.c.data).where(
                    audit_entries.c.action == "request.step.completed"
                )
            )
            .scalars()
            .all()
        )
        job = session.scalar(select(Job).where(Job.target_id == request_id))
    names = [
        json.loads(d)["details"]["step"]
        for d in completed
        if json.loads(d)["target"].get("record_id") == request_id
    ]
    assert sorted(names) == sorted(s.name for s in steps)  # each step recorded once
    assert job is not None and job.state == "succeeded" and job.attempts == 2
    key = runtime_of.keys.keystore.fetch([sid]).get(sid)
    assert key is not None and key.shredded


def test_a_broker_down_when_the_job_is_created_loses_nothing(
    runtime_of: Runtime, tmp_path: Path
) -> None:
    request_id, _ = _erasure(runtime_of)
    down = dataclasses.replace(
        runtime_of,
        settings=dataclasses.replace(runtime_of.settings, broker_url="redis://127.0.0.1:1/0"),
        task_runner=None,
    )
    http = create_app(runtime=down, background_integrator=False).test_client()

    response = http.post(f"/v1/requests/{request_id}/execute", headers=bearer(_officer(runtime_of)))

    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/broker-unavailable") and body["job_ids"]
    with runtime_of.sessions() as session:
        job = session.get(Job, body["job_ids"][0])
        assert job is not None and job.state == "queued"  # recorded, waiting for delivery
    inline = dataclasses.replace(
        runtime_of,
        settings=dataclasses.replace(runtime_of.settings, task_runner="inline"),
        task_runner=None,
    )
    reap(inline, inline.task_runner.deliver)  # the broker is back: the reaper delivers it
    assert _status(runtime_of, request_id) == "completed"


def test_readyz_says_degraded_when_the_broker_does_not_answer(runtime_of: Runtime) -> None:
    up = create_app(runtime=runtime_of, background_integrator=False).test_client()
    down = dataclasses.replace(
        runtime_of,
        settings=dataclasses.replace(runtime_of.settings, broker_url="redis://127.0.0.1:1/0"),
        task_runner=None,
    )
    degraded = create_app(runtime=down, background_integrator=False).test_client()

    assert up.get("/readyz").get_json() == {"status": "ready", "broker": "ok"}
    answer = degraded.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "degraded", "broker": "unreachable"}


def test_a_worker_killed_mid_rotation_leaves_it_to_another_that_rewraps_each_key_once(
    runtime_of: Runtime, workers: Workers, tmp_path: Path
) -> None:
    with unit_of_work(runtime_of.sessions) as session:
        store = runtime_of.record_store(session)
        for n in range(200):
            store.create(
                "customers",
                {"first_name": "Ada", "last_name": "Fictional", "email": f"rot{n}@mail.example"},
            )
        admin = ClientService(session).create("admin-rotation", "admin", ()).key
    marker = tmp_path / "paused"
    paused = workers.start(
        GOVERNANCE_TEST_PAUSE_AT="rotation-batch", GOVERNANCE_TEST_PAUSE_MARKER=str(marker)
    )
    http = create_app(runtime=runtime_of, background_integrator=False).test_client()
    assert http.post("/v1/keys/rotate", headers=bearer(admin)).status_code == 202
    _wait_for(marker.exists, 90, "the worker rewrapping its first batch", tmp_path)

    workers.kill(paused)
    workers.start()
    time.sleep(2.5)  # the killed worker's lease lapses
    reap(runtime_of, runtime_of.task_runner.deliver)

    def rotated() -> bool:
        with runtime_of.sessions() as session:
            job = session.scalar(select(Job).where(Job.kind == "keys.rotate"))
        return job is not None and job.state == "succeeded"

    _wait_for(rotated, 90, "the rotation on the second worker", tmp_path)
    assert runtime_of.keys.keystore.running_job(ROTATION) is None
    assert runtime_of.keys.keystore.count_by_version() == {2: 200}
    with runtime_of.sessions() as session:
        job = session.scalar(select(Job).where(Job.kind == "keys.rotate"))
        done = (
            session.execute(
                select(audit_entries.c.data).where(audit_entries.c.action == "key.rotated")
            )
            .scalars()
            .all()
        )
    assert job is not None and job.attempts == 2
    assert len(done) == 1  # one rotation, audited once: 50 keys before the kill, the rest after
    assert [json.loads(d)["details"]["count"] for d in done] == [150]
    assert key_status(runtime_of.keys)["rotation"]["processed"] == 200  # exact, not doubled
