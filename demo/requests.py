"""Demo data-subject requests: a few in every state of the workflow (see the comment below)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from audit.events import Actor
from demo.generator import DemoGenerator
from demo.store import existing_ids
from demo.world import DEFAULT_SEED, SUBJECT
from governance.db import unit_of_work
from governance.runtime import Runtime
from governance.store.schema import CrmTables
from policies.types import ID_COLUMN, SUBJECT_COLUMN

# -- data-subject requests ------------------------------------------------------------------
# A few requests in every state of the workflow, one of them overdue, for the officer's queue.
# Nothing here erases a demo customer: an erased customer's key is shredded, and a later run
# of the demo would try to write it again. The erasure in the demo is of an email the store
# does not hold ("we hold no data"), which is a real and common case.


@dataclass(frozen=True)
class RequestDemoSummary:
    created: int  # 0 when the demo's requests exist already
    statuses: dict[str, int] = field(default_factory=dict)


def fill_demo_requests(
    runtime: Runtime, *, customers: int = 2000, seed: int = DEFAULT_SEED, actor: Actor | None = None
) -> RequestDemoSummary:
    from governance.requests.models import DsrRequest
    from governance.requests.services import RequestExecutor, RequestService

    actor = actor or Actor(id="demo", role="operator")
    generator = DemoGenerator(runtime.policy.datamap, seed)
    subject_ids = CrmTables(runtime.policy.datamap)[SUBJECT].c[ID_COLUMN]
    with unit_of_work(runtime.sessions) as session:
        if session.scalar(select(DsrRequest.id).limit(1)) is not None:
            return RequestDemoSummary(created=0)
        wanted = [generator.customer_id(i) for i in range(min(customers, 12))]
        present = existing_ids(session, subject_ids, wanted)
        ids = [c for c in wanted if c in present]
        if len(ids) < 10:  # the demo's requests need ten customers
            return RequestDemoSummary(created=0)
        now = datetime.now(UTC)
        service = RequestService(session, runtime, actor)

        def create(
            kind: str,
            law: str,
            subject: dict[str, str],
            days_ago: float,
            details: dict[str, Any] | None = None,
        ) -> str:
            return service.create(
                kind, law, subject, details, received_at=now - timedelta(days=days_ago)
            ).id

        # received, and overdue: a GDPR access request that came in 40 days ago
        create("access", "gdpr", {"subject_id": ids[0]}, 40)
        # received, due this week (CCPA 45 days)
        create("access", "ccpa", {"subject_id": ids[1]}, 40)
        # verified, waiting to be executed
        portability = create("portability", "gdpr", {"subject_id": ids[2]}, 5)
        service.verify(portability, "account login")
        # rejected
        rejected = create("erasure", "gdpr", {"subject_id": ids[3]}, 12)
        service.reject(rejected, "The identity could not be verified after two reminders.")
        # extended
        extended = create(
            "rectification",
            "gdpr",
            {"subject_id": ids[4]},
            20,
            {"corrections": [{"collection": SUBJECT, "fields": {"language": "en"}}]},
        )
        service.extend(extended, "complexity")  # two departments must confirm
        # to be completed below: an access export, a restriction, an opt-out (no
        # verification), and an erasure of an email the store does not hold
        done = [
            create("access", "gdpr", {"subject_id": ids[5]}, 9),
            create("restriction", "gdpr", {"subject_id": ids[6]}, 3),
            create("erasure", "ccpa", {"email": "no.such.person@mail.example"}, 2),
        ]
        for request_id in done:
            service.verify(request_id, "email code")
        done.append(create("opt_out", "ccpa", {"subject_id": ids[7]}, 1))
        # to fail: a correction of the subject's ticket, deleted after intake (by the
        # support team), so the step finds no record: reason `record_gone`
        tickets = runtime.tables["support_tickets"]
        ticket = session.scalar(
            select(tickets.c[ID_COLUMN]).where(tickets.c[SUBJECT_COLUMN] == ids[8]).limit(1)
        )
        failing = []
        if ticket is not None:
            correction = {
                "collection": "support_tickets",
                "record_id": ticket,
                "fields": {"satisfaction": 4},
            }
            failing.append(
                create(
                    "rectification",
                    "gdpr",
                    {"subject_id": ids[8]},
                    6,
                    {"corrections": [correction]},
                )
            )
            service.verify(failing[0], "signed letter")
            session.execute(tickets.delete().where(tickets.c[ID_COLUMN] == ticket))
        # in progress: started, its steps recorded and not yet run (as after a restart);
        # `governance requests execute --all` resumes it
        progressing = create("access", "ccpa", {"subject_id": ids[9]}, 4)
        service.verify(progressing, "email code")
        # on hold: an erasure of a subject under a legal hold (a payment dispute in court)
        # waits `on_hold` with the hold's id; releasing the hold resumes it
        held = []
        if len(ids) > 10:
            from governance.retention.holds import HoldService

            HoldService(session, runtime, actor).place(
                "subject", "litigation", "DEMO-CASE-2026-001", subject_id=ids[10]
            )
            held.append(create("erasure", "gdpr", {"subject_id": ids[10]}, 8))
            service.verify(held[0], "signed letter")
        for request_id in [*done, *failing, progressing, *held]:
            service.start(request_id)
    executor = RequestExecutor(runtime, actor)
    for request_id in [*done, *failing, *held]:
        try:
            executor.run(request_id)
        except Exception:  # noqa: BLE001, S110 - the failing one fails on purpose
            pass
    with unit_of_work(runtime.sessions) as session:
        statuses: dict[str, int] = {}
        for status in session.scalars(select(DsrRequest.status)):
            statuses[status] = statuses.get(status, 0) + 1
    return RequestDemoSummary(created=sum(statuses.values()), statuses=statuses)
