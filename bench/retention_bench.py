"""Retention benchmark: the sweep beside a plain batched DELETE of the same rows, and the
policy read with the retention filter on beside off.

A store of N customers (1,000,000; 20,000 with --quick) with two web events each, 10% of
them past the data map's 13 months, is bulk-inserted (rows in clear, no encryption: the
sweep and the delete touch ids and dates only). Then:

- plain: ``DELETE FROM web_events WHERE id IN (...)`` of the expired ids, 1,000 per
  committed batch: the floor of any sweep;
- the same rows inserted again, then a retention run (``RetentionSweep``, batch 1,000):
  every rule's selection (the date cut-off, holds, references, ``FOR UPDATE SKIP LOCKED``
  on PostgreSQL), the deletes, the run's progress and one ``retention.swept`` audit event
  per batch, each batch committed. Target: within 3x of plain;
- policy reads in process (``DataAccessService``, audit events not written), median of
  alternating rounds, with the retention filter and with it off: a customer by id for
  ``customer_support`` (the expiry flag is in the row's query) and a page of 50 web events
  for ``analytics`` (expired rows and those of expired subjects left out inside the query).
  Target: within 10%.

PostgreSQL is used when reachable at ``GOVERNANCE_BENCH_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test); a fresh database is created and dropped.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, text

from audit.events import Actor
from bench.harness import (
    DEFAULT_PG_URL,
    POSTGRES,
    SQLITE,
    Row,
    bench_runtime,
    postgres_database,
    postgres_server,
    run_benchmarks,
    sqlite_database,
)
from governance.access.services import Caller
from governance.db import unit_of_work
from governance.retention.sweep import RetentionSweep
from governance.runtime import Runtime

NAME = "retention"
FULL, QUICK = 1_000_000, 20_000
EVENTS_PER_CUSTOMER = 2
EXPIRED_SHARE = 0.10
BATCH = 1000
SWEEP_TARGET, READ_TARGET = 3.0, 1.10
READS = 400
ACTOR = Actor(id="bench", role="operator")


def _id(prefix: int, i: int) -> str:
    return f"{prefix:02x}{i:010x}{random.Random(i * 31 + prefix).getrandbits(80):020x}"  # noqa: S311


def fill(runtime: Runtime, n: int, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Customers and their web events; returns the expired events' rows (to insert again)."""
    customers, events = runtime.tables["customers"], runtime.tables["web_events"]
    now = datetime.now(UTC)
    dice = random.Random(17)  # noqa: S311 - bench data
    expired: list[dict[str, Any]] = []
    chunk = 10_000
    for lo in range(0, n, chunk):
        ids = [_id(1, i) for i in range(lo, min(lo + chunk, n))]
        rows = []
        for k, sid in enumerate(ids):
            for e in range(EVENTS_PER_CUSTOMER):
                old = dice.random() < EXPIRED_SHARE
                at = now - timedelta(days=420 + dice.randrange(300) if old else dice.randrange(360))
                row = {
                    "id": _id(2, (lo + k) * EVENTS_PER_CUSTOMER + e),
                    "subject_id": sid,
                    "occurred_at": at,
                    "page": "/p",
                    "duration_seconds": 5,
                    "created_at": now,
                    "updated_at": now,
                }
                rows.append(row)
                if old:
                    expired.append(row)
        with unit_of_work(runtime.sessions) as session:
            session.execute(
                insert(customers), [{"id": s, "created_at": now, "updated_at": now} for s in ids]
            )
            session.execute(insert(events), rows)
        if (lo // chunk) % 10 == 9:
            say(f"  {lo + chunk:,}/{n:,} customers")
    return expired


def plain_delete(runtime: Runtime, ids: list[str]) -> float:
    table = runtime.tables["web_events"]
    started = time.perf_counter()
    for lo in range(0, len(ids), BATCH):
        with unit_of_work(runtime.sessions) as session:
            session.execute(delete(table).where(table.c.id.in_(ids[lo : lo + BATCH])))
    return time.perf_counter() - started


def sweep(runtime: Runtime) -> tuple[float, int]:
    sweeper = RetentionSweep(runtime, ACTOR)
    started = time.perf_counter()
    with unit_of_work(runtime.sessions) as session:
        run_id = sweeper.create(session, batch_size=BATCH).id
    done = sweeper.run(run_id)
    return time.perf_counter() - started, int((done.totals or {}).get("deleted", 0))


def reads(runtime: Runtime, n: int) -> dict[str, tuple[float, float]]:
    """Median seconds per read, filter on and off, per kind of read."""
    support = Caller("bench-support", "application", frozenset({"customer_support"}))
    analytics = Caller("bench-analytics", "application", frozenset({"analytics"}))
    sample = [_id(1, i) for i in random.Random(5).sample(range(n), READS)]  # noqa: S311

    def one(on: bool, kind: str, sid: str) -> float:
        session = runtime.sessions()
        try:
            caller = support if kind == "by_id" else analytics
            service = runtime.data_access(session, caller, record_audit=lambda _e: None)
            if not on:
                service = replace_retention(service)
            started = time.perf_counter()
            if kind == "by_id":
                service.read("customers", sid, "customer_support")
            else:
                service.list("web_events", "analytics", after=sid.replace("01", "02", 1), limit=50)
            return time.perf_counter() - started
        finally:
            session.rollback()
            session.close()

    figures = {}
    for kind in ("by_id", "list"):
        times: dict[bool, list[float]] = {True: [], False: []}
        for sid in sample[:20]:  # warm statements and caches
            one(True, kind, sid)
            one(False, kind, sid)
        for sid in sample:
            for on in (True, False):
                times[on].append(one(on, kind, sid))
        figures[kind] = (statistics.median(times[True]), statistics.median(times[False]))
    return figures


def replace_retention(service: Any) -> Any:
    service.retention = None
    return service


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    n = QUICK if quick else FULL
    pg_server = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
    backends = ([POSTGRES] if pg_server else []) + ([SQLITE] if quick or not pg_server else [])
    rows = {
        "plain": Row(
            f"plain DELETE ... WHERE id IN (1,000 ids) per commit, "
            f"{EXPIRED_SHARE:.0%} of {n * EVENTS_PER_CUSTOMER:,} web events"
        ),
        "sweep": Row(
            "retention sweep of the same rows (selection, holds, progress, audit "
            "per batch of 1,000)"
        ),
        "sweep_ratio": Row("  ratio sweep / plain (seconds)", target=f"<= {SWEEP_TARGET:g}"),
        "by_id_off": Row("policy read of a customer by id, p50, retention filter off"),
        "by_id_on": Row("  the same with the retention filter"),
        "by_id_ratio": Row("  ratio on / off", target=f"<= {READ_TARGET:.2f}"),
        "list_off": Row("policy list of 50 web events (analytics), p50, filter off"),
        "list_on": Row("  the same with the retention filter"),
        "list_ratio": Row("  ratio on / off", target=f"<= {READ_TARGET:.2f}"),
    }
    if not pg_server:
        rows["plain"].cells[POSTGRES] = "unreachable"
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
        directory = Path(tmp)
        for backend in backends:
            database = (
                sqlite_database(directory, "retention")
                if backend == SQLITE
                else postgres_database(pg_server)  # type: ignore[arg-type]
            )
            with database as url:
                runtime = bench_runtime(url, directory)
                try:
                    say(f"{backend}: {n:,} customers, {EVENTS_PER_CUSTOMER} web events each")
                    expired = fill(runtime, n, say)
                    with runtime.engine.begin() as conn:
                        conn.execute(text("ANALYZE"))
                    say(f"{backend}: policy reads, filter on and off")
                    for kind, (on, off) in reads(runtime, n).items():
                        rows[f"{kind}_on"].cells[backend] = f"{on * 1e3:.3f} ms"
                        rows[f"{kind}_off"].cells[backend] = f"{off * 1e3:.3f} ms"
                        rows[f"{kind}_ratio"].cells[backend] = f"{on / off:.2f}"
                    ids = [r["id"] for r in expired]
                    say(f"{backend}: plain delete of {len(ids):,} rows")
                    plain_s = plain_delete(runtime, ids)
                    with unit_of_work(runtime.sessions) as session:
                        for lo in range(0, len(expired), 10_000):
                            session.execute(
                                insert(runtime.tables["web_events"]), expired[lo : lo + 10_000]
                            )
                    say(f"{backend}: retention sweep of the same rows")
                    sweep_s, swept = sweep(runtime)
                    rows["plain"].cells[backend] = (
                        f"{len(ids) / plain_s:,.0f} rows/s ({plain_s:.1f} s)"
                    )
                    rows["sweep"].cells[backend] = (
                        f"{swept / sweep_s:,.0f} rows/s ({sweep_s:.1f} s, {swept:,} rows)"
                    )
                    rows["sweep_ratio"].cells[backend] = f"{sweep_s / plain_s:.2f}"
                finally:
                    runtime.dispose()
    return list(rows.values())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(
        run_benchmarks(
            {NAME: sys.modules[__name__]},
            [*sys.argv[1:], "--only", NAME],
            description=__doc__.splitlines()[0],
        )
    )
