"""Data-subject requests benchmark: export one subject and erase one subject, on demo stores
of 10,000 and 1,000,000 customers on PostgreSQL.

Each figure is the real path: ``RequestService`` records the request, verifies and starts it
(one unit of work, as ``POST /execute`` does), then ``RequestExecutor.run`` runs its steps
with a commit per step, exactly as the task runner does. Timed: the execution (start to
completed). The subjects are demo customers drawn at random; each erased one is gone for
good, so later runs draw others.

The stores are demo stores (``fill_demo_store``: about ten rows in eight collections per
customer, sealed and blind-indexed through ``RecordStore.insert_many``). They are filled once
and kept, in databases named ``gov_bench_requests_<N>`` (and ``..._keys`` for the key store)
on the server at ``GOVERNANCE_BENCH_PG_URL``, with the key file under
``GOVERNANCE_BENCH_DIR`` (default ``var/bench``); a later run reuses them and fills only what
is missing (the generator is resumable). Filling a million customers takes long: run
``python -m bench.requests_bench --fill 1000000`` once beforehand. ``--quick`` measures
10,000 and 100,000.

Target (the issue): under 100 ms each, and the large store no more than 1.5x the small one
(the cost grows with the subject's records, not with the store).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from audit.events import Actor
from bench.harness import DEFAULT_PG_URL, Row, postgres_server, run_benchmarks
from demo.generator import DemoGenerator
from demo.store import fill_demo_store
from demo.world import DEFAULT_SEED
from governance.db import unit_of_work
from governance.migrate import upgrade, upgrade_keystore
from governance.requests.services import RequestExecutor, RequestService
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings

NAME = "requests"
TARGET_MS = 100.0
RATIO_TARGET = 1.5
FULL = (10_000, 1_000_000)
QUICK = (10_000, 100_000)
SAMPLES = 15
ACTOR = Actor(id="bench-officer", role="compliance_officer")


def _database(server: str, name: str) -> str:
    """The URL of database ``name`` on the server, created if it does not exist (kept)."""
    url = make_url(server)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop(server: str, names: list[str]) -> None:
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def store_runtime(server: str, customers: int, directory: Path) -> Runtime:
    names = [f"gov_bench_requests_{customers}", f"gov_bench_requests_{customers}_keys"]
    if not (directory / f"kek-{customers}.json").exists():
        # A kept store whose key file is not in this bench directory cannot be read (the
        # service refuses to start on it): it is the bench's own, so start it afresh.
        _drop(server, names)
    database = _database(server, names[0])
    keystore = _database(server, names[1])
    upgrade(database)
    upgrade_keystore(keystore)
    directory.mkdir(parents=True, exist_ok=True)
    return open_runtime(
        Settings.from_env(
            {
                "GOVERNANCE_DATABASE_URL": database,
                "GOVERNANCE_KEYSTORE_URL": keystore,
                "GOVERNANCE_KEY_FILE": str(directory / f"kek-{customers}.json"),
                "GOVERNANCE_VAR_DIR": str(directory),
                "GOVERNANCE_AUDIT_SIGNING_KEY_FILE": str(directory / "audit-signing-key.pem"),
            }
        )
    )


def fill(runtime: Runtime, customers: int, say: Callable[[str], None]) -> float:
    """Fill the demo store up to ``customers`` (resumable); returns seconds spent."""
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30 or done == total:
            last[0] = time.perf_counter()
            rate = done / max(1e-9, last[0] - started)
            say(f"  {done:,}/{total:,} customers ({rate:,.0f}/s incl. skipped batches)")

    fill_demo_store(
        runtime.sessions,
        runtime.policy.datamap,
        runtime.crypto,
        customers=customers,
        seed=DEFAULT_SEED,
        batch_size=5000,
        progress=progress,
    )
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _run_one(runtime: Runtime, kind: str, subject_id: str) -> tuple[float, float, int]:
    """Wall and CPU seconds from start to completed for one request; the rows it touched."""
    with unit_of_work(runtime.sessions) as session:
        service = RequestService(session, runtime, ACTOR)
        request = service.create(kind, "gdpr", {"subject_id": subject_id})
        service.verify(request.id, "account login")
        request_id = request.id
    started, cpu = time.perf_counter(), time.process_time()
    with unit_of_work(runtime.sessions) as session:
        RequestService(session, runtime, ACTOR).start(request_id)
    status = RequestExecutor(runtime, ACTOR).run(request_id)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if status != "completed":
        raise RuntimeError(f"bench request ended {status}")
    with unit_of_work(runtime.sessions) as session:
        result = RequestService(session, runtime, ACTOR).get(request_id).result or {}
    rows = sum(
        int((r or {}).get("rows", 0))
        for r in result.get("steps", {}).values()
        if isinstance(r, dict)
    )
    return seconds, cpu, rows


def measure(runtime: Runtime, customers: int, say: Callable[[str], None]) -> dict[str, str]:
    generator = DemoGenerator(runtime.policy.datamap, DEFAULT_SEED)
    table = runtime.tables[runtime.policy.datamap.subject_collection]
    dice = random.Random()  # noqa: S311 - which demo customers to use
    picked: list[str] = []
    with unit_of_work(runtime.sessions) as session:
        while len(picked) < 2 * SAMPLES + 2:
            sid = generator.customer_id(dice.randrange(customers))
            if sid not in picked and session.scalar(
                select(func.count()).select_from(table).where(table.c.id == sid)
            ):
                picked.append(sid)
    figures: dict[str, str] = {}
    for kind, subjects in (("access", picked[: SAMPLES + 1]), ("erasure", picked[SAMPLES + 1 :])):
        timings, cpus, rows = [], [], []
        for sid in subjects:
            seconds, cpu, touched = _run_one(runtime, kind, sid)
            timings.append(seconds)
            cpus.append(cpu)
            rows.append(touched)
        timings, cpus = timings[1:], cpus[1:]  # the first warms connections and caches
        median = statistics.median(timings) * 1000
        p90 = sorted(timings)[int(len(timings) * 0.9) - 1] * 1000
        figures[kind] = (
            f"{median:.1f} ms (p90 {p90:.1f}; client cpu "
            f"{statistics.median(cpus) * 1000:.1f}; "
            f"{statistics.median(rows):.0f} rows)"
            f"  {'target met' if median < TARGET_MS else 'above target'}"
        )
        figures[f"{kind}_ms"] = f"{median:.3f}"
    return figures


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    sizes = QUICK if quick else FULL
    directory = Path(os.environ.get("GOVERNANCE_BENCH_DIR", "var/bench")).resolve()
    server = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
    rows = {
        "access": Row(
            "export one subject (access request: execute -> completed), median",
            target=f"< {TARGET_MS:g} ms",
        ),
        "erasure": Row(
            "erase one subject (every step, shred, verify), median", target=f"< {TARGET_MS:g} ms"
        ),
        "access_ratio": Row(
            f"  export: {sizes[1]:,} store / {sizes[0]:,} store", target=f"<= {RATIO_TARGET:g}"
        ),
        "erasure_ratio": Row(
            f"  erase: {sizes[1]:,} store / {sizes[0]:,} store", target=f"<= {RATIO_TARGET:g}"
        ),
    }
    if server is None:
        rows["access"].cells["PostgreSQL"] = "unreachable"
        return list(rows.values())
    medians: dict[tuple[str, int], float] = {}
    for customers in sizes:
        column = f"PostgreSQL {customers:,}"
        runtime = store_runtime(server, customers, directory)
        try:
            say(f"{column}: filling (resumes; skips what is there)")
            fill(runtime, customers, say)
            say(f"{column}: measuring")
            for key, figure in measure(runtime, customers, say).items():
                if key.endswith("_ms"):
                    medians[(key[:-3], customers)] = float(figure)
                else:
                    rows[key].cells[column] = figure
        finally:
            runtime.dispose()
    for kind in ("access", "erasure"):
        small, large = medians.get((kind, sizes[0])), medians.get((kind, sizes[1]))
        if small and large:
            ratio = large / small
            verdict = "target met" if ratio <= RATIO_TARGET else "above target"
            rows[f"{kind}_ratio"].cells[f"PostgreSQL {sizes[1]:,}"] = f"{ratio:.2f}  {verdict}"
    return list(rows.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.requests_bench")
    parser.add_argument(
        "--fill",
        type=int,
        metavar="N",
        help="only fill (or complete) the demo store of N customers, then exit",
    )
    args, rest = parser.parse_known_args(argv)
    if args.fill:
        server = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
        if server is None:
            print("PostgreSQL is unreachable", file=sys.stderr)
            return 1
        directory = Path(os.environ.get("GOVERNANCE_BENCH_DIR", "var/bench")).resolve()
        runtime = store_runtime(server, args.fill, directory)
        try:
            seconds = fill(runtime, args.fill, lambda m: print(m, file=sys.stderr, flush=True))
        finally:
            runtime.dispose()
        print(f"filled {args.fill:,} customers in {seconds:,.0f} s")
        return 0
    return run_benchmarks(
        {NAME: sys.modules[__name__]}, [*rest, "--only", NAME], description=__doc__.splitlines()[0]
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
