"""`request.started {"resumed": true}` says that work had run before: a request executed
again after a failure of which no step had run is not "resumed"; one whose steps had run
is."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.models import audit_entries
from governance.db import make_engine
from governance.keys.keystore import KeyStore
from governance.keys.services import FieldCrypto, KeyService
from governance.requests.models import DsrRequest
from governance.requests.services import RequestExecutor, RequestService
from governance.runtime import Runtime
from tests.functional.governance.requests.conftest import OFFICER, subject_records


@pytest.fixture
def keystore_refused(runtime: Runtime) -> Iterator[Runtime]:
    """The runtime with a key store that refuses connections (nothing listens there)."""
    dead = make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    keys = KeyService(runtime.keys.provider, KeyStore(dead))
    yield dataclasses.replace(
        runtime, keys=keys, crypto=FieldCrypto(keys, runtime.policy.datamap), task_runner=None
    )
    dead.dispose()


def _started_flags(runtime: Runtime, request_id: str) -> list[bool]:
    with runtime.sessions() as session:
        rows = session.scalars(
            select(audit_entries.c.data)
            .where(audit_entries.c.action == "request.started")
            .order_by(audit_entries.c.id)
        ).all()
    events = [json.loads(data) for data in rows]
    return [
        e["details"]["resumed"]
        for e in events
        if e.get("target", {}).get("record_id") == request_id
    ]


def _failed_run(runtime: Runtime, session: Session, down: Runtime, request_type: str) -> str:
    sid = subject_records(runtime.record_store(session))["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create(request_type, "gdpr", {"subject_id": sid})
    service.verify(request.id, "signed letter")
    service.start(request.id)
    session.commit()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the key store's driver error
        RequestExecutor(down, OFFICER).run(request.id)
    session.expire_all()
    assert session.get(DsrRequest, request.id).status == "failed"  # type: ignore[union-attr]
    return request.id


def test_executing_again_a_request_of_which_no_step_ran_is_not_called_resumed(
    runtime: Runtime, session: Session, keystore_refused: Runtime
) -> None:
    request_id = _failed_run(runtime, session, keystore_refused, "access")  # export needs keys

    RequestService(session, runtime, OFFICER).start(request_id)
    session.commit()

    assert _started_flags(runtime, request_id) == [False, False]


def test_executing_again_a_request_whose_steps_had_run_is_resumed(
    runtime: Runtime, session: Session, keystore_refused: Runtime
) -> None:
    request_id = _failed_run(runtime, session, keystore_refused, "erasure")  # rows, then shred

    RequestService(session, runtime, OFFICER).start(request_id)
    session.commit()

    assert _started_flags(runtime, request_id) == [False, True]
