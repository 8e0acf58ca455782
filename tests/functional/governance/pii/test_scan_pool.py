"""A store scan in worker processes: the same report as in one process, and no worker left
behind after the run, also when the run fails."""

from __future__ import annotations

import dataclasses
import multiprocessing

import pytest

from demo.store import fill_demo_store
from governance.db import unit_of_work
from governance.pii.models import PiiScan, ScanState
from governance.pii.services import record_store

# More than any collection of the small demo store holds: every record is sampled, so two
# runs see the same values (each sample starts at a random id).
WHOLE_STORE = 5_000
PLANTED = "Resolved; customer wrote from planted.pool{}@mail.example"


class StopScan(Exception):
    """Raised by a test's progress callback to make a run fail part-way."""


@pytest.fixture
def demo(runtime, sessions):
    fill_demo_store(
        sessions, runtime.policy.datamap, runtime.crypto, customers=20, seed=11, batch_size=20
    )
    return runtime


def plant_emails(runtime) -> int:  # noqa: ANN001
    """E-mail addresses typed into every other ticket resolution; how many."""
    with unit_of_work(runtime.sessions) as session:
        table = runtime.tables["support_tickets"]
        ids = [r for (r,) in session.execute(table.select().with_only_columns(table.c.id))]
        store = record_store(session, runtime.policy.datamap, runtime.tables, runtime.crypto)
        for n, record_id in enumerate(ids[::2]):
            store.update("support_tickets", record_id, {"resolution": PLANTED.format(n)})
    return len(ids[::2])


def with_processes(runtime, processes: int):  # noqa: ANN001, ANN201
    settings = dataclasses.replace(runtime.settings, pii_scan_processes=processes)
    return dataclasses.replace(runtime, settings=settings)


def run_scan(runtime, progress=None) -> dict:  # noqa: ANN001
    service = runtime.pii_scans()
    with unit_of_work(runtime.sessions) as session:
        scan_id = service.create(session, sample=WHOLE_STORE, requested_by="test").id
    service.run(scan_id, progress=progress)
    with unit_of_work(runtime.sessions) as session:
        return service.report(session, scan_id)


def test_a_scan_in_two_processes_reports_exactly_what_one_process_reports(demo) -> None:
    planted = plant_emails(demo)
    workers_seen: set[int] = set()

    def progress(done: int, total: int) -> None:
        workers_seen.update(p.pid for p in multiprocessing.active_children())

    in_process = run_scan(with_processes(demo, 1))
    pooled = run_scan(with_processes(demo, 2), progress)

    assert len(workers_seen) == 2  # the analysis did run in two worker processes
    assert multiprocessing.active_children() == []  # and they are gone after the run
    assert pooled["state"] == in_process["state"] == "completed"
    assert pooled["fields"] == in_process["fields"]
    assert pooled["findings"] == in_process["findings"]
    assert planted > 0
    assert {
        "collection": "support_tickets",
        "field": "resolution",
        "kind": "undeclared",
        "entity_type": "EMAIL_ADDRESS",
        "values": planted,
    } in pooled["findings"]


def test_a_failing_run_stops_its_worker_processes_and_marks_the_scan_failed(demo) -> None:
    workers_seen: set[int] = set()

    def progress(done: int, total: int) -> None:
        workers_seen.update(p.pid for p in multiprocessing.active_children())
        raise StopScan()

    service = with_processes(demo, 2).pii_scans()
    with unit_of_work(demo.sessions) as session:
        scan_id = service.create(session, sample=10, requested_by="test").id
    with pytest.raises(StopScan):
        service.run(scan_id, progress=progress)

    assert workers_seen  # the pool was running when the run failed
    assert multiprocessing.active_children() == []
    with unit_of_work(demo.sessions) as session:
        scan = session.get(PiiScan, scan_id)
        assert scan is not None
        assert scan.state == ScanState.FAILED.value
        assert scan.error == "StopScan"
