"""A rectification that would give a subject another person's e-mail fails as
`duplicate_identity`, a failure a retry cannot mend, and writes nothing (issue 26 item 3)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from governance.requests.failures import RETRYABLE, FailureReason, explanation
from governance.requests.services import RequestExecutor, RequestService
from governance.runtime import Runtime
from governance.store.errors import DuplicateIdentity
from governance.store.services import RecordStore
from tests.functional.governance.requests.conftest import OFFICER, subject_records


def test_a_correction_to_another_subjects_email_fails_as_duplicate_identity(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store, email="rectified.one@mail.example")["customers"][0]
    subject_records(store, email="taken.other@mail.example")
    service = RequestService(session, runtime, OFFICER)
    request = service.create(
        "rectification",
        "gdpr",
        {"subject_id": sid},
        {
            "corrections": [
                {"collection": "customers", "fields": {"email": "taken.other@mail.example"}}
            ]
        },
    )
    service.verify(request.id, "account login")
    service.start(request.id)
    session.commit()

    with pytest.raises(DuplicateIdentity):
        RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()

    failed = service.get(request.id)
    assert (failed.status, failed.error) == ("failed", "duplicate_identity")
    assert FailureReason.DUPLICATE_IDENTITY not in RETRYABLE
    assert "another" in (explanation(failed.error) or "")
    assert store.get("customers", sid, ["email"]).values["email"] == "rectified.one@mail.example"
