"""``ConsentService.standing``, the one statement a read by id asks of its subject, answers
what the many-subject reads answer: the consent state of ``states`` and the erasure rule of
``erasing_subjects`` (issue 27: the refusals behave exactly as before, at a query's cost)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from governance.consent.services import ConsentAction, ConsentSource, erasing_subjects
from governance.requests.models import DsrRequest

STATUSES = (None, "received", "verified", "in_progress", "failed", "on_hold", "completed")


def _erasure(session, subject_id: str, status: str) -> None:
    now = datetime.now(UTC)
    session.execute(
        insert(DsrRequest.__table__).values(
            id=uuid.uuid4().hex,
            type="erasure",
            regulation="gdpr",
            status=status,
            subject_id=subject_id,
            subject_found=True,
            received_at=now,
            due_at=now + timedelta(days=30),
            extended=False,
            details={},
            created_by="officer-1",
            created_at=now,
            updated_at=now,
        )
    )


def test_standing_agrees_with_states_and_erasing_subjects_for_every_purpose(
    consent, subjects, session, runtime
) -> None:
    ids = subjects(len(STATUSES) * 2)
    version = runtime.policy.version
    for n, (subject_id, status) in enumerate(zip(ids, STATUSES * 2, strict=True)):
        if status is not None:
            _erasure(session, subject_id, status)
        if n % 2:
            consent.record_consent(
                subject_id, "email_marketing", ConsentAction.GRANT, ConsentSource.API, version
            )
        if n % 3 == 0:
            consent.restrict(subject_id, ConsentSource.OFFICER, version)
    session.flush()
    states = consent.states(ids)  # the IN-list path, many subjects at once

    for subject_id in ids:
        standing = consent.standing(subject_id)
        assert standing.state == states[subject_id]
        for purpose in [None, *runtime.policy.purposes]:
            erasing = erasing_subjects(purpose)
            table = erasing.selected_columns[0].table
            expected = (
                session.execute(erasing.where(table.c.subject_id == subject_id)).first() is not None
            )
            assert standing.erased_for(purpose) is expected, (subject_id, purpose)
