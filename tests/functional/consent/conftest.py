from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.consent.services import ConsentService
from governance.runtime import Runtime

OFFICER = Actor(id="officer-1", role="compliance_officer")
APP = Actor(id="webshop-app", role="application")


def add_subjects(session: Session, runtime: Runtime, n: int) -> list[str]:
    """n bare subject rows (ids only): consent needs a subject to exist, nothing else of it."""
    table = runtime.tables[runtime.policy.datamap.subject_collection]
    now = datetime.now(UTC)
    ids = [uuid.uuid4().hex for _ in range(n)]
    session.execute(insert(table), [{"id": i, "created_at": now, "updated_at": now} for i in ids])
    session.flush()
    return ids


@pytest.fixture
def subjects(session: Session, runtime: Runtime) -> Callable[[int], list[str]]:
    return lambda n=1: add_subjects(session, runtime, n)


@pytest.fixture
def consent(session: Session, runtime: Runtime) -> ConsentService:
    return ConsentService(session, runtime, OFFICER, request_id="req-test")
