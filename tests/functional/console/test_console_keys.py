"""The keys page (admins): KEK versions with the data keys each wraps, the rotation's
progress, and a rotation started from the page as the API starts it (an exclusive job),
audited with the admin as the actor. Each test has its own stores: a rotation commits."""

from __future__ import annotations

import pytest

from api import create_app
from audit.events import Actor
from governance.db import unit_of_work
from governance.users.services import UserService
from tests.functional.console.conftest import PASSWORD, Browser
from tests.functional.governance.keys.conftest import own_runtime  # noqa: F401 - fixture


@pytest.fixture
def keyed(own_runtime):  # noqa: ANN001, ANN201, F811
    rt = own_runtime()
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        for n in range(6):
            store.create(
                "customers",
                {"first_name": "Ada", "last_name": "Fictional", "email": f"k{n}@mail.example"},
            )
        made = UserService(
            session, rt.audit, Actor(id="cli:test", role="operator"), rt.policy.version
        )
        ids = {
            role: made.create(f"{role.split('_')[0]}-keys", role, PASSWORD).user.id
            for role in ("admin", "compliance_officer")
        }
    app = create_app(runtime=rt, background_integrator=False)

    def browser(role: str) -> Browser:
        b = Browser(app.test_client())
        assert b.login(f"{role.split('_')[0]}-keys").status_code == 302
        return b

    return rt, browser, ids


def test_the_keys_page_shows_versions_and_the_data_keys_each_wraps(keyed) -> None:  # noqa: ANN001
    _, browser, _ = keyed
    page = browser("admin").http.get("/console/keys")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'id="current-version">1<' in html and 'id="version-1-data-keys">6<' in html
    assert 'id="live-data-keys">6<' in html


def test_an_admin_rotates_from_the_page_and_sees_it_done_under_their_name(keyed) -> None:  # noqa: ANN001
    rt, browser, ids = keyed
    admin = browser("admin")
    started = admin.post("/console/keys", "/console/keys/rotate")
    assert started.status_code == 303 and started.headers["Location"] == "/console/keys"
    rt.task_runner.join(timeout=60)
    html = admin.http.get("/console/keys").get_data(as_text=True)
    assert 'id="current-version">2<' in html and 'id="version-2-data-keys">6<' in html
    assert 'id="rotation-state">done<' in html
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session)
        started_by = [
            e.document["actor"]["id"]
            for e in rt.audit.events(session, action="key.rotation.started", limit=10)
        ]
    assert started_by == [f"user:{ids['admin']}"]


def test_an_officer_can_neither_see_nor_rotate_the_keys(keyed) -> None:  # noqa: ANN001
    rt, browser, _ = keyed
    officer = browser("compliance_officer")
    assert officer.http.get("/console/keys").status_code == 403
    refused = officer.post("/console/requests", "/console/keys/rotate")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert rt.keys.provider.current_version() == 1
    nav = officer.http.get("/console/requests").get_data(as_text=True).split("</nav>")[0]
    assert "/console/keys" not in nav


def test_a_rotation_without_its_csrf_token_rotates_nothing(keyed) -> None:  # noqa: ANN001
    rt, browser, _ = keyed
    refused = browser("admin").http.post("/console/keys/rotate")
    assert refused.status_code == 400
    assert rt.keys.provider.current_version() == 1
