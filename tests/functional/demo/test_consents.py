"""Demo consent histories: deterministic, realistic (grants, withdrawals, GPC opt-outs,
objections, a few restrictions), consistent with the state, and resumable."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from demo.consents import demo_consent_history, fill_demo_consents
from demo.generator import DemoGenerator
from demo.world import REFERENCE_TIME
from governance.consent.models import ConsentEvent
from governance.consent.services import ConsentService, state_differences
from governance.runtime import Runtime
from tests.functional.consent.conftest import OFFICER

SEED = 11
CUSTOMERS = 600


@pytest.fixture
def demo_subjects(session: Session, runtime: Runtime) -> list[str]:
    """The demo customers' rows (ids only: consent needs the subject, nothing else of it)."""
    generator = DemoGenerator(runtime.policy.datamap, SEED)
    ids = [generator.customer_id(i) for i in range(CUSTOMERS)]
    table = runtime.tables[runtime.policy.datamap.subject_collection]
    now = datetime.now(UTC)
    session.execute(insert(table), [{"id": i, "created_at": now, "updated_at": now} for i in ids])
    session.commit()
    return ids


def history(session: Session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            select(
                ConsentEvent.subject_id,
                ConsentEvent.purpose,
                ConsentEvent.action,
                ConsentEvent.source,
                ConsentEvent.policy_version,
                ConsentEvent.evidence,
                ConsentEvent.occurred_at,
            ).order_by(ConsentEvent.seq)
        )
    ]


def test_histories_are_a_pure_function_of_seed_and_customer() -> None:
    selling = ["third_party_sharing"]
    first = [demo_consent_history(f"c{i}", i, SEED, selling) for i in range(200)]

    assert first == [demo_consent_history(f"c{i}", i, SEED, selling) for i in range(200)]
    assert first != [demo_consent_history(f"c{i}", i, SEED + 1, selling) for i in range(200)]
    for events in first:
        times = [e.occurred_at for e in events]
        assert times == sorted(times)
        assert all(t < REFERENCE_TIME for t in times)


def test_the_demo_records_realistic_histories_that_agree_with_the_state(
    runtime: Runtime, session: Session, demo_subjects: list[str]
) -> None:
    summary = fill_demo_consents(runtime, customers=CUSTOMERS, seed=SEED, batch_size=250)

    assert summary.customers == CUSTOMERS and summary.skipped == 0
    kinds = Counter((a, s) for _, _, a, s, *_ in history(session))
    assert sum(kinds.values()) == summary.events
    assert kinds[("grant", "web_form")] > 200
    assert kinds[("withdraw", "api")] + kinds[("withdraw", "web_form")] > 10
    assert kinds[("withdraw", "gpc")] > 10
    assert kinds[("object", "web_form")] + kinds[("object", "officer")] > 5
    states = ConsentService(session, runtime, OFFICER).states(demo_subjects)
    restricted = [s for s in states.values() if s.restricted]
    assert 0 < len(restricted) < CUSTOMERS // 50
    assert state_differences(session) == []


def test_a_second_run_writes_nothing_and_a_crashed_run_resumes(
    runtime: Runtime, session: Session, demo_subjects: list[str]
) -> None:
    fill_demo_consents(runtime, customers=200, seed=SEED, batch_size=100)  # "crashed" here
    resumed = fill_demo_consents(runtime, customers=CUSTOMERS, seed=SEED, batch_size=100)
    once = history(session)
    again = fill_demo_consents(runtime, customers=CUSTOMERS, seed=SEED, batch_size=100)

    assert again.events == 0
    assert history(session) == once
    assert resumed.skipped > 0
    total = session.scalar(select(func.count()).select_from(ConsentEvent))
    expected = sum(
        len(demo_consent_history(sid, i, SEED, ["third_party_sharing"]))
        for i, sid in enumerate(demo_subjects)
    )
    assert total == expected
