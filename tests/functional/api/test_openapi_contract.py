"""The OpenAPI document is the contract clients are generated from: every operation's real
answers, successes and errors alike, validate against what /openapi.json says."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.routing import Map
from werkzeug.test import EnvironBuilder

from api import create_app
from api.errors import PROBLEM_JSON
from api.openapi import roles_with
from governance.authz import Permission
from governance.clients.services import ClientService
from governance.db import unit_of_work
from tests.conftest import bearer
from tests.functional.governance.keys.conftest import own_runtime  # noqa: F401 - fixture

NOTICE = "privacy-notice-2026-01"
CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional",
    "email": "ada.contract@mail.example",
    "phone": "+12015550123",
    "city": "Exampleville",
    "country": "US",
    "language": "en",
}


class Contract:
    """A test client whose every answer is validated against the served document, and
    which remembers the operations (method and path template) it has exercised."""

    def __init__(self, app: Any) -> None:
        self.http = app.test_client()
        spec = self.http.get("/openapi.json").get_json()
        self.spec = spec
        # openapi-core parses application/json only; a problem document is JSON too.
        config = Config(extra_media_type_deserializers={PROBLEM_JSON: json.loads})
        self.openapi = OpenAPI.from_dict(spec, config=config)
        self.url_map: Map = app.url_map
        self.exercised: dict[tuple[str, str], set[int]] = {}

    def call(
        self, method: str, path: str, key: str | None = None, *, expect: int, **kwargs: Any
    ) -> Any:
        headers = {**(bearer(key) if key else {}), **kwargs.pop("headers", {})}
        response = getattr(self.http, method.lower())(path, headers=headers, **kwargs)
        assert response.status_code == expect, (method, path, response.get_data(as_text=True))
        # Buffer the body first: openapi-core swaps a streamed body for an iterator of its
        # own, which would drop the response's close callbacks (the inline job runner's).
        response.get_data()
        # The request as sent (the served one's body stream is consumed by then).
        sent = EnvironBuilder(path=path, method=method, headers=headers, **kwargs).get_request()
        self.openapi.validate_response(
            WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(response)
        )
        rule, _ = self.url_map.bind("localhost").match(
            path.split("?")[0], method=method, return_rule=True
        )
        template = rule.rule.replace("<", "{").replace(">", "}")
        self.exercised.setdefault((method.upper(), template), set()).add(expect)
        return response

    def documented(self) -> set[tuple[str, str]]:
        return {
            (method.upper(), path)
            for path, item in self.spec["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        }


@pytest.fixture
def contract(own_runtime) -> Iterator[tuple[Contract, dict[str, str]]]:  # noqa: ANN001, F811
    rt = own_runtime()
    settings = dataclasses.replace(
        rt.settings, task_runner="inline", rate_limit_auth_failures="2 per hour"
    )
    rt = dataclasses.replace(rt, settings=settings, task_runner=None)
    with unit_of_work(rt.sessions) as session:
        clients = ClientService(session)
        keys = {
            "admin": clients.create("contract-admin", "admin", ()).key,
            "auditor": clients.create("contract-auditor", "auditor", ()).key,
            "officer": clients.create("contract-officer", "compliance_officer", ()).key,
            "support": clients.create(
                "contract-support", "application", ("customer_support", "email_marketing")
            ).key,
        }
    yield Contract(create_app(runtime=rt, background_integrator=False)), keys


def test_every_operation_answers_as_the_document_says(contract) -> None:  # noqa: ANN001
    c, k = contract
    # The service and its description.
    c.call("GET", "/healthz", expect=200)
    c.call("GET", "/readyz", expect=200)
    c.call("GET", "/v1/datamap", k["admin"], expect=200)
    c.call("GET", "/v1/policy", k["auditor"], expect=200)
    c.call("GET", "/v1/purposes", k["support"], expect=200)
    c.call("GET", "/v1/me", k["support"], expect=200)
    c.call("GET", "/v1/clients", k["admin"], expect=200)
    c.call(
        "POST",
        "/v1/clients",
        k["admin"],
        expect=201,
        json={"name": "contract-app", "role": "application", "purposes": ["analytics"]},
    )
    c.call(
        "POST",
        "/v1/clients",
        k["admin"],
        expect=409,
        json={"name": "contract-app", "role": "application", "purposes": ["analytics"]},
    )

    # An application's data and consent.
    created = c.call(
        "POST",
        "/v1/data/customers?purpose=customer_support",
        k["support"],
        expect=201,
        json=CUSTOMER,
    ).get_json()
    sid = created["id"]
    c.call(
        "POST",
        "/v1/data/customers?purpose=customer_support",
        k["support"],
        expect=409,
        json=CUSTOMER,
    )  # the same e-mail again: duplicate-identity
    c.call("GET", "/v1/data/customers?purpose=customer_support", k["support"], expect=200)
    c.call(
        "GET", "/v1/data/customers?purpose=customer_support&cursor=forged", k["support"], expect=400
    )
    c.call(
        "GET",
        f"/v1/data/customers/{sid}?purpose=customer_support&explain=true",
        k["support"],
        expect=200,
    )
    c.call(
        "PATCH",
        f"/v1/data/customers/{sid}?purpose=customer_support",
        k["support"],
        expect=200,
        json={"city": "Sampletown"},
    )
    c.call("GET", "/v1/data/leads?purpose=customer_support", k["support"], expect=404)
    c.call(
        "POST",
        f"/v1/subjects/{sid}/consents",
        k["support"],
        expect=201,
        json={
            "purpose": "email_marketing",
            "action": "grant",
            "policy_version": NOTICE,
            "evidence": "form-1",
        },
    )
    c.call("GET", f"/v1/subjects/{sid}/consents", k["support"], expect=200)
    c.call(
        "POST",
        f"/v1/subjects/{sid}/objections",
        k["support"],
        expect=201,
        json={"purpose": "email_marketing", "action": "object", "source": "api"},
    )
    c.call(
        "POST",
        f"/v1/subjects/{sid}/restriction",
        k["officer"],
        expect=409,
        json={"action": "lift", "source": "officer"},
    )
    c.call(
        "POST",
        f"/v1/subjects/{sid}/restriction",
        k["officer"],
        expect=201,
        json={"action": "restrict", "source": "officer"},
    )

    # The officer's requests, to a completed export.
    c.call("GET", f"/v1/subjects?id={sid}", k["officer"], expect=200)
    body = {"type": "access", "regulation": "gdpr", "subject": {"subject_id": sid}}
    rid = c.call("POST", "/v1/requests", k["officer"], expect=201, json=body).get_json()["id"]
    c.call("POST", "/v1/requests", k["officer"], expect=409, json=body)
    c.call("GET", "/v1/requests?status=open", k["officer"], expect=200)
    c.call("GET", f"/v1/requests/{rid}/export", k["officer"], expect=409)
    c.call(
        "POST",
        f"/v1/requests/{rid}/extend",
        k["officer"],
        expect=200,
        json={"reason": "complexity"},
    )
    c.call(
        "POST",
        f"/v1/requests/{rid}/verify",
        k["officer"],
        expect=200,
        json={"method": "email_code"},
    )
    c.call("POST", f"/v1/requests/{rid}/execute", k["officer"], expect=202).close()
    shown = c.call("GET", f"/v1/requests/{rid}", k["officer"], expect=200).get_json()
    assert shown["status"] == "completed", (shown["steps"], shown["error"])
    assert shown["job"]["state"] == "succeeded"
    c.call("GET", "/v1/jobs?kind=request.execute", k["officer"], expect=200)
    c.call("GET", f"/v1/jobs/{shown['job']['id']}", k["admin"], expect=200)
    c.call("POST", f"/v1/jobs/{shown['job']['id']}/retry", k["officer"], expect=409)
    c.call("GET", f"/v1/requests/{rid}/export", k["officer"], expect=200)
    other = c.call(
        "POST",
        "/v1/requests",
        k["officer"],
        expect=201,
        json={
            "type": "objection",
            "regulation": "gdpr",
            "subject": {"subject_id": sid},
            "details": {"purposes": ["analytics"]},
        },
    ).get_json()
    c.call(
        "POST",
        f"/v1/requests/{other['id']}/reject",
        k["officer"],
        expect=200,
        json={"reason": "the identity could not be verified"},
    )
    c.call(
        "POST",
        f"/v1/requests/{other['id']}/verify",
        k["officer"],
        expect=409,
        json={"method": "email_code"},
    )
    c.call("GET", "/v1/requests/nope", k["officer"], expect=404)

    # Legal holds.
    hold = c.call(
        "POST",
        "/v1/holds",
        k["officer"],
        expect=201,
        json={
            "scope": "subject",
            "subject_id": sid,
            "reason": "litigation",
            "matter": "CASE-2026-1",
        },
    ).get_json()
    c.call(
        "POST",
        "/v1/holds",
        k["officer"],
        expect=422,
        json={"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "not an id"},
    )
    c.call("GET", "/v1/holds?active=true", k["officer"], expect=200)
    c.call("GET", f"/v1/holds/{hold['id']}", k["officer"], expect=200)
    c.call(
        "POST",
        f"/v1/holds/{hold['id']}/release",
        k["officer"],
        expect=200,
        json={"reason": "matter_closed"},
    ).close()
    c.call(
        "POST",
        f"/v1/holds/{hold['id']}/release",
        k["officer"],
        expect=409,
        json={"reason": "matter_closed"},
    )

    # Retention.
    c.call("GET", "/v1/retention/plan", k["officer"], expect=200)
    run = c.call("POST", "/v1/retention/runs", k["admin"], expect=202, json={"dry_run": True})
    run.close()
    c.call("POST", "/v1/retention/runs", k["admin"], expect=422, json={"batch_size": 0})
    c.call("GET", "/v1/retention/runs", k["officer"], expect=200)
    c.call("GET", f"/v1/retention/runs/{run.get_json()['id']}", k["officer"], expect=200)
    c.call("GET", f"/v1/retention/runs/{'0' * 32}", k["officer"], expect=404)

    # The record of processing.
    c.call("GET", "/v1/ropa", k["auditor"], expect=200)
    c.call("GET", "/v1/ropa?format=csv", k["officer"], expect=200)
    c.call("GET", "/v1/ropa?format=odt", k["officer"], expect=422)

    # PII, keys.
    c.call(
        "POST",
        "/v1/pii/analyze",
        k["officer"],
        expect=200,
        json={"text": "Call Ada Fictional on +1 201 555 0123"},
    )
    scan = c.call("POST", "/v1/pii/scans", k["admin"], expect=202, json={})
    scan.close()
    c.call("GET", f"/v1/pii/scans/{scan.get_json()['id']}", k["admin"], expect=200)
    c.call("GET", "/v1/keys", k["admin"], expect=200)
    c.call("POST", "/v1/keys/rotate", k["admin"], expect=202)

    # The auditor's log.
    c.call("GET", "/v1/audit/checkpoint", k["auditor"], expect=200)
    c.call("GET", "/v1/audit/checkpoints?limit=1", k["auditor"], expect=200)
    c.call(
        "GET", "/v1/audit/events?purpose=customer_support&outcome=allowed", k["auditor"], expect=200
    )
    events = c.call("GET", "/v1/audit/events?limit=5", k["auditor"], expect=200).get_json()
    c.call("GET", "/v1/audit/proofs/inclusion?index=0&tree_size=2", k["auditor"], expect=200)
    c.call("GET", "/v1/audit/proofs/consistency?first=1&second=2", k["auditor"], expect=200)
    c.call("GET", "/v1/audit/proofs/consistency?first=3&second=2", k["auditor"], expect=422)
    c.call("GET", "/v1/audit/verify", k["auditor"], expect=200)
    assert events["items"]

    # Errors every operation can meet.
    c.call("GET", "/v1/requests", expect=401)
    c.call("GET", "/v1/requests", "not-a-key", expect=401)
    c.call("GET", "/v1/requests", "not-a-key", expect=429)  # a third failure in the hour
    c.http.environ_base["REMOTE_ADDR"] = "192.0.2.7"  # the rest from another address
    c.call("GET", "/v1/requests", k["support"], expect=403)
    c.call("GET", "/v1/requests?email=ada.contract@mail.example", k["officer"], expect=422)
    c.call("POST", "/v1/requests", k["officer"], expect=422, json={"type": "access"})
    c.call("POST", "/v1/requests", k["officer"], expect=415, data="type=access")
    c.call(
        "POST",
        "/v1/requests",
        k["officer"],
        expect=400,
        data="[" * 100_000,
        content_type="application/json",
    )

    missing = c.documented() - set(c.exercised)
    assert not missing, f"operations no test call exercised: {sorted(missing)}"


def test_every_operation_documents_who_may_call_it_and_its_errors(contract) -> None:  # noqa: ANN001
    c, _ = contract
    for path, item in c.spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "422" in responses and "default" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert "application/problem+json" in response["content"], (path, status)
            if operation.get("security") == []:
                assert path in ("/healthz", "/readyz")
                continue
            permission = Permission(operation["x-permission"])
            assert operation["x-roles"] == roles_with(permission)
            assert {"401", "403"} <= set(responses), (method, path)
            assert operation["description"].startswith("Requires the permission")
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                assert parameter.get("description"), (method, path, parameter["name"])


def test_the_error_schema_is_rfc_9457(contract) -> None:  # noqa: ANN001
    c, _ = contract
    problem = c.spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "code" not in problem["properties"] and "message" not in problem["properties"]
    assert "Error" not in c.spec["components"]["schemas"]


def test_the_docs_page_shows_roles_parameters_bodies_and_errors(contract) -> None:  # noqa: ANN001
    c, _ = contract
    page = c.http.get("/docs").get_data(as_text=True)
    assert "Requires the permission <code>requests.manage</code>" not in page  # escaped text
    assert (
        "Requires the permission `requests.manage`, which the role "
        "`compliance_officer` holds." in page
    )
    assert "the previous page&#39;s `next_cursor`" in page  # a query parameter's description
    assert "<code>regulation</code>" in page  # a body field of POST /v1/requests
    assert "<code>410</code>" in page and "erasure_request_id" in page
