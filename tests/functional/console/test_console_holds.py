"""The legal holds page: an officer places a hold (audited with the person as the actor),
sees it listed and releases it with a reason code, which resumes the erasure that waited on
it; bad input is refused next to the field with nothing placed and no value echoed; an
auditor and an admin may not open it."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from audit.models import audit_entries
from governance.retention.models import LegalHold
from tests.conftest import bearer
from tests.functional.console.conftest import Browser
from tests.functional.governance.requests.conftest import subject_records


@pytest.fixture
def inline_app(runtime):  # noqa: ANN001, ANN201
    from api import create_app

    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False)


@pytest.fixture
def person(make_user):  # noqa: ANN001, ANN201
    return make_user("compliance_officer")


@pytest.fixture
def officer(inline_app, person) -> Browser:  # noqa: ANN001
    browser = Browser(inline_app.test_client())
    assert browser.login(person.name).status_code == 302
    return browser


@pytest.fixture
def sid(runtime, session) -> str:  # noqa: ANN001
    sid = subject_records(runtime.record_store(session))["customers"][0]
    session.commit()
    return sid


def _holds(session) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(LegalHold))


def _only_hold(session) -> LegalHold:  # noqa: ANN001
    session.expire_all()
    return session.scalars(select(LegalHold)).one()


def test_an_officer_places_a_subject_hold_and_sees_it_listed(officer, person, session, sid) -> None:  # noqa: ANN001
    placed = officer.post(
        "/console/holds",
        "/console/holds",
        {"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "CASE-1"},
    )
    assert placed.status_code == 303 and placed.headers["Location"].endswith("/console/holds")
    hold = _only_hold(session)
    assert (hold.scope, hold.subject_id, hold.reason, hold.matter) == (
        "subject",
        sid,
        "litigation",
        "CASE-1",
    )
    assert hold.placed_by == person.actor_id
    placers = session.scalars(
        select(audit_entries.c.actor_id).where(audit_entries.c.action == "hold.placed")
    ).all()
    assert placers == [person.actor_id]
    page = officer.http.get("/console/holds")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    row = html.split(f'<tr id="hold-{hold.id}">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="state">active</td>' in row and "CASE-1" in row
    assert 'href="/console/holds"' in html  # in the navigation


def test_a_collection_hold_with_an_expiry_is_placed(officer, session) -> None:  # noqa: ANN001
    placed = officer.post(
        "/console/holds",
        "/console/holds",
        {
            "scope": "collection",
            "collection": "web_events",
            "reason": "tax_audit",
            "matter": "TAX-2026/1",
            "expires_at": "2099-01-31",
        },
    )
    assert placed.status_code == 303
    hold = _only_hold(session)
    assert (hold.collection, hold.subject_id) == ("web_events", None)
    assert hold.expires_at.date().isoformat() == "2099-02-01"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"scope": "subject", "reason": "litigation", "matter": "Smith v. Jones 2026"}, "matter"),
        ({"scope": "subject", "reason": "gut_feeling", "matter": "M-1"}, "reason"),
        ({"scope": "planet", "reason": "litigation", "matter": "M-1"}, "scope"),
        (
            {"scope": "collection", "collection": "leads", "reason": "litigation", "matter": "M-1"},
            "collection",
        ),
        ({"scope": "subject", "reason": "litigation", "matter": "M-1"}, "subject_id"),
        (
            {"scope": "subject", "subject_id": "nobody", "reason": "litigation", "matter": "M-1"},
            "subject_id",
        ),
        (
            {
                "scope": "subject",
                "reason": "litigation",
                "matter": "M-1",
                "expires_at": "2026-13-01",
            },
            "expires_at",
        ),
        (
            {
                "scope": "collection",
                "collection": "web_events",
                "reason": "litigation",
                "matter": "M-1",
                "expires_at": "2001-01-01",
            },
            "expires_at",
        ),
    ],
)
def test_a_bad_hold_is_refused_next_to_the_field_and_places_nothing(
    officer, session, sid, data, field
) -> None:  # noqa: ANN001
    refused = officer.post("/console/holds", "/console/holds", data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and f'id="{field}-error"' in html
    assert "Smith v. Jones" not in html.split(f'id="{field}-error"', 1)[1].split("</p>", 1)[0]
    assert _holds(session) == 0


def test_releasing_a_hold_resumes_the_erasure_that_waited_on_it(
    inline_app, officer, session, sid, issue_key
) -> None:  # noqa: ANN001
    officer.post(
        "/console/holds",
        "/console/holds",
        {"scope": "subject", "subject_id": sid, "reason": "regulatory_inquiry", "matter": "DPA-17"},
    )
    hold = _only_hold(session)
    api, key = inline_app.test_client(), bearer(issue_key("compliance_officer"))
    created = api.post(
        "/v1/requests",
        headers=key,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    api.post(f"/v1/requests/{created['id']}/verify", headers=key, json={"method": "signed_letter"})
    api.post(f"/v1/requests/{created['id']}/execute", headers=key).close()
    assert api.get(f"/v1/requests/{created['id']}", headers=key).get_json()["status"] == "on_hold"

    released = officer.post(
        "/console/holds", f"/console/holds/{hold.id}/release", {f"{hold.id}-reason": "settled"}
    )
    assert released.status_code == 303
    released.close()  # the inline runner resumes the erasure now
    done = api.get(f"/v1/requests/{created['id']}", headers=key).get_json()
    assert done["status"] == "completed"
    hold = _only_hold(session)
    assert hold.release_reason == "settled" and hold.released_at is not None
    again = officer.post(
        "/console/holds", f"/console/holds/{hold.id}/release", {f"{hold.id}-reason": "settled"}
    )
    assert again.status_code == 409 and "was released already" in again.get_data(as_text=True)


def test_a_bad_release_reason_is_refused_next_to_the_field(officer, session, sid) -> None:  # noqa: ANN001
    officer.post(
        "/console/holds",
        "/console/holds",
        {"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "M-2"},
    )
    hold = _only_hold(session)
    refused = officer.post(
        "/console/holds", f"/console/holds/{hold.id}/release", {f"{hold.id}-reason": "bored"}
    )
    assert refused.status_code == 422
    assert f'id="{hold.id}-reason-error"' in refused.get_data(as_text=True)
    assert _only_hold(session).released_at is None


def test_releasing_an_unknown_hold_is_a_404_page(officer) -> None:  # noqa: ANN001
    missing = officer.post(
        "/console/holds", "/console/holds/nope/release", {"nope-reason": "settled"}
    )
    assert missing.status_code == 404 and missing.mimetype == "text/html"


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_roles_without_the_hold_permission_may_not_open_or_place_holds(
    browser, signed_in, session, sid, role
) -> None:  # noqa: ANN001
    signed_in(role)
    assert browser.http.get("/console/holds").status_code == 403
    assert 'href="/console/holds"' not in browser.http.get("/console/audit").get_data(as_text=True)
    refused = browser.post(
        "/console/audit",
        "/console/holds",
        {"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "M-1"},
    )
    assert refused.status_code == 403 and _holds(session) == 0
