"""Each action that changes state is one service method that the JSON API and the console
both call: driven once through each door, it leaves the same audit event (action, outcome,
actor role, target and details, ids aside) and the same outcome."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from api import create_app
from audit.events import Actor
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.jobs.service import JobKind, Jobs
from governance.retention.models import LegalHold, RetentionRun
from governance.runtime import Runtime
from governance.users.services import UserService
from tests.conftest import bearer
from tests.functional.console.conftest import PASSWORD, Browser
from tests.functional.governance.keys.conftest import own_runtime  # noqa: F401 - fixture
from tests.functional.governance.requests.conftest import subject_records

IDS = {"job_id", "run_id", "hold_id"}  # a different id per door; present in both


def shape(doc: dict[str, Any]) -> dict[str, Any]:
    """The event as both doors must write it: everything but who exactly and which row."""
    return {
        "action": doc["action"],
        "outcome": doc["outcome"],
        "role": doc["actor"]["role"],
        "target": sorted(k for k, v in doc.get("target", {}).items() if v is not None),
        "details": {k: ("<id>" if k in IDS else v) for k, v in doc["details"].items()},
        "traced": doc.get("request_id") is not None,
    }


def events(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    with unit_of_work(runtime.sessions) as session:
        runtime.audit.integrate(session)
        return [e.document for e in runtime.audit.events(session, action=action, limit=50)]


def by_door(
    docs: list[dict[str, Any]],
    api_actor: str,
    console_actor: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one event the API client wrote and the one the console user wrote."""
    api = [d for d in docs if d["actor"]["id"] == api_actor]
    console = [d for d in docs if d["actor"]["id"] == console_actor]
    assert len(api) == 1 and len(console) == 1, (api, console)
    return api[0], console[0]


@pytest.fixture
def inline_app(runtime: Runtime) -> Flask:
    settings = dataclasses.replace(runtime.settings, task_runner="inline")
    inline = dataclasses.replace(runtime, settings=settings, task_runner=None)
    return create_app(runtime=inline, background_integrator=False)


@pytest.fixture
def doors(
    inline_app: Flask,
    make_user: Callable[..., Any],
    sessions: Any,
) -> Callable[[str], tuple[dict[str, str], str, Browser, str]]:
    """doors(role) -> (API headers, the client's actor id, a signed-in console browser, the
    person's actor id), both of ``role``."""

    def open_doors(role: str) -> tuple[dict[str, str], str, Browser, str]:
        with sessions() as s:
            issued = ClientService(s).create(f"{role}-door-{uuid.uuid4().hex[:8]}", role, ())
            s.commit()
            client_id, key = issued.client.id, issued.key
        user = make_user(role)
        browser = Browser(inline_app.test_client())
        assert browser.login(user.name).status_code == 302
        return bearer(key), client_id, browser, user.actor_id

    return open_doors


def _dead_job(session: Any) -> str:
    job, _ = Jobs(session).enqueue(
        JobKind.EXPORTS_PURGE, actor=Actor(id="cli:test", role="operator")
    )
    job.state, job.attempts = "dead", job.max_attempts
    session.commit()
    return job.id


def test_a_retry_is_the_same_use_case_from_the_api_and_the_console(
    inline_app: Flask, doors: Any, runtime: Runtime, session: Any
) -> None:
    headers, client_id, browser, person = doors("admin")
    by_api, by_console = _dead_job(session), _dead_job(session)

    answered = inline_app.test_client().post(f"/v1/jobs/{by_api}/retry", headers=headers)
    assert answered.status_code == 202
    answered.close()
    shown = browser.post(f"/console/jobs/{by_console}", f"/console/jobs/{by_console}/retry")
    assert shown.status_code == 303
    shown.close()

    session.expire_all()
    assert session.get(Job, by_api).state == session.get(Job, by_console).state == "succeeded"
    api, console = by_door(events(runtime, "job.retried"), client_id, person)
    assert shape(api) == shape(console)
    assert (api["target"]["record_id"], console["target"]["record_id"]) == (by_api, by_console)


def test_a_retention_run_is_the_same_use_case_from_the_api_and_the_console(
    inline_app: Flask, doors: Any, runtime: Runtime, session: Any
) -> None:
    headers, client_id, browser, person = doors("compliance_officer")

    answered = inline_app.test_client().post(
        "/v1/retention/runs", headers=headers, json={"dry_run": True, "batch_size": 50}
    )
    assert answered.status_code == 202
    answered.close()
    shown = browser.post(
        "/console/retention", "/console/retention/runs", {"dry_run": "y", "batch_size": "50"}
    )
    assert shown.status_code == 303
    shown.close()

    session.expire_all()
    runs = session.query(RetentionRun).all()
    assert [(r.dry_run, r.batch_size, r.state) for r in runs] == [(True, 50, "completed")] * 2
    for run in runs:  # each with its job, run once the request committed
        job = Jobs(session).latest_for(JobKind.RETENTION_SWEEP, run.id)
        assert job is not None and job.state == "succeeded"
    api, console = by_door(events(runtime, "retention.run.requested"), client_id, person)
    assert shape(api) == shape(console)


