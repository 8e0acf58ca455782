"""A store scan reads page by page, each page in a read transaction of its own (issue 14
item 6): while the scan holds its position between two pages it holds no snapshot of the
store, so a write goes through and SQLite can checkpoint its whole WAL back into the
database file (a reader still inside a transaction would make the checkpoint busy)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from demo.store import fill_demo_store
from governance.db import unit_of_work
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.functional.serving import embedded_env


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Runtime]:
    rt = open_runtime(Settings.from_env(embedded_env(tmp_path, GOVERNANCE_PII_SCAN_PROCESSES="1")))
    fill_demo_store(rt.sessions, rt.policy.datamap, rt.crypto, customers=20, seed=3, batch_size=20)
    yield rt
    rt.dispose()


def _checkpoint(database_url: str) -> tuple[int, int, int]:
    """(busy, WAL frames, frames checkpointed) of a TRUNCATE checkpoint that waits for no one."""
    conn = sqlite3.connect(make_url(database_url).database, timeout=0)
    try:
        return conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()


def test_between_two_pages_a_scan_holds_no_snapshot_and_writes_go_through(
    embedded: Runtime,
) -> None:
    rt = embedded
    service = rt.pii_scans()
    service.page_size = 5
    pages = service.pages("customers", ["city"], start="", sample=20)
    first = next(pages)  # the scan now holds its position between pages

    with unit_of_work(rt.sessions) as session:
        rt.record_store(session).update("customers", first[0].id, {"city": "Elsewhere"})
    busy, _, _ = _checkpoint(rt.settings.database_url)
    rest = [record for page in pages for record in page]

    assert busy == 0
    ids = [record.id for record in first + rest]
    assert len(ids) == 20 and ids == sorted(ids)


def test_a_sample_from_a_random_start_wraps_around_once(embedded: Runtime) -> None:
    service = embedded.pii_scans()
    service.page_size = 3
    everyone = [
        r.id for page in service.pages("customers", ["city"], start="", sample=100) for r in page
    ]
    start = everyone[7]

    sampled = [
        r.id for page in service.pages("customers", ["city"], start=start, sample=100) for r in page
    ]

    assert sampled == everyone[8:] + everyone[:8]
