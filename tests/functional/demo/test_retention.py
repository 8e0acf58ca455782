"""The demo has records past retention (due in the plan), a held subject whose erasure waits
on the hold, and a completed sweep; a second run adds no sweep."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor
from demo.requests import fill_demo_requests
from demo.retention import fill_demo_retention
from demo.store import fill_demo_store
from governance.requests.models import DsrRequest
from governance.retention.models import RetentionRun
from governance.retention.sweep import RetentionSweep
from governance.runtime import Runtime

SEED = 171717


def test_the_demo_has_due_records_a_waiting_erasure_and_a_completed_sweep(
    runtime: Runtime, session: Session
) -> None:
    fill_demo_store(
        runtime.sessions, runtime.policy.datamap, runtime.crypto, customers=40, seed=SEED
    )
    fill_demo_requests(runtime, customers=40, seed=SEED)

    run_id = fill_demo_retention(runtime)

    run = session.get(RetentionRun, run_id)
    assert run is not None and run.state == "completed" and not run.dry_run
    assert sum(run.totals[k] for k in ("deleted", "anonymised", "fields_nulled")) > 0
    plan = RetentionSweep(runtime, Actor(id="t", role="operator")).plan(session)
    assert sum(r["due"] for r in plan) > 0  # expired since the demo's sweep
    waiting = session.scalars(select(DsrRequest).where(DsrRequest.status == "on_hold")).all()
    assert len(waiting) == 1 and waiting[0].hold_id is not None
    assert fill_demo_retention(runtime) is None
