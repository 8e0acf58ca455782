"""The retention page: an officer sees what is due per rule (counts, never a record id),
starts a sweep that runs in the background and shows in the recent runs; a dry run changes
nothing; a bad batch size is refused next to the field; an auditor may not open it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from governance.retention.models import RetentionRun
from tests.functional.console.conftest import Browser
from tests.functional.governance.requests.conftest import subject_records


@pytest.fixture
def inline_app(runtime):  # noqa: ANN001, ANN201
    from api import create_app

    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False)


@pytest.fixture
def officer(inline_app, make_user) -> Browser:  # noqa: ANN001
    browser = Browser(inline_app.test_client())
    assert browser.login(make_user("compliance_officer").name).status_code == 302
    return browser


@pytest.fixture
def expired_event(runtime, session) -> str:  # noqa: ANN001
    store = runtime.record_store(session)
    sid = subject_records(store)["customers"][0]
    event = store.create(
        "web_events",
        {"page": "/old", "occurred_at": (datetime.now(UTC) - timedelta(days=500)).isoformat()},
        subject_id=sid,
    ).id
    session.commit()
    return event


def _runs(session) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(RetentionRun))


def _event_exists(runtime, session, event_id: str) -> bool:  # noqa: ANN001
    table = runtime.tables["web_events"]
    session.expire_all()
    return session.execute(table.select().where(table.c.id == event_id)).first() is not None


def test_the_plan_shows_counts_per_rule_and_no_record_id(officer, expired_event) -> None:  # noqa: ANN001
    page = officer.http.get("/console/retention")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert '<tr id="rule-delete-web_events">' in html
    row = html.split('<tr id="rule-delete-web_events">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="due">1</td>' in row
    assert expired_event not in html
    assert 'href="/console/retention"' in html  # in the navigation


def test_an_officer_starts_a_sweep_that_removes_what_is_due(
    officer, runtime, session, expired_event
) -> None:  # noqa: ANN001
    started = officer.post("/console/retention", "/console/retention/runs", {})
    assert started.status_code == 303 and started.headers["Location"].endswith("/console/retention")
    started.close()  # the inline runner sweeps once the response is done
    run = session.scalars(select(RetentionRun).order_by(RetentionRun.created_at.desc())).first()
    session.refresh(run)
    assert run.state == "completed" and not run.dry_run
    assert not _event_exists(runtime, session, expired_event)
    html = officer.http.get("/console/retention").get_data(as_text=True)
    assert f'<tr id="run-{run.id}">' in html and "deleted 1" in html


def test_a_dry_run_records_the_plan_and_changes_nothing(
    officer, runtime, session, expired_event
) -> None:  # noqa: ANN001
    started = officer.post("/console/retention", "/console/retention/runs", {"dry_run": "y"})
    assert started.status_code == 303
    started.close()
    run = session.scalars(select(RetentionRun).order_by(RetentionRun.created_at.desc())).first()
    assert run.dry_run
    assert _event_exists(runtime, session, expired_event)


@pytest.mark.parametrize("size", ["0", "x", "10001"])
def test_a_bad_batch_size_is_refused_next_to_the_field_and_starts_nothing(
    officer, session, size
) -> None:  # noqa: ANN001
    before = _runs(session)
    refused = officer.post("/console/retention", "/console/retention/runs", {"batch_size": size})
    assert refused.status_code == 422
    assert 'id="batch_size-error"' in refused.get_data(as_text=True)
    assert _runs(session) == before


def test_a_start_without_the_csrf_token_is_refused(officer, session) -> None:  # noqa: ANN001
    before = _runs(session)
    assert officer.http.post("/console/retention/runs", data={}).status_code == 400
    assert _runs(session) == before


def test_an_auditor_may_not_open_the_page_or_start_a_sweep(browser, signed_in, session) -> None:  # noqa: ANN001
    signed_in("auditor")
    page = browser.http.get("/console/retention")
    assert page.status_code == 403
    home = browser.http.get("/console/audit").get_data(as_text=True)
    assert 'href="/console/retention"' not in home
    before = _runs(session)
    refused = browser.post("/console/audit", "/console/retention/runs", {})
    assert refused.status_code == 403 and _runs(session) == before


def test_an_admin_may_open_the_page(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("admin")
    assert browser.http.get("/console/retention").status_code == 200
