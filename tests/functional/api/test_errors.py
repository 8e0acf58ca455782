"""Every error the HTTP API answers is an RFC 9457 problem with a request id; a 500 never
echoes exception text; readiness reflects the database; a denied request is audited and
changes nothing else."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from api import create_app
from api.auth import public
from governance.clients.models import ApiClient
from governance.clients.services import ClientService
from governance.db import make_engine, make_session_factory
from governance.runtime import Runtime
from tests.conftest import bearer

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = json.loads(response.get_data(as_text=True))
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str) and body[key], key
    assert body["status"] == status
    assert body["type"].startswith("https://")
    trace_id = response.headers.get("X-Trace-Id")
    assert trace_id
    assert body["trace_id"] == trace_id
    # never `request_id`: that name belongs to data-subject requests
    assert "request_id" not in body and "X-Request-Id" not in response.headers
    return body


# -- one test per status -------------------------------------------------------------------


def test_400_a_cursor_this_service_did_not_issue(http, issue_key) -> None:  # noqa: ANN001
    key = issue_key("auditor")

    response = http.get("/v1/audit/events?cursor=!!!", headers=bearer(key))

    body = assert_problem(response, 400)
    assert body["type"].endswith("/invalid-cursor")


def test_401_without_a_key(http) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap")

    body = assert_problem(response, 401)
    assert body["type"].endswith("/unauthenticated")
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer gk_" + "Z" * 43, id="unknown-key"),
        pytest.param("Bearer not-a-key", id="malformed-key"),
        pytest.param("Basic b3BzOnNlY3JldA==", id="wrong-scheme"),
    ],
)
def test_401_with_a_bad_key(http, header: str) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap", headers={"Authorization": header})

    body = assert_problem(response, 401)
    assert header.split()[-1] not in json.dumps(body)


def test_403_auditor_reading_the_data_map(http, issue_key) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap", headers=bearer(issue_key("auditor")))

    body = assert_problem(response, 403)
    assert body["type"].endswith("/forbidden")
    assert body["reason"] == "role"


def test_404_unknown_path(http) -> None:  # noqa: ANN001
    body = assert_problem(http.get("/v1/no-such-resource"), 404)

    assert body["type"].endswith("/not-found")


def test_405_delete_on_the_data_map_names_the_allowed_methods(http, issue_key) -> None:  # noqa: ANN001
    response = http.delete("/v1/datamap", headers=bearer(issue_key("admin")))

    body = assert_problem(response, 405)
    assert body["type"].endswith("/method-not-allowed")
    assert "GET" in response.headers["Allow"]


def test_201_then_409_for_a_duplicate_client_name(http, issue_key) -> None:  # noqa: ANN001
    admin = bearer(issue_key("admin"))
    wanted = {"name": "crm-frontend", "role": "application", "purposes": ["customer_support"]}

    created = http.post("/v1/clients", json=wanted, headers=admin)
    duplicate = http.post(
        "/v1/clients", json={"name": "crm-frontend", "role": "auditor"}, headers=admin
    )

    assert created.status_code == 201, created.get_data(as_text=True)
    issued = created.get_json()
    assert {"id", "name", "role", "purposes", "key"} <= set(issued)
    assert (issued["name"], issued["role"], issued["purposes"]) == (
        "crm-frontend",
        "application",
        ["customer_support"],
    )
    assert http.get("/v1/datamap", headers=bearer(issued["key"])).status_code == 403
    body = assert_problem(duplicate, 409)
    assert body["type"].endswith("/client-name-taken")


def test_413_a_body_larger_than_the_limit(http, issue_key, settings) -> None:  # noqa: ANN001
    payload = json.dumps({"name": "x" * settings.max_request_bytes, "role": "admin"})

    response = http.post(
        "/v1/clients",
        data=payload,
        content_type="application/json",
        headers=bearer(issue_key("admin")),
    )

    body = assert_problem(response, 413)
    assert body["type"].endswith("/payload-too-large")


def test_415_a_body_that_is_not_json(http, issue_key) -> None:  # noqa: ANN001
    response = http.post(
        "/v1/clients",
        data="name=crm-app&role=admin",
        content_type="text/plain",
        headers=bearer(issue_key("admin")),
    )

    body = assert_problem(response, 415)
    assert body["type"].endswith("/unsupported-media-type")


def test_422_a_limit_that_is_not_a_number(http, issue_key) -> None:  # noqa: ANN001
    response = http.get("/v1/audit/events?limit=abc", headers=bearer(issue_key("auditor")))

    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"limit"}
    assert "abc" not in json.dumps(body["errors"])


def test_422_a_new_client_without_a_role(http, issue_key) -> None:  # noqa: ANN001
    response = http.post(
        "/v1/clients", json={"name": "crm-app"}, headers=bearer(issue_key("admin"))
    )

    body = assert_problem(response, 422)
    assert "role" in body["errors"]


def test_422_a_new_client_with_an_unknown_role(http, issue_key) -> None:  # noqa: ANN001
    response = http.post(
        "/v1/clients",
        json={"name": "crm-app", "role": "superuser"},
        headers=bearer(issue_key("admin")),
    )

    body = assert_problem(response, 422)
    assert body["type"].endswith("/invalid-client")
    assert set(body["errors"]) == {"role"}


def test_500_never_echoes_the_exception_text(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(runtime=runtime, background_integrator=False)

    @public
    def explode() -> str:
        raise RuntimeError("secret-value@example.com")

    app.add_url_rule("/explode", "explode", explode)

    with caplog.at_level(logging.DEBUG):
        response = app.test_client().get("/explode")

    body = assert_problem(response, 500)
    assert body["type"].endswith("/internal")
    assert "secret-value" not in response.get_data(as_text=True)
    assert "secret-value" not in json.dumps(dict(response.headers))
    assert all("secret-value" not in r.getMessage() for r in caplog.records)
    assert any(body["trace_id"] in r.getMessage() for r in caplog.records)


# -- request ids ---------------------------------------------------------------------------


def test_a_client_request_id_is_echoed_apart_and_never_becomes_ours(http) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap", headers={"X-Request-Id": "trace-0042.example"})

    ours = assert_problem(response, 401)["trace_id"]
    assert ours != "trace-0042.example"
    assert response.headers["X-Client-Request-Id"] == "trace-0042.example"


def test_a_repeated_client_request_id_gives_two_distinct_audited_requests(
    http, runtime, sessions
) -> None:  # noqa: ANN001
    first = http.get("/v1/datamap", headers={"X-Request-Id": "replayed-1"})
    second = http.get("/v1/datamap", headers={"X-Request-Id": "replayed-1"})

    ids = {first.headers["X-Trace-Id"], second.headers["X-Trace-Id"]}
    assert len(ids) == 2 and "replayed-1" not in ids
    assert _denials(runtime, sessions, "replayed-1") == []
    for request_id in ids:
        assert len(_denials(runtime, sessions, request_id)) == 1


def test_a_malformed_request_id_is_replaced(http) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap", headers={"X-Request-Id": "ada@mail.example <script>"})

    request_id = assert_problem(response, 401)["trace_id"]
    assert request_id != "ada@mail.example <script>"
    assert "@" not in request_id


# -- readiness -----------------------------------------------------------------------------


def test_readyz_answers_200_when_the_database_answers(http) -> None:  # noqa: ANN001
    response = http.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}
    assert response.headers["X-Trace-Id"]


@pytest.fixture
def unreachable_runtime(runtime: Runtime) -> Iterator[Runtime]:
    engine = make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    yield Runtime(
        settings=runtime.settings,
        engine=engine,
        sessions=make_session_factory(engine),
        policy=runtime.policy,
        tables=runtime.tables,
        audit=runtime.audit,
        keys=runtime.keys,
        crypto=runtime.crypto,
    )
    engine.dispose()


def test_readyz_answers_503_problem_when_the_database_is_unreachable(
    unreachable_runtime: Runtime,
) -> None:
    app = create_app(runtime=unreachable_runtime, background_integrator=False)
    client = app.test_client()

    response = client.get("/readyz")

    body = assert_problem(response, 503)
    assert body["type"].endswith("/unavailable")
    assert "nobody" not in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200  # liveness does not need the database


# -- denials are audited -------------------------------------------------------------------


def _tree_size(runtime: Runtime, sessions) -> int:  # noqa: ANN001
    with sessions() as s:
        size = runtime.audit.integrate(s).tree_size
        s.commit()
    return size


def _denials(runtime: Runtime, sessions, request_id: str) -> list[dict[str, Any]]:  # noqa: ANN001
    with sessions() as s:
        runtime.audit.integrate(s)
        s.commit()
        found = runtime.audit.events(s, action="auth.denied", limit=500)
    return [e.document for e in found if e.document.get("request_id") == request_id]


def test_a_forbidden_request_is_audited_and_changes_nothing_else(
    http,
    issue_key,
    runtime: Runtime,
    sessions,  # noqa: ANN001
) -> None:
    key = issue_key("auditor")
    with sessions() as s:
        auditor_id = ClientService(s).authenticate(key).id
        clients_before = s.scalar(select(func.count()).select_from(ApiClient))
    size_before = _tree_size(runtime, sessions)

    response = http.post(
        "/v1/clients", json={"name": "sneaky-admin", "role": "admin"}, headers=bearer(key)
    )

    assert_problem(response, 403)
    (event,) = _denials(runtime, sessions, response.headers["X-Trace-Id"])
    assert event["outcome"] == "denied"
    assert event["reason"] == "forbidden"
    assert event["actor"] == {"id": auditor_id, "role": "auditor"}
    assert event["details"] == {"method": "POST", "route": "/v1/clients", "http_status": 403}
    assert event["policy_version"] == runtime.policy.version
    assert _tree_size(runtime, sessions) == size_before + 1  # the denial, and nothing more
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApiClient)) == clients_before
        assert s.scalar(select(ApiClient).where(ApiClient.name == "sneaky-admin")) is None


def test_a_denied_data_map_read_is_audited(
    http,
    issue_key,
    runtime: Runtime,
    sessions,  # noqa: ANN001
) -> None:
    response = http.get("/v1/datamap", headers=bearer(issue_key("auditor")))

    assert_problem(response, 403)
    (event,) = _denials(runtime, sessions, response.headers["X-Trace-Id"])
    assert (event["outcome"], event["reason"]) == ("denied", "forbidden")
    assert event["details"]["route"] == "/v1/datamap"


def test_an_unauthenticated_request_is_audited_as_anonymous(
    http,
    runtime: Runtime,
    sessions,  # noqa: ANN001
) -> None:
    response = http.get("/v1/datamap", headers=bearer("gk_" + "Q" * 43))

    assert_problem(response, 401)
    (event,) = _denials(runtime, sessions, response.headers["X-Trace-Id"])
    assert event["actor"] == {"id": "anonymous", "role": "none"}
    assert event["reason"] == "unauthenticated"
    assert "gk_" not in json.dumps(event)


def test_a_422_never_echoes_an_unknown_json_key_that_could_be_personal(http, issue_key) -> None:  # noqa: ANN001
    admin = issue_key("admin")
    response = http.post(
        "/v1/clients",
        json={"name": "crm-sync", "role": "admin", "ada.lovelace@mail.example": "x"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "ada.lovelace" not in response.get_data(as_text=True)
    assert "(a name that is not an identifier)" in response.get_json()["errors"]


def test_422_a_new_client_with_a_purpose_that_does_not_exist(http, issue_key) -> None:  # noqa: ANN001
    admin = bearer(issue_key("admin"))
    response = http.post(
        "/v1/clients",
        headers=admin,
        json={"name": "ghost-app", "role": "application", "purposes": ["no_such_purpose"]},
    )

    body = assert_problem(response, 422)
    assert "purposes" in body["errors"]
    listed = http.get("/v1/clients", headers=admin).get_json()["items"]
    assert "ghost-app" not in {c["name"] for c in listed}
