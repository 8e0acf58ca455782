"""A store scan on the embedded default (real SQLite files, a real scan in the task runner's
thread) never makes reads or writes wait, and five requests for a scan give one scan
(issue 14 item 6).

The scan is held still in the middle of reading a page of the store (an SQLAlchemy event
on the store's engines, in the scan's thread), the moment it holds the most; the requests
run while it is held. Nothing is timed: a request that had to wait for the scan's
transaction would wait out SQLite's busy timeout and answer 503.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from api import create_app
from demo.store import fill_demo_store
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.pii.models import PiiScan
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.conftest import bearer
from tests.functional.serving import embedded_env

TASK_THREAD = "governance-job"  # governance.jobs.runners.ThreadJobRunner's threads


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Runtime]:
    env = embedded_env(tmp_path, GOVERNANCE_PII_SCAN_PROCESSES="1", GOVERNANCE_PII_SCAN_SAMPLE="20")
    rt = open_runtime(Settings.from_env(env))
    fill_demo_store(rt.sessions, rt.policy.datamap, rt.crypto, customers=20, seed=3, batch_size=20)
    yield rt
    rt.dispose()


def _key(rt: Runtime, role: str, *purposes: str) -> dict[str, str]:
    with unit_of_work(rt.sessions) as session:
        return bearer(ClientService(session).create(f"{role}-key", role, purposes).key)


class ScanHold:
    """Holds the scan's thread right after its first read of a CRM table, until released."""

    def __init__(self, rt: Runtime) -> None:
        self.tables = {f"FROM {name}" for name in rt.policy.datamap.collections}
        self.reached = threading.Event()
        self.release = threading.Event()
        assert rt.read_sessions is not None
        self.engines = {rt.engine, rt.read_sessions.kw["bind"]}
        for engine in self.engines:
            event.listen(engine, "after_cursor_execute", self._hold)

    def _hold(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if (
            threading.current_thread().name == TASK_THREAD
            and not self.reached.is_set()
            and any(t in statement for t in self.tables)
        ):
            self.reached.set()
            self.release.wait(120)

    def close(self, threads: list[threading.Thread]) -> None:
        """Release the scan, wait for it, then stop listening (not while it dispatches)."""
        self.release.set()
        for thread in threads:
            thread.join(120)
        for engine in self.engines:
            event.remove(engine, "after_cursor_execute", self._hold)


def test_reads_writes_and_new_scan_requests_answer_while_a_scan_reads_the_store(
    embedded: Runtime,
) -> None:
    rt = embedded
    http = create_app(runtime=rt, background_integrator=False).test_client()
    officer = _key(rt, "compliance_officer")
    support = _key(rt, "application", "customer_support")
    hold = ScanHold(rt)
    try:
        first = http.post("/v1/pii/scans", json={}, headers=officer)
        assert first.status_code == 202
        first.close()  # the response is done: the task runner starts the scan
        assert hold.reached.wait(60), "the scan never read the store"

        read = http.get("/v1/data/customers?purpose=customer_support&limit=5", headers=support)
        assert read.status_code == 200, read.get_data(as_text=True)
        record_id = read.get_json()["items"][0]["id"]
        write = http.patch(
            f"/v1/data/customers/{record_id}?purpose=customer_support",
            json={"city": "Elsewhere"},
            headers=support,
        )
        again = [http.post("/v1/pii/scans", json={}, headers=officer) for _ in range(4)]

        assert write.status_code == 200, write.get_data(as_text=True)
        assert [r.status_code for r in again] == [200] * 4
        assert {r.get_json()["id"] for r in again} == {first.get_json()["id"]}
    finally:
        hold.close(rt.task_runner.threads)

    with unit_of_work(rt.sessions) as session:
        assert session.scalar(select(func.count()).select_from(PiiScan)) == 1
        scan = session.get(PiiScan, first.get_json()["id"])
        assert scan is not None and (scan.state, scan.error) == ("completed", None)