def test_a_hold_is_placed_and_released_the_same_way_from_the_api_and_the_console(
    inline_app: Flask, doors: Any, runtime: Runtime, session: Any
) -> None:
    headers, client_id, browser, person = doors("compliance_officer")
    http = inline_app.test_client()
    store = runtime.record_store(session)
    held = [subject_records(store)["customers"][0] for _ in range(2)]
    session.commit()

    placed = http.post(
        "/v1/holds",
        headers=headers,
        json={
            "scope": "subject",
            "subject_id": held[0],
            "reason": "litigation",
            "matter": "CASE-A",
        },
    )
    assert placed.status_code == 201
    assert (
        browser.post(
            "/console/holds",
            "/console/holds",
            {"scope": "subject", "subject_id": held[1], "reason": "litigation", "matter": "CASE-A"},
        ).status_code
        == 303
    )
    session.expire_all()
    holds = {h.subject_id: h.id for h in session.query(LegalHold).all()}
    api, console = by_door(events(runtime, "hold.placed"), client_id, person)
    assert shape(api) == shape(console)

    waiting = []
    for sid in held:  # an erasure of each subject stops on its hold
        request = http.post(
            "/v1/requests",
            headers=headers,
            json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
        ).get_json()
        http.post(
            f"/v1/requests/{request['id']}/verify",
            headers=headers,
            json={"method": "signed_letter"},
        )
        http.post(f"/v1/requests/{request['id']}/execute", headers=headers).close()
        assert (
            http.get(f"/v1/requests/{request['id']}", headers=headers).get_json()["status"]
            == "on_hold"
        )
        waiting.append(request["id"])

    released = http.post(
        f"/v1/holds/{holds[held[0]]}/release", headers=headers, json={"reason": "settled"}
    )
    assert released.get_json()["resumed_requests"] == [waiting[0]]
    released.close()
    hold_id = holds[held[1]]
    shown = browser.post(
        "/console/holds", f"/console/holds/{hold_id}/release", {f"{hold_id}-reason": "settled"}
    )
    assert shown.status_code == 303
    shown.close()

    for request_id in waiting:  # each erasure resumed as its job, after the commit
        done = http.get(f"/v1/requests/{request_id}", headers=headers).get_json()
        assert (done["status"], done["hold_id"]) == ("completed", None)
    api, console = by_door(events(runtime, "hold.released"), client_id, person)
    assert shape(api) == shape(console)
    resumed = [
        d
        for d in events(runtime, "request.started")
        if d["details"].get("resumed") and d["details"].get("hold_id")
    ]
    api, console = by_door(resumed, client_id, person)
    assert shape(api) == shape(console)


@pytest.fixture
def keyed(own_runtime: Any) -> tuple[Runtime, Flask, str, str, str]:  # noqa: F811
    rt = own_runtime()
    with unit_of_work(rt.sessions) as session:
        store = rt.record_store(session)
        for n in range(4):
            store.create(
                "customers",
                {"first_name": "Ada", "last_name": "Fictional", "email": f"door{n}@mail.example"},
            )
        issued = ClientService(session).create("admin-door", "admin", ())
        client_id, key = issued.client.id, issued.key
        person = (
            UserService(session, rt.audit, Actor(id="cli:test", role="operator"), rt.policy.version)
            .create("admin-door", "admin", PASSWORD)
            .user
        )
        actor_id = person.actor_id
    return rt, create_app(runtime=rt, background_integrator=False), key, client_id, actor_id


def test_a_rotation_is_the_same_use_case_from_the_api_and_the_console(keyed: Any) -> None:
    rt, app, key, client_id, person = keyed
    answered = app.test_client().post("/v1/keys/rotate", headers=bearer(key))
    assert answered.status_code == 202 and answered.get_json()["kek_version"] == 2
    rt.task_runner.join(timeout=60)
    browser = Browser(app.test_client())
    assert browser.login("admin-door").status_code == 302
    assert browser.post("/console/keys", "/console/keys/rotate").status_code == 303
    rt.task_runner.join(timeout=60)

    assert rt.keys.provider.current_version() == 3
    with unit_of_work(rt.sessions) as session:
        jobs = Jobs(session).list(kind=str(JobKind.KEYS_ROTATE))
        assert [j.state for j in jobs] == ["succeeded", "succeeded"]
    asked = [d for d in events(rt, "key.rotation.started") if not d["details"]["resumed"]]
    api, console = by_door(asked, client_id, person)  # (each job's worker resumes it too)
    assert (api["details"].pop("kek_version"), console["details"].pop("kek_version")) == (2, 3)
    assert shape(api) == shape(console)
    api, console = by_door(events(rt, "key.kek.created"), client_id, person)
    assert (api["details"], console["details"]) == ({"kek_version": 2}, {"kek_version": 3})
    assert shape(api)["role"] == shape(console)["role"] == "admin"
