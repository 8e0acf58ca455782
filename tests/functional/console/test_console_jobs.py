"""The background jobs pages (admins and officers): the list with kind and state filters, a
job's page, and a retry of a dead or failed job from the page, audited with the person as
the actor; a job that is not dead or failed is not retried; bad filters are refused."""

from __future__ import annotations

import dataclasses

import pytest

from audit.events import Actor
from governance.jobs.models import Job
from governance.jobs.service import JobKind, Jobs
from tests.functional.console.conftest import Browser


@pytest.fixture
def inline_app(runtime):  # noqa: ANN001, ANN201
    from api import create_app

    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False)


def _as(inline_app, make_user, role: str) -> tuple[Browser, object]:  # noqa: ANN001
    browser = Browser(inline_app.test_client())
    user = make_user(role)
    assert browser.login(user.name).status_code == 302
    return browser, user


def _job(session, kind: JobKind, state: str) -> str:  # noqa: ANN001
    job, _ = Jobs(session).enqueue(kind, actor=Actor(id="cli:test", role="operator"))
    job.state, job.attempts = state, job.max_attempts
    job.error_code, job.error_message = "store_unavailable", "the key store did not answer"
    session.commit()
    return job.id


def test_the_list_filters_by_kind_and_state_and_links_each_job(
    inline_app, make_user, session
) -> None:  # noqa: ANN001
    dead = _job(session, JobKind.EXPORTS_PURGE, "dead")
    done = _job(session, JobKind.AUDIT_INTEGRATE, "succeeded")
    officer, _ = _as(inline_app, make_user, "compliance_officer")
    page = officer.http.get("/console/jobs?state=dead")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f"/console/jobs/{dead}" in html and f"/console/jobs/{done}" not in html
    html = officer.http.get("/console/jobs?kind=audit.integrate").get_data(as_text=True)
    assert f"/console/jobs/{done}" in html and f"/console/jobs/{dead}" not in html
    html = officer.http.get("/console/jobs").get_data(as_text=True)
    assert f"/console/jobs/{done}" in html and f"/console/jobs/{dead}" in html


def test_a_dead_job_is_retried_from_its_page_under_the_persons_name(
    inline_app, make_user, session, runtime
) -> None:  # noqa: ANN001
    dead = _job(session, JobKind.EXPORTS_PURGE, "dead")
    admin, user = _as(inline_app, make_user, "admin")
    page = admin.http.get(f"/console/jobs/{dead}").get_data(as_text=True)
    assert 'id="job-state">dead' in page and "store_unavailable" in page
    retried = admin.post(f"/console/jobs/{dead}", f"/console/jobs/{dead}/retry")
    assert retried.status_code == 303 and retried.headers["Location"] == f"/console/jobs/{dead}"
    retried.close()  # the inline runner runs it once the response is done
    session.expire_all()
    assert session.get(Job, dead).state != "dead"
    runtime.audit.integrate(session)
    retries = [e.document for e in runtime.audit.events(session, action="job.retried", limit=10)]
    assert [d["actor"]["id"] for d in retries] == [f"user:{user.id}"]
    assert retries[0]["target"]["record_id"] == dead


def test_a_job_that_is_not_dead_or_failed_is_not_retried(inline_app, make_user, session) -> None:  # noqa: ANN001
    done = _job(session, JobKind.AUDIT_INTEGRATE, "succeeded")
    officer, _ = _as(inline_app, make_user, "compliance_officer")
    page = officer.http.get(f"/console/jobs/{done}").get_data(as_text=True)
    assert f"/console/jobs/{done}/retry" not in page  # no button where it cannot work
    refused = officer.post(f"/console/jobs/{done}", f"/console/jobs/{done}/retry")
    assert refused.status_code == 409 and "only a dead or failed job" in refused.get_data(
        as_text=True
    )
    session.expire_all()
    assert session.get(Job, done).state == "succeeded"


@pytest.mark.parametrize("query", ["state=bogus", "kind=nope", "after=forged"])
def test_bad_filters_are_refused_next_to_the_field(inline_app, make_user, query) -> None:  # noqa: ANN001
    officer, _ = _as(inline_app, make_user, "compliance_officer")
    refused = officer.http.get(f"/console/jobs?{query}")
    assert refused.status_code == 422 and refused.mimetype == "text/html"
    assert 'class="error"' in refused.get_data(as_text=True) or "alert" in refused.get_data(
        as_text=True
    )


def test_an_unknown_job_is_a_404_page(inline_app, make_user) -> None:  # noqa: ANN001
    officer, _ = _as(inline_app, make_user, "compliance_officer")
    assert officer.http.get("/console/jobs/nope").status_code == 404


def test_an_auditor_may_not_open_or_retry_jobs(inline_app, make_user, session) -> None:  # noqa: ANN001
    dead = _job(session, JobKind.EXPORTS_PURGE, "dead")
    auditor, _ = _as(inline_app, make_user, "auditor")
    assert auditor.http.get("/console/jobs").status_code == 403
    refused = auditor.post("/console/audit", f"/console/jobs/{dead}/retry")
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(Job, dead).state == "dead"


def test_an_admin_may_not_retry_an_officers_erasure_from_its_page(
    inline_app, make_user, session
) -> None:  # noqa: ANN001
    dead = _job(session, JobKind.REQUEST_EXECUTE, "dead")
    admin, _ = _as(inline_app, make_user, "admin")
    refused = admin.post(f"/console/jobs/{dead}", f"/console/jobs/{dead}/retry")
    assert refused.status_code == 403 and "requests.manage" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Job, dead).state == "dead"


def test_a_job_waiting_out_an_outage_says_on_what(inline_app, make_user, session) -> None:  # noqa: ANN001
    from governance.jobs.service import now

    waiting = _job(session, JobKind.EXPORTS_PURGE, "queued")
    job = session.get(Job, waiting)
    job.waiting_on, job.waiting_since = "key_store", now()
    session.commit()
    officer, _ = _as(inline_app, make_user, "compliance_officer")
    page = officer.http.get(f"/console/jobs/{waiting}").get_data(as_text=True)
    assert 'id="job-waiting">the key store, unreachable since' in page
