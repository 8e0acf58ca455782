"""GET /v1/jobs, GET /v1/jobs/{id}, POST /v1/jobs/{id}/retry: bad input is a 4xx problem
that changes nothing, and only admins and compliance officers see jobs."""

from __future__ import annotations

import pytest

from audit.events import Actor
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.jobs.service import JobKind, Jobs
from tests.conftest import bearer

SYSTEM = Actor(id="system", role="system")


@pytest.fixture
def job_id(runtime) -> str:  # noqa: ANN001
    with unit_of_work(runtime.sessions) as session:
        job, _ = Jobs(session).enqueue(JobKind.EXPORTS_PURGE, actor=SYSTEM)
        return job.id


@pytest.mark.parametrize(
    "query", ["state=bogus", "kind=nothing.such", "limit=0", "limit=501", "email=a@b.example"]
)
def test_a_bad_jobs_query_is_a_422_problem(http, issue_key, query: str) -> None:  # noqa: ANN001
    response = http.get(f"/v1/jobs?{query}", headers=bearer(issue_key("compliance_officer")))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_a_forged_cursor_is_a_400_problem(http, issue_key) -> None:  # noqa: ANN001
    response = http.get("/v1/jobs?cursor=forged", headers=bearer(issue_key("admin")))
    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/invalid-cursor")


def test_an_unknown_job_is_a_404_problem(http, issue_key) -> None:  # noqa: ANN001
    officer = bearer(issue_key("compliance_officer"))
    assert http.get("/v1/jobs/" + "0" * 32, headers=officer).status_code == 404
    response = http.post("/v1/jobs/" + "0" * 32 + "/retry", headers=officer)
    assert response.status_code == 404
    assert response.get_json()["type"].endswith("/job-not-found")


def test_retrying_a_job_that_is_not_dead_is_a_409_and_changes_nothing(
    http, issue_key, runtime, job_id: str
) -> None:  # noqa: ANN001
    response = http.post(f"/v1/jobs/{job_id}/retry", headers=bearer(issue_key("admin")))
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/job-not-retryable")
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "queued" and job.max_attempts == 5


@pytest.mark.parametrize("role", ["application", "auditor"])
def test_applications_and_auditors_see_no_jobs(http, issue_key, role: str, job_id: str) -> None:  # noqa: ANN001
    key = bearer(issue_key(role, "customer_support") if role == "application" else issue_key(role))
    assert http.get("/v1/jobs", headers=key).status_code == 403
    assert http.get(f"/v1/jobs/{job_id}", headers=key).status_code == 403


def _dead(runtime, kind: JobKind) -> str:  # noqa: ANN001
    with unit_of_work(runtime.sessions) as session:
        job, _ = Jobs(session).enqueue(
            kind, "0" * 32, actor=Actor(id="officer-x", role="compliance_officer")
        )
        job.state, job.attempts, job.error_code = "dead", job.max_attempts, "unexpected"
        return job.id


def test_an_admin_may_not_retry_an_erasure_that_only_an_officer_may_execute(
    http, issue_key, runtime
) -> None:  # noqa: ANN001
    job_id = _dead(runtime, JobKind.REQUEST_EXECUTE)

    response = http.post(f"/v1/jobs/{job_id}/retry", headers=bearer(issue_key("admin")))

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert "requests.manage" in response.get_json()["detail"]
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "dead" and job.max_attempts == 5


def test_an_officer_may_not_retry_a_key_rotation_that_only_an_admin_may_start(
    http, issue_key, runtime
) -> None:  # noqa: ANN001
    job_id = _dead(runtime, JobKind.KEYS_ROTATE)

    response = http.post(
        f"/v1/jobs/{job_id}/retry", headers=bearer(issue_key("compliance_officer"))
    )

    assert response.status_code == 403
    with runtime.sessions() as session:
        assert session.get(Job, job_id).state == "dead"  # type: ignore[union-attr]
