"""The demo has requests in every state of the workflow, one of them overdue, and a second
run adds none."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.requests import fill_demo_requests
from demo.store import fill_demo_store
from governance.requests.models import DsrRequest, RequestStatus
from governance.runtime import Runtime

SEED = 424242


def test_the_demo_has_requests_in_every_state_one_overdue(
    runtime: Runtime, session: Session
) -> None:
    fill_demo_store(
        runtime.sessions, runtime.policy.datamap, runtime.crypto, customers=12, seed=SEED
    )
    summary = fill_demo_requests(runtime, customers=12, seed=SEED)

    assert set(summary.statuses) == {s.value for s in RequestStatus}, summary.statuses
    requests = session.scalars(select(DsrRequest)).all()
    now = datetime.now(UTC)
    open_ = {"received", "verified", "in_progress", "failed"}
    overdue = [r for r in requests if r.status in open_ and r.due_at.replace(tzinfo=UTC) < now]
    assert len(overdue) == 1
    assert any(r.extended for r in requests)
    assert fill_demo_requests(runtime, customers=12, seed=SEED).created == 0


def test_running_the_demo_again_does_not_recreate_an_erased_customer(
    runtime: Runtime, session: Session
) -> None:
    from audit.events import Actor
    from demo.generator import DemoGenerator
    from governance.requests.services import RequestExecutor, RequestService

    seed = SEED + 1
    fill_demo_store(
        runtime.sessions, runtime.policy.datamap, runtime.crypto, customers=9, seed=seed
    )
    erased = DemoGenerator(runtime.policy.datamap, seed).customer_id(8)  # brings a company
    officer = Actor(id="officer-demo", role="compliance_officer")
    service = RequestService(session, runtime, officer)
    request = service.create("erasure", "gdpr", {"subject_id": erased})
    service.verify(request.id, "signed letter")
    service.start(request.id)
    session.commit()
    assert RequestExecutor(runtime, officer).run(request.id) == "completed"

    again = fill_demo_store(
        runtime.sessions, runtime.policy.datamap, runtime.crypto, customers=9, seed=seed
    )

    assert again.rows_inserted == 0
    customers = runtime.tables["customers"]
    assert session.scalar(select(customers.c.id).where(customers.c.id == erased)) is None
