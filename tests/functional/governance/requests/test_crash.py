"""A killed erasure resumes and ends exactly where an uninterrupted one ends.

Each case has its own committed databases (the CRM store and the key store), two subjects
with the same records, and an erasure request for each. One erasure runs to the end; the
other runs in a subprocess that SIGKILLs itself at a chosen point (inside a step, before its
commit, or just after it), and is then run again. The end states must be equal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.consent.models import ConsentEvent
from governance.consent.services import ConsentService, ConsentSource
from governance.db import unit_of_work
from governance.requests.models import ErasureSuppression
from governance.requests.services import RequestExecutor, RequestService
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.conftest import fresh_postgres_database
from tests.functional.governance.requests.conftest import subject_records
from tests.migrated import migrated, migrated_keystore

OFFICER = Actor(id="officer-crash", role="compliance_officer")
ROOT = Path(__file__).resolve().parents[4]
KILLER = """
import os, signal, sys
from audit.events import Actor
from governance.requests.services import RequestExecutor
from governance.runtime import open_runtime
from governance.settings import Settings

step, moment, request_id = sys.argv[1:4]

def checkpoint(name, when):
    if name == step and when == moment:
        os.kill(os.getpid(), signal.SIGKILL)

runtime = open_runtime(Settings.from_env())
RequestExecutor(runtime, Actor(id="officer-crash", role="compliance_officer"),
                checkpoint=checkpoint).run(request_id)
sys.exit(3)  # the kill point was never reached
"""


@pytest.fixture
def crash_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    server = os.environ.get("GOVERNANCE_TEST_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if server:
            fresh = contextlib.contextmanager(fresh_postgres_database)
            database = stack.enter_context(fresh(server))
            keystore = stack.enter_context(fresh(server))
        else:
            database = f"sqlite:///{tmp_path / 'crm.db'}"
            keystore = f"sqlite:///{tmp_path / 'keystore.db'}"
        migrated(database)
        migrated_keystore(keystore)
        yield {
            "GOVERNANCE_DATABASE_URL": database,
            "GOVERNANCE_KEYSTORE_URL": keystore,
            "GOVERNANCE_KEY_FILE": str(tmp_path / "kek.json"),
            "GOVERNANCE_VAR_DIR": str(tmp_path),
        }


def end_state(
    runtime: Runtime,
    session: Session,
    request_id: str,
    sid: str,
    ids: dict[str, list[str]],
    email: str,
) -> dict[str, Any]:
    ignored = {"id", "created_at", "updated_at", "order_id", "order_number"}
    state: dict[str, Any] = {}
    for collection in runtime.policy.datamap.subject_owned():
        table = runtime.tables[collection.name]
        rows = (
            session.execute(select(table).where(table.c.id.in_(ids.get(collection.name, []))))
            .mappings()
            .all()
        )
        state[collection.name] = sorted(
            repr(sorted((k, v) for k, v in row.items() if k not in ignored)) for row in rows
        )
    request = RequestService(session, runtime, OFFICER).get(request_id)
    steps = RequestService(session, runtime, OFFICER).steps(request_id)
    state["request"] = (request.status, request.subject_found, request.work, request.error)
    state["steps"] = [
        (s.name, s.state, (s.result or {}).get("rows"), (s.result or {}).get("problems"))
        for s in steps
    ]
    key = runtime.keys.keystore.fetch([sid]).get(sid)
    state["key_shredded"] = key is not None and key.shredded
    state["consent_events"] = session.scalar(
        select(func.count()).select_from(ConsentEvent).where(ConsentEvent.subject_id == sid)
    )
    index = runtime.crypto.blind_index("customers", "email", email)
    state["suppressed"] = session.get(ErasureSuppression, index) is not None
    return state


@pytest.mark.parametrize(
    ("step", "moment"),
    [
        ("delete:interactions", "before_commit"),  # killed inside a collection step
        ("anonymize:orders", "after_commit"),  # killed between two steps
        ("shred", "before_commit"),  # the key store committed the shred, our mark did not
        ("verify", "before_commit"),
        ("finish", "before_commit"),  # every step done, the request not yet completed
    ],
)
def test_a_killed_erasure_resumes_to_the_same_end_state_as_an_uninterrupted_one(
    crash_env: dict[str, str], step: str, moment: str
) -> None:
    runtime = open_runtime(Settings.from_env(crash_env))
    try:
        subjects = {}
        with unit_of_work(runtime.sessions) as session:
            store = runtime.record_store(session)
            service = RequestService(session, runtime, OFFICER)
            for name in ("killed", "straight"):
                email = f"{name}.{uuid.uuid4().hex[:6]}@mail.example"
                ids = subject_records(store, email=email, tag=name)
                sid = ids["customers"][0]
                ConsentService(session, runtime, OFFICER).record_consent(
                    sid, "email_marketing", "grant", ConsentSource.WEB_FORM, "notice-1"
                )
                request = service.create("erasure", "gdpr", {"email": email})
                service.verify(request.id, "signed letter")
                service.start(request.id)
                subjects[name] = (request.id, sid, ids, email)

        RequestExecutor(runtime, OFFICER).run(subjects["straight"][0])
        killed = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", KILLER, step, moment, subjects["killed"][0]],
            cwd=ROOT,
            env={**os.environ, **crash_env},
            capture_output=True,
            timeout=300,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

        with unit_of_work(runtime.sessions) as session:
            request = RequestService(session, runtime, OFFICER).get(subjects["killed"][0])
            assert request.status == "in_progress"  # left in progress, steps recorded
            names = [
                (s.name, s.state)
                for s in RequestService(session, runtime, OFFICER).steps(request.id)
            ]
            if step != "finish":
                done = dict(names)[step] == "done"
                assert done is (moment == "after_commit")

        assert RequestExecutor(runtime, OFFICER).run(subjects["killed"][0]) == "completed"

        with unit_of_work(runtime.sessions) as session:
            states = {name: end_state(runtime, session, *subjects[name]) for name in subjects}
        assert states["killed"] == states["straight"]
        assert states["straight"]["request"][0] == "completed"
        assert states["straight"]["key_shredded"] and states["straight"]["suppressed"]
    finally:
        runtime.dispose()
