"""POST /v1/keys/rotate and GET /v1/keys (role admin)."""

from __future__ import annotations

import pytest

from api import create_app
from governance.clients.services import ClientService
from governance.db import unit_of_work
from tests.conftest import bearer
from tests.functional.governance.keys.conftest import own_runtime  # noqa: F401 - fixture


@pytest.fixture
def keyed_app(own_runtime):  # noqa: ANN001, ANN201, F811
    rt = own_runtime()
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        for n in range(12):
            store.create(
                "customers",
                {"first_name": "Ada", "last_name": "Fictional", "email": f"p{n}@mail.example"},
            )
        admin = ClientService(session).create("admin-keys", "admin", ()).key
        officer = ClientService(session).create("officer-keys", "compliance_officer", ()).key
    app = create_app(runtime=rt, background_integrator=False)
    return app, rt, admin, officer


def test_an_admin_rotates_the_kek_and_every_data_key_is_rewrapped(keyed_app) -> None:  # noqa: ANN001
    app, rt, admin, _ = keyed_app
    http = app.test_client()

    response = http.post("/v1/keys/rotate", headers=bearer(admin))
    rt.task_runner.join(timeout=60)

    assert response.status_code == 202
    body = response.get_json()
    assert (
        body["kek_version"] == 2 and body["resumed"] is False and body["job"]["state"] == "running"
    )
    status = http.get("/v1/keys", headers=bearer(admin)).get_json()
    assert status["current_version"] == 2
    assert status["live_data_keys"] == 12
    assert {v["version"]: v["data_keys"] for v in status["versions"]} == {1: 0, 2: 12}
    assert status["rotation"]["state"] == "done" and status["rotation"]["processed"] == 12
    assert status["rotation"]["finished_at"].endswith("+00:00")  # RFC 3339 with its offset
    assert [v["retired_at"] is not None for v in status["versions"]] == [True, False]


def test_rotation_is_audited_under_the_requesting_client(keyed_app) -> None:  # noqa: ANN001
    app, rt, admin, _ = keyed_app
    http = app.test_client()
    http.post("/v1/keys/rotate", headers=bearer(admin))
    rt.task_runner.join(timeout=60)

    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session)
        docs = [e.document for e in rt.audit.events(session, limit=100)]
    by_action = {d["action"]: d for d in docs}
    assert by_action["key.kek.created"]["details"] == {"kek_version": 2}
    assert by_action["key.rotation.started"]["actor"]["role"] == "admin"
    assert by_action["key.rotated"]["details"]["count"] == 12


def test_only_an_admin_may_rotate(keyed_app) -> None:  # noqa: ANN001
    app, rt, _, officer = keyed_app
    http = app.test_client()

    response = http.post("/v1/keys/rotate", headers=bearer(officer))

    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert rt.keys.provider.current_version() == 1  # nothing changed
    assert http.post("/v1/keys/rotate").status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param("{", 400, id="malformed-json"),
        pytest.param('{"force": true}', 422, id="unknown-option"),
    ],
)
def test_a_bad_rotation_body_is_refused_and_rotates_nothing(
    keyed_app,
    body: str,  # noqa: ANN001
    status: int,
) -> None:
    app, rt, admin, _ = keyed_app

    response = app.test_client().post(
        "/v1/keys/rotate", data=body, content_type="application/json", headers=bearer(admin)
    )

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert rt.keys.provider.current_version() == 1
