"""Retention over HTTP: the plan (counts, no values or ids), a run answered 202 and swept in
the background, its progress and totals; bad input is a 422 problem; only officers and
operators may sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records


@pytest.fixture
def expired_event(runtime, session) -> str:
    store = runtime.record_store(session)
    sid = subject_records(store)["customers"][0]
    event = store.create(
        "web_events",
        {"page": "/old", "occurred_at": (datetime.now(UTC) - timedelta(days=500)).isoformat()},
        subject_id=sid,
    ).id
    session.commit()
    return event


def test_the_plan_counts_what_is_due_and_names_no_record(
    inline_http, officer, expired_event
) -> None:
    response = inline_http.get("/v1/retention/plan", headers=officer)

    assert response.status_code == 200
    rules = {r["rule"]: r for r in response.get_json()["rules"]}
    assert rules["delete:web_events"]["due"] == 1
    assert rules["delete:web_events"]["period"] == "P13M"
    assert rules["null:interactions.body"]["field"] == "body"
    assert expired_event not in response.get_data(as_text=True)


def test_a_run_is_accepted_then_swept_and_shows_its_progress_and_totals(
    inline_http, officer, runtime, session, expired_event
) -> None:
    started = inline_http.post("/v1/retention/runs", headers=officer, json={"batch_size": 10})

    assert started.status_code == 202
    run = started.get_json()
    assert run["state"] == "queued"
    started.close()  # the response is done: the inline runner sweeps now
    shown = inline_http.get(f"/v1/retention/runs/{run['id']}", headers=officer).get_json()
    assert shown["state"] == "completed"
    assert shown["progress"]["delete:web_events"]["done"] == 1
    assert shown["totals"]["deleted"] == 1
    listed = inline_http.get("/v1/retention/runs?limit=5", headers=officer).get_json()
    assert listed["items"][0]["id"] == run["id"]
    table = runtime.tables["web_events"]
    assert session.execute(table.select().where(table.c.id == expired_event)).first() is None


@pytest.mark.parametrize(
    "body",
    [{"batch_size": 0}, {"batch_size": "many"}, {"dry_run": "perhaps"}, {"everything": True}],
)
def test_a_bad_run_request_is_a_422_problem(inline_http, officer, body) -> None:
    response = inline_http.post("/v1/retention/runs", headers=officer, json=body)

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"


def test_an_unknown_run_is_404_and_an_application_may_not_sweep(
    inline_http, officer, issue_key
) -> None:
    assert inline_http.get("/v1/retention/runs/" + "0" * 32, headers=officer).status_code == 404
    app = bearer(issue_key("application", "customer_support"))
    assert inline_http.post("/v1/retention/runs", headers=app, json={}).status_code == 403


def test_the_data_map_shows_a_fields_own_retention(inline_http, officer) -> None:
    collections = {
        c["name"]: c
        for c in inline_http.get("/v1/datamap", headers=officer).get_json()["collections"]
    }
    fields = {f["name"]: f for f in collections["interactions"]["fields"]}

    assert fields["body"]["retention"] == {
        "period": "P1Y",
        "from": "occurred_at",
        "basis": "Free-text notes of a conversation are kept one year; the interaction "
        "itself three.",
    }
    assert fields["kind"]["retention"] is None
