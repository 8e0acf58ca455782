"""Writes meet the same refusal as reads while a subject is being erased (issue 26 item 2).

A subject whose erasure is executing, failed half-way (to be resumed) or waits on a legal hold
is processed for no purpose but legal claims: a read by id is 403 `erasure`, and so is a
create of a record for them or an update of one of their records, which writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from tests.functional.governance.requests.conftest import subject_records

TICKET = {"ticket_type": "billing", "opened_at": "2026-03-01T09:00:00Z", "status": "open"}


@pytest.fixture
def support(issue_key):
    return bearer(issue_key("application", "customer_support"))


@pytest.fixture
def records(runtime, session) -> dict[str, list[str]]:
    made = subject_records(runtime.record_store(session))
    session.commit()
    return made


def tickets_of(runtime, session, sid: str) -> int:
    table = runtime.tables["support_tickets"]
    return session.scalar(select(func.count()).select_from(table).where(table.c.subject_id == sid))


def last_name_of(runtime, session, sid: str) -> str:
    return runtime.record_store(session).get("customers", sid, ["last_name"]).values["last_name"]


def assert_writes_refused(http, support, runtime, session, sid: str) -> None:
    before = tickets_of(runtime, session, sid)
    created = http.post(
        "/v1/data/support_tickets?purpose=customer_support",
        json={**TICKET, "subject_id": sid},
        headers=support,
    )
    updated = http.patch(
        f"/v1/data/customers/{sid}?purpose=customer_support",
        json={"last_name": "Changed"},
        headers=support,
    )

    for response in (created, updated):
        assert response.status_code == 403, response.get_json()
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.get_json()["reason"] == "erasure"
        assert "Fictional" not in response.get_data(as_text=True)
    session.expire_all()
    assert tickets_of(runtime, session, sid) == before
    assert last_name_of(runtime, session, sid) == "Fictional"


@pytest.mark.parametrize("status", ["in_progress", "failed", "on_hold"])
def test_creates_and_updates_are_refused_for_a_subject_being_erased(
    http, officer, support, runtime, session, records, status
) -> None:
    from governance.requests.models import DsrRequest

    sid = records["customers"][0]
    # Before the erasure both writes are accepted: the refusal below is the erasure's.
    assert (
        http.post(
            "/v1/data/support_tickets?purpose=customer_support",
            json={**TICKET, "subject_id": sid},
            headers=support,
        ).status_code
        == 201
    )
    assert (
        http.patch(
            f"/v1/data/customers/{sid}?purpose=customer_support",
            json={"city": "Elsewhere"},
            headers=support,
        ).status_code
        == 200
    )
    made = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    http.post(f"/v1/requests/{made['id']}/verify", headers=officer, json={"method": "email code"})
    request = session.get(DsrRequest, made["id"])
    request.status = status  # as the executor leaves it: running, failed, waiting on a hold
    session.commit()

    assert_writes_refused(http, support, runtime, session, sid)


def test_creates_and_updates_are_refused_while_the_erasure_waits_on_a_legal_hold(
    inline_http, officer, support, runtime, session, records
) -> None:
    sid = records["customers"][0]
    inline_http.post(
        "/v1/holds",
        headers=officer,
        json={"scope": "subject", "subject_id": sid, "reason": "litigation", "matter": "CASE-26"},
    )
    request = inline_http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    inline_http.post(
        f"/v1/requests/{request['id']}/verify", headers=officer, json={"method": "signed_letter"}
    )
    inline_http.post(f"/v1/requests/{request['id']}/execute", headers=officer).close()
    assert (
        inline_http.get(f"/v1/requests/{request['id']}", headers=officer).get_json()["status"]
        == "on_hold"
    )

    assert_writes_refused(inline_http, support, runtime, session, sid)


def test_a_refused_write_is_audited_as_denied_for_erasure(
    http, officer, support, runtime, session, records
) -> None:
    from governance.requests.models import DsrRequest

    sid = records["customers"][0]
    made = http.post(
        "/v1/requests",
        headers=officer,
        json={"type": "erasure", "regulation": "gdpr", "subject": {"subject_id": sid}},
    ).get_json()
    session.get(DsrRequest, made["id"]).status = "in_progress"
    session.commit()

    http.patch(
        f"/v1/data/customers/{sid}?purpose=customer_support",
        json={"last_name": "Changed"},
        headers=support,
    )

    runtime.audit.integrate(session)
    updates = [
        e.document
        for e in runtime.audit.events(session, limit=500)
        if e.document["action"] == "data.updated"
    ]
    assert updates[-1]["outcome"] == "denied"
    assert updates[-1]["reason"] == "denied: erasure"
    assert updates[-1]["target"]["subject_id"] == sid
