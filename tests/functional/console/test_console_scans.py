"""The PII store scan pages: an officer starts a scan, follows its progress and reads the
findings where the data and the data map disagree (counts, never the values); one scan at a
time; bad input refused with nothing started."""

from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import func, select

from governance.pii.models import PiiScan
from tests.functional.console.conftest import Browser

PLANTED = "zed.planted@mail.example"


@pytest.fixture
def inline_app(runtime):  # noqa: ANN001, ANN201
    from api import create_app

    settings = dataclasses.replace(runtime.settings, task_runner="inline", pii_scan_sample=20)
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False)


@pytest.fixture
def officer(inline_app, make_user) -> Browser:  # noqa: ANN001
    browser = Browser(inline_app.test_client())
    assert browser.login(make_user("compliance_officer").name).status_code == 302
    return browser


def _scans(session) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(PiiScan))


def test_an_officer_starts_a_scan_and_reads_its_findings_without_the_values(
    officer, session, runtime
) -> None:  # noqa: ANN001
    runtime.record_store(session).create(
        "customers",
        {
            "first_name": "Zed",
            "last_name": "Planted",
            "email": "zed@mail.example",
            "job_title": f"write to {PLANTED} please",
            "country": "ZZ",
        },
    )
    session.commit()
    started = officer.post("/console/pii/scans", "/console/pii/scans", {"sample": "20"})
    assert started.status_code == 303
    scan_id = re.search(r"/console/pii/scans/([0-9a-f]{32})$", started.headers["Location"])[1]
    started.close()  # the inline runner runs the scan once the response is done
    page = officer.http.get(f"/console/pii/scans/{scan_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'id="scan-state">completed' in html
    finding = re.search(r'<tr id="finding-customers-job_title-[0-9]+">(.*?)</tr>', html, re.S)
    assert finding and "EMAIL_ADDRESS" in finding[1]
    assert PLANTED not in html
    listing = officer.http.get("/console/pii/scans").get_data(as_text=True)
    assert f"/console/pii/scans/{scan_id}" in listing


def test_while_a_scan_is_queued_starting_another_shows_that_one(officer, session, runtime) -> None:  # noqa: ANN001
    queued, _ = runtime.pii_scans().request(session, sample=5, requested_by="cli:test")
    session.commit()
    before = _scans(session)
    again = officer.post("/console/pii/scans", "/console/pii/scans", {"sample": "20"})
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/console/pii/scans/{queued.id}")
    assert _scans(session) == before
    page = officer.http.get(f"/console/pii/scans/{queued.id}").get_data(as_text=True)
    assert 'id="scan-state">queued' in page and 'http-equiv="refresh"' in page


@pytest.mark.parametrize("sample", ["0", "x", "1000001"])
def test_a_bad_sample_size_is_refused_next_to_the_field_and_starts_nothing(
    officer, session, sample
) -> None:  # noqa: ANN001
    before = _scans(session)
    refused = officer.post("/console/pii/scans", "/console/pii/scans", {"sample": sample})
    assert refused.status_code == 422 and 'id="sample-error"' in refused.get_data(as_text=True)
    assert _scans(session) == before


def test_an_unknown_scan_is_a_404_page(officer) -> None:  # noqa: ANN001
    missing = officer.http.get("/console/pii/scans/nope")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def test_an_auditor_may_not_open_or_start_scans(browser, signed_in, session) -> None:  # noqa: ANN001
    signed_in("auditor")
    assert browser.http.get("/console/pii/scans").status_code == 403
    before = _scans(session)
    refused = browser.post("/console/audit", "/console/pii/scans", {"sample": "5"})
    assert refused.status_code == 403 and _scans(session) == before
