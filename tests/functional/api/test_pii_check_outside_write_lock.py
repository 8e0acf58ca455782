"""A write's PII check, and /v1/pii/analyze, run before the request takes SQLite's write lock
(issue 14 item 5: 10,000 emoji in a ticket took 28 s to check while the writer held the lock,
so every other write waited).

Real SQLite files and the real app (``open_runtime``, as gunicorn's workers build it). A
spaCy component added to the process's analyzer for the test holds the analysis of one
marked text until the test lets it go; meanwhile a second connection must get the write
lock at once (``BEGIN IMMEDIATE`` with no busy timeout), which it cannot while any
transaction of the request holds it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api import create_app
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.pii.engine import LANGUAGE
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.conftest import bearer
from tests.migrated import migrated, migrated_keystore

MARK = "Zqxlockprobe"
PROBE = "test_pii_lock_probe"


@pytest.fixture
def sqlite_runtime(tmp_path: Path) -> Iterator[Runtime]:
    database = f"sqlite:///{tmp_path / 'crm.db'}"
    keystore = f"sqlite:///{tmp_path / 'keystore.db'}"
    migrated(database)
    migrated_keystore(keystore)
    runtime = open_runtime(
        Settings.from_env(
            {
                "GOVERNANCE_DATABASE_URL": database,
                "GOVERNANCE_KEYSTORE_URL": keystore,
                "GOVERNANCE_KEY_FILE": str(tmp_path / "kek.json"),
                "GOVERNANCE_VAR_DIR": str(tmp_path),
            }
        )
    )
    runtime.crm_file = tmp_path / "crm.db"  # type: ignore[attr-defined]
    yield runtime
    runtime.dispose()


# what the probe component does with a marked text (set per test by held_analysis)
_PROBE_STATE: dict[str, Any] = {}


@pytest.fixture
def held_analysis(sqlite_runtime: Runtime) -> Iterator[tuple[threading.Event, threading.Event]]:
    """(entered, release): the analysis of a text holding MARK signals ``entered`` and
    waits for ``release``."""
    from spacy.language import Language

    if not Language.has_factory(PROBE):

        @Language.component(PROBE)
        def probe(doc: Any) -> Any:
            hook = _PROBE_STATE.get("hook")
            if hook is not None and MARK in doc.text:
                hook()
            return doc

    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(60)

    nlp = sqlite_runtime.pii_engine().nlp_engine.nlp[LANGUAGE]
    nlp.add_pipe(PROBE, last=True)
    _PROBE_STATE["hook"] = hold
    try:
        yield entered, release
    finally:
        release.set()
        _PROBE_STATE.clear()
        nlp.remove_pipe(PROBE)


def _lock_is_free(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def _key(runtime: Runtime, role: str, *purposes: str) -> str:
    with unit_of_work(runtime.sessions) as session:
        return ClientService(session).create(f"{role}-lock", role, purposes).key


def _customer(runtime: Runtime) -> str:
    with unit_of_work(runtime.sessions) as session:
        return (
            runtime.record_store(session)
            .create(
                "customers",
                {
                    "first_name": "Ada",
                    "last_name": "Fictional",
                    "email": "ada.lock@mail.example",
                    "city": "Exampleville",
                    "country": "US",
                    "language": "en",
                },
            )
            .id
        )


def _while_held(
    runtime: Runtime, held: tuple[threading.Event, threading.Event], send: Any
) -> tuple[Any, bool]:
    entered, release = held
    answer: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: answer.setdefault("response", send()))
    worker.start()
    try:
        assert entered.wait(60), "the analysis never started"
        free = _lock_is_free(runtime.crm_file)  # type: ignore[attr-defined]
    finally:
        release.set()
        worker.join(60)
    return answer["response"], free


def test_a_writes_pii_check_runs_before_the_write_lock(sqlite_runtime, held_analysis) -> None:  # noqa: ANN001
    runtime = sqlite_runtime
    app = create_app(runtime=runtime, background_integrator=False)
    support = bearer(_key(runtime, "application", "customer_support"))
    ada = _customer(runtime)

    response, free = _while_held(
        runtime,
        held_analysis,
        lambda: app.test_client().post(
            "/v1/data/support_tickets?purpose=customer_support",
            headers=support,
            json={
                "subject_id": ada,
                "ticket_type": "billing",
                "opened_at": "2026-01-02T03:04:05Z",
                "description": f"{MARK} asked for grace.other@mail.example to be told.",
            },
        ),
    )

    assert free, "another writer was locked out while the PII check ran"
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["redacted_fields"] == ["description"]


def test_a_records_update_checks_pii_before_the_write_lock(
    sqlite_runtime,  # noqa: ANN001
    held_analysis,
) -> None:
    runtime = sqlite_runtime
    app = create_app(runtime=runtime, background_integrator=False)
    support = bearer(_key(runtime, "application", "customer_support"))
    ada = _customer(runtime)
    created = (
        app.test_client()
        .post(
            "/v1/data/support_tickets?purpose=customer_support",
            headers=support,
            json={
                "subject_id": ada,
                "ticket_type": "billing",
                "opened_at": "2026-01-02T03:04:05Z",
                "description": "Refund please.",
            },
        )
        .get_json()["id"]
    )

    response, free = _while_held(
        runtime,
        held_analysis,
        lambda: app.test_client().patch(
            f"/v1/data/support_tickets/{created}?purpose=customer_support",
            headers=support,
            json={"resolution": f"{MARK}: refund sent."},
        ),
    )

    assert free, "another writer was locked out while the PII check ran"
    assert response.status_code == 200, response.get_data(as_text=True)


def test_pii_analyze_runs_before_the_write_lock(sqlite_runtime, held_analysis) -> None:  # noqa: ANN001
    runtime = sqlite_runtime
    app = create_app(runtime=runtime, background_integrator=False)
    officer = bearer(_key(runtime, "compliance_officer"))

    response, free = _while_held(
        runtime,
        held_analysis,
        lambda: app.test_client().post(
            "/v1/pii/analyze", headers=officer, json={"text": f"{MARK} Ryan Gallagher"}
        ),
    )

    assert free, "another writer was locked out while /v1/pii/analyze ran"
    assert response.status_code == 200, response.get_data(as_text=True)
