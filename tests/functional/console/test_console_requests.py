"""The officer's request pages through the test client, with execution inline: the queue
with its counts, filters and search, intake, verification, execution and the export, the
extension, and no e-mail address on any page."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from governance.requests.services import RequestService
from tests.functional.console.conftest import Browser
from tests.functional.governance.requests.conftest import OFFICER, subject_records

EMAIL = "console.subject@mail.example"


@pytest.fixture
def inline_app(runtime):  # noqa: ANN001, ANN201
    from api import create_app

    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False)


@pytest.fixture
def officer(inline_app, make_user) -> Browser:  # noqa: ANN001
    browser = Browser(inline_app.test_client())
    user = make_user("compliance_officer")
    assert browser.login(user.name).status_code == 302
    return browser


@pytest.fixture
def subject(session, runtime) -> str:  # noqa: ANN001
    ids = subject_records(runtime.record_store(session), email=EMAIL)
    session.commit()
    return ids["customers"][0]


def _request_id(response) -> str:  # noqa: ANN001
    match = re.search(r"/console/requests/([0-9a-f]{32})$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def test_intake_by_email_then_verify_execute_and_download_the_export(officer, subject) -> None:  # noqa: ANN001
    created = officer.post(
        "/console/requests/new",
        "/console/requests/new",
        {"type": "access", "regulation": "gdpr", "email": EMAIL},
    )
    assert created.status_code == 303
    rid = _request_id(created)
    page = officer.http.get(f"/console/requests/{rid}").get_data(as_text=True)
    assert "received" in page and subject in page and EMAIL not in page
    verified = officer.post(
        f"/console/requests/{rid}", f"/console/requests/{rid}/verify", {"method": "email_code"}
    )
    assert verified.status_code == 303
    executed = officer.post(f"/console/requests/{rid}", f"/console/requests/{rid}/execute")
    assert executed.status_code == 303
    executed.close()  # the steps run once the response is done (inline here)
    page = officer.http.get(f"/console/requests/{rid}").get_data(as_text=True)
    assert 'id="status">completed' in page and "download-export" in page
    assert "request.step.completed" in page  # the timeline, from the audit log
    download = officer.http.get(f"/console/requests/{rid}/export")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Cache-Control"] == "no-store"
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert "data.json" in names and "index.html" in names


def test_the_queue_shows_the_overdue_request_in_red_with_the_counts(
    officer, subject, session, runtime
) -> None:  # noqa: ANN001
    late = RequestService(session, runtime, OFFICER).create(
        "access",
        "gdpr",
        {"subject_id": subject},
        received_at=datetime.now(UTC) - timedelta(days=45),
    )
    session.commit()
    page = officer.http.get("/console/requests?due=overdue").get_data(as_text=True)
    assert f"/console/requests/{late.id}" in page
    assert re.search(r'<tr class="overdue">\s*<td><a href="/console/requests/' + late.id, page)
    assert re.search(r'id="count-overdue">[1-9]', page)
    other = officer.http.get("/console/requests?type=erasure").get_data(as_text=True)
    assert late.id not in other


def test_a_search_by_email_is_posted_and_never_echoed(officer, subject, session, runtime) -> None:  # noqa: ANN001
    made = RequestService(session, runtime, OFFICER).create(
        "erasure", "gdpr", {"subject_id": subject}
    )
    session.commit()
    found = officer.post("/console/requests", "/console/requests/search", {"q": EMAIL})
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and made.id in html and EMAIL not in html


def test_a_refused_step_shows_why_on_the_page_and_changes_nothing(
    officer, subject, session, runtime
) -> None:  # noqa: ANN001
    made = RequestService(session, runtime, OFFICER).create(
        "access", "gdpr", {"subject_id": subject}
    )
    session.commit()
    refused = officer.post(f"/console/requests/{made.id}", f"/console/requests/{made.id}/execute")
    assert refused.status_code == 409
    assert "verified before" in refused.get_data(as_text=True)
    assert 'id="status">received' in officer.http.get(f"/console/requests/{made.id}").get_data(
        as_text=True
    )


def test_a_gdpr_request_is_extended_once_and_shows_the_new_due_date(
    officer, subject, session, runtime
) -> None:  # noqa: ANN001
    made = RequestService(session, runtime, OFFICER).create(
        "erasure", "gdpr", {"subject_id": subject}
    )
    session.commit()
    before = made.due_at.date().isoformat()
    done = officer.post(
        f"/console/requests/{made.id}",
        f"/console/requests/{made.id}/extend",
        {"reason": "complexity"},
    )
    assert done.status_code == 303
    page = officer.http.get(f"/console/requests/{made.id}").get_data(as_text=True)
    due = re.search(r'id="due-date">([0-9-]+)<', page).group(1)
    assert due > before and "Extend the deadline" not in page


def test_intake_errors_are_shown_next_to_the_field(officer, subject) -> None:  # noqa: ANN001
    refused = officer.post(
        "/console/requests/new",
        "/console/requests/new",
        {"type": "opt_out", "regulation": "gdpr", "subject_id": subject},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(r'id="type-error">[^<]*under gdpr', html)
    refused = officer.post(
        "/console/requests/new",
        "/console/requests/new",
        {"type": "access", "regulation": "gdpr", "email": "zq zq@x"},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "zq zq" not in html and "email-error" in html


def test_a_subject_is_found_by_email_and_an_objection_is_recorded_by_the_officer(
    officer, subject, session
) -> None:  # noqa: ANN001
    found = officer.post("/console/subjects", "/console/subjects", {"email": EMAIL})
    assert found.status_code == 303 and found.headers["Location"].endswith(subject)
    page = officer.http.get(f"/console/subjects/{subject}").get_data(as_text=True)
    assert "Who accessed their data" in page and EMAIL not in page
    done = officer.post(
        f"/console/subjects/{subject}",
        f"/console/subjects/{subject}/objection",
        {"purpose": "email_marketing"},
    )
    assert done.status_code == 303
    page = officer.http.get(f"/console/subjects/{subject}").get_data(as_text=True)
    assert "object" in page and "officer" in page


def test_an_unknown_subject_is_a_page_saying_no_data_is_held(officer) -> None:  # noqa: ANN001
    missing = officer.post(
        "/console/subjects", "/console/subjects", {"email": "nobody.here@mail.example"}
    )
    html = missing.get_data(as_text=True)
    assert missing.status_code == 404 and 'id="not-found"' in html
    assert "nobody.here" not in html


def test_a_request_whose_execution_waits_out_an_outage_says_on_what(
    officer, session, runtime, subject: str
) -> None:  # noqa: ANN001
    from governance.jobs.service import JobKind, Jobs, now

    service = RequestService(session, runtime, OFFICER)
    request = service.create("erasure", "gdpr", {"subject_id": subject})
    service.verify(request.id, "signed letter")
    service.start(request.id)
    job, _ = Jobs(session).enqueue(JobKind.REQUEST_EXECUTE, request.id, actor=OFFICER)
    job.waiting_on, job.waiting_since = "key_store", now()
    session.commit()

    page = officer.http.get(f"/console/requests/{request.id}").get_data(as_text=True)

    assert 'id="status">in progress' in page
    assert 'id="waiting-on">the key store, unreachable since' in page
