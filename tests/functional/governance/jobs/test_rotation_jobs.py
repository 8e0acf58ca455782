"""KEK rotation through the jobs table (issue 14 item 9): one rotation at a time, however
many workers try to resume it, with exact counts; and a POST that died after recording its
job still ends in a complete, audited rotation, taken up by the reaper."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import select

from audit.events import Actor
from audit.models import audit_entries
from governance.db import unit_of_work
from governance.jobs.models import Job, JobState
from governance.jobs.reaper import reap
from governance.jobs.service import JobKind, Jobs, claim
from governance.jobs.work import run_job
from governance.keys.rotation import ROTATION
from governance.runtime import Runtime
from tests.functional.governance.keys.conftest import own_runtime  # noqa: F401 - fixture
from tests.functional.governance.keys.test_rotation import fill, readable

ADMIN = Actor(id="admin-rotation", role="admin")


def _rotation_job(rt: Runtime) -> str:
    with unit_of_work(rt.sessions) as session:
        job, _ = Jobs(session).enqueue(JobKind.KEYS_ROTATE, actor=ADMIN, exclusive="keys.rotate")
        return job.id


def _actions(rt: Runtime) -> list[str]:
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session)
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(audit_entries.c.action)
                .where(audit_entries.c.action.like("key.%"))
                .order_by(audit_entries.c.id)
            )
        )


def test_two_workers_resuming_one_rotation_rewrap_each_key_once(own_runtime) -> None:  # noqa: ANN001, F811
    rt = own_runtime()
    emails = fill(rt, 400)
    job_id = _rotation_job(rt)
    outcomes: list[JobState | None] = []

    workers = [
        threading.Thread(target=lambda: outcomes.append(run_job(rt, job_id))) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert sorted(outcomes, key=str) == sorted([JobState.SUCCEEDED, None], key=str)
    assert rt.keys.keystore.running_job(ROTATION) is None  # done
    assert rt.keys.keystore.count_by_version() == {2: 400}
    rotated = [a for a in _actions(rt) if a == "key.rotated"]
    assert rotated == ["key.rotated"]  # one rotation, audited once
    with rt.sessions() as session:
        data = session.scalar(
            select(audit_entries.c.data).where(audit_entries.c.action == "key.rotated")
        )
    assert json.loads(data)["details"]["count"] == 400  # exact, not twice
    assert readable(rt, emails)


def test_a_second_rotation_request_joins_the_open_one(own_runtime) -> None:  # noqa: ANN001, F811
    rt = own_runtime()
    first = _rotation_job(rt)
    assert _rotation_job(rt) == first


def test_a_rotation_whose_request_died_after_recording_its_job_completes(own_runtime) -> None:  # noqa: ANN001, F811
    rt = own_runtime()
    emails = fill(rt, 50)
    job_id = _rotation_job(rt)  # the POST committed its job, then the process was killed
    with unit_of_work(rt.sessions) as session:  # ... while a worker had claimed it
        claim(session, job_id, "killed-web-worker", timedelta(seconds=-1))

    delivered: list[str] = []
    reap(rt, delivered.extend)
    assert delivered == [job_id]
    assert run_job(rt, job_id) is JobState.SUCCEEDED

    assert rt.keys.keystore.count_by_version() == {2: 50}
    actions = _actions(rt)
    assert {"key.kek.created", "key.rotation.started", "key.rotated"} <= set(actions)
    with rt.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "succeeded" and job.attempts == 2
    assert readable(rt, emails)
