"""The data map and purposes pages: what the store holds and how it is protected and kept,
the purposes with their legal bases and what each may see (the summary ``governance policy
check`` prints), for the roles whose permissions allow them, with the navigation to match."""

from __future__ import annotations

import re

import pytest

from policies.summary import access_summary


def test_the_data_map_page_lists_every_collection_and_field_with_its_protection(
    browser, signed_in, runtime
) -> None:  # noqa: ANN001
    signed_in("compliance_officer")
    page = browser.http.get("/console/datamap")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    datamap = runtime.policy.datamap
    for collection in datamap.collections.values():
        assert f'id="collection-{collection.name}"' in html
        assert collection.retention.period.text in html
    email = datamap.collections["customers"].fields["email"]
    row = re.search(r'<tr id="field-customers-email">(.*?)</tr>', html, re.S).group(1)
    assert email.category in row and "encrypted" in row and "blind index" in row
    assert runtime.policy.version in html


def test_a_field_kept_for_less_than_its_row_shows_its_own_retention(
    browser, signed_in, runtime
) -> None:  # noqa: ANN001
    signed_in("admin")
    html = browser.http.get("/console/datamap").get_data(as_text=True)
    own = [
        (c.name, f)
        for c in runtime.policy.datamap.collections.values()
        for f in c.fields.values()
        if f.retention is not None
    ]
    assert own, "the shipped data map has fields with their own retention"
    for collection, field in own:
        row = re.search(rf'<tr id="field-{collection}-{field.name}">(.*?)</tr>', html, re.S)[1]
        assert field.retention.period.text in row and field.retention.counted_from in row


def test_the_purposes_page_shows_legal_bases_and_what_each_purpose_may_see(
    browser, signed_in, runtime
) -> None:  # noqa: ANN001
    signed_in("auditor")
    page = browser.http.get("/console/purposes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for purpose in runtime.policy.purposes:
        assert re.search(rf'id="purpose-{purpose.id}".*?{purpose.legal_basis}', html, re.S)
    policy = runtime.policy
    for grants in access_summary(policy.access, policy.purposes):
        section = html.split(f'id="access-{grants.purpose}"')[1].split("</section>")[0]
        for collection in grants.collections:
            for field in collection.fields:
                assert field.label in section, (grants.purpose, field.label)


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("auditor", "/console/datamap", 403),
        ("admin", "/console/datamap", 200),
        ("admin", "/console/purposes", 200),
        ("compliance_officer", "/console/purposes", 200),
    ],
)
def test_the_policy_pages_follow_the_role_permissions(
    browser, signed_in, role, path, status
) -> None:  # noqa: ANN001
    signed_in(role)
    response = browser.http.get(path)
    assert response.status_code == status and response.mimetype == "text/html"


GOVERNANCE_PAGES = (
    "/console/datamap",
    "/console/purposes",
    "/console/pii/scans",
    "/console/keys",
    "/console/jobs",
)
SHOWN = {
    "auditor": {"/console/purposes"},
    "compliance_officer": {
        "/console/datamap",
        "/console/purposes",
        "/console/pii/scans",
        "/console/jobs",
    },
    "admin": set(GOVERNANCE_PAGES),
}


@pytest.mark.parametrize("role", SHOWN)
def test_the_navigation_links_only_the_governance_pages_a_role_may_open(
    browser, signed_in, role
) -> None:  # noqa: ANN001
    signed_in(role)
    home = browser.http.get("/console/", follow_redirects=True).get_data(as_text=True)
    nav = home.split("</nav>")[0]
    linked = {p for p in GOVERNANCE_PAGES if f'href="{p}"' in nav}
    assert linked == SHOWN[role]
    for path in GOVERNANCE_PAGES:
        response = browser.http.get(path)
        assert response.status_code == (200 if path in SHOWN[role] else 403), path
        assert response.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_policy_page_visit_is_audited_with_the_person_as_actor(
    browser, signed_in, runtime, session
) -> None:  # noqa: ANN001
    user = signed_in("compliance_officer")
    browser.http.get("/console/datamap")
    runtime.audit.integrate(session)
    actions = [
        e.document["action"]
        for e in runtime.audit.events(session, actor=f"user:{user.id}", limit=50)
    ]
    assert "datamap.read" in actions
