"""Audit log benchmark: appending, integrating and verifying, on SQLite and PostgreSQL.

Every figure comes from the real code path: ``AuditLog.record`` in a unit of work on a
migrated database, ``AuditLog.integrate`` and ``AuditLog.verify``. Only the large log that
``verify`` reads is filled faster than ``record`` would (its canonical bytes are built by
the same ``AuditEvent.to_document`` + ``canonical_bytes`` and inserted with executemany),
then integrated by ``AuditLog.integrate(batch=50000)``.

PostgreSQL is used when reachable at ``GOVERNANCE_BENCH_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test); a fresh database is created and dropped.

Targets (from the issue): verify >= 300,000 events/s, appends >= 5,000/s on one core.
Rates are printed per second of wall time and per second of the benchmark process's CPU
time: on a machine shared with other work the CPU figure is the "one core" one. For
PostgreSQL the server's own CPU is not in the client's CPU figure. The load average is
printed with them: on the 2-CPU development VM a load above 2 slows the CPU figures too.

Each figure has its ceiling beside it, doing the same work on the same data:

- one event per commit: the same unit of work without the event (what the Session and
  the transaction cost any request), the same rows written by the bare driver in a
  transaction each (BEGIN IMMEDIATE / INSERTs / COMMIT), and the time of one event taken
  apart step by step;
- verify: reading its rows alone on the driver, and plain hashlib loops over the same
  bytes (the leaf hashes, then the interior nodes).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import func, insert, select

from audit import rawsql
from audit.checkpoint import NoteSigner, generate_signing_key, load_signing_key
from audit.events import Actor, AuditEvent, Target, canonical_bytes, new_event_id
from audit.log import VERIFY_CHUNK, AuditLog
from audit.models import audit_entries, audit_queue, audit_sequence
from audit.rawsql import EntryRow
from bench.harness import (
    DEFAULT_PG_URL,
    ORIGIN,
    POSTGRES,
    SQLITE,
    Row,
    postgres_database,
    postgres_server,
    run_benchmarks,
    sqlite_database,
)
from governance.db import make_engine, make_session_factory, unit_of_work
from governance.migrate import alembic_config

NAME = "audit"
APPEND_TARGET = 5_000
VERIFY_TARGET = 300_000
WRITERS = 4


@dataclass(frozen=True)
class Sizes:
    single: int  # events appended one per commit
    batched: int  # events appended 100 per commit
    per_writer: int  # events per process in the 4-process run
    verify: int  # events in the log that verify reads


QUICK = Sizes(single=1_000, batched=3_000, per_writer=500, verify=100_000)
FULL = Sizes(single=4_000, batched=10_000, per_writer=2_000, verify=1_000_000)


def make_event(i: int, actor: str = "c6a1f0d2") -> AuditEvent:
    """A typical request event: a read of one record's fields for a purpose (~440 bytes)."""
    return AuditEvent(
        action="data.read",
        actor=Actor(id=f"{actor}{i % 7}", role="application"),
        target=Target(collection="customers", record_id=f"cust-{i}", subject_id=f"subj-{i % 9973}"),
        purpose="customer_support",
        policy_version="5f1c9a0e" * 8,
        request_id=uuid.uuid4().hex,
        details={"fields": ["email", "phone", "address"], "count": 1, "http_status": 200},
    )


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _fmt_rate(value: float, target: float | None = None) -> str:
    text_ = f"{value:,.0f}/s"
    if target is not None:
        text_ += "  target met" if value >= target else "  below target"
    return text_


# -- databases ------------------------------------------------------------------------------


# -- appending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Events per second of wall time, and per second of this process's CPU time (the
    "one core" figure on a shared machine; for PostgreSQL the server's CPU is not in it)."""

    wall: float
    cpu: float

    def cell(self, target: float | None = None) -> str:
        text_ = f"{self.wall:,.0f}/s (cpu {self.cpu:,.0f}/s, {1e6 / self.cpu:.3g} µs each)"
        if target is not None:
            met = [name for name, v in (("wall", self.wall), ("cpu", self.cpu)) if v >= target]
            text_ += f"  target met ({' and '.join(met)})" if met else "  below target"
        return text_


@contextlib.contextmanager
def clocks() -> Iterator[list[float]]:
    """Yield a list that holds [wall seconds, CPU seconds] of the block once it ends; the
    CPU of child processes the block waited for counts too (verify's second process)."""
    spans: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
    yield spans
    spans[:] = [time.perf_counter() - wall, time.process_time() + _children_cpu() - cpu]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def append(
    url: str, log: AuditLog, events: list[AuditEvent], per_commit: int, many: bool = False
) -> Rate:
    """Record the events, per_commit to a unit of work (one record_many call per unit when
    ``many``); return the rate."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        for event in events[:50]:  # warm up: connection, prepared statements
            with unit_of_work(sessions) as s:
                log.record(s, event)
        with clocks() as spent:
            for i in range(0, len(events), per_commit):
                with unit_of_work(sessions) as s:
                    if many:
                        log.record_many(s, events[i : i + per_commit])
                    else:
                        for event in events[i : i + per_commit]:
                            log.record(s, event)
        return Rate(_rate(len(events), spent[0]), _rate(len(events), spent[1]))
    finally:
        engine.dispose()


STEPS = ("Session()", "validate", "id+time", "bytes", "BEGIN", "INSERTs", "COMMIT", "close")


def append_steps(url: str, events: list[AuditEvent]) -> dict[str, float]:
    """Where one event per commit spends its time: µs of wall time per event for each step
    of ``unit_of_work`` + ``AuditLog.record``, taken apart in the order they run (the
    transaction begins at the first statement, ``session.connection()``, as in record).

    The steps copy ``record()`` and ``log._insert`` call for call; a change there belongs
    here too. On PostgreSQL, BEGIN is the pool checkout with its pre-ping round trip, and
    psycopg sends its own BEGIN with the first INSERT, so that round trip is in INSERTs."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    spent = dict.fromkeys(STEPS, 0)
    clock = time.perf_counter_ns

    def one(event: AuditEvent, into: dict[str, int]) -> None:
        t0 = clock()
        session = sessions()
        t1 = clock()
        event.validate()
        t2 = clock()
        event_id, recorded_at = new_event_id(), datetime.now(UTC)
        t3 = clock()
        data = canonical_bytes(event.to_document(event_id, recorded_at))
        t4 = clock()
        raw = rawsql.for_connection(session.connection())
        assert raw is not None, "the bench runs on sqlite3 and psycopg only"
        driver, dbapi = raw
        t5 = clock()
        driver.insert(
            dbapi,
            [(event_id, recorded_at, event.actor.id, event.action, event.target.subject_id, data)],
        )
        t6 = clock()
        session.commit()
        t7 = clock()
        session.close()
        t8 = clock()
        for step, start, end in zip(
            STEPS, (t0, t1, t2, t3, t4, t5, t6, t7), (t1, t2, t3, t4, t5, t6, t7, t8), strict=True
        ):
            into[step] += end - start

    try:
        for event in events[:50]:
            one(event, dict.fromkeys(STEPS, 0))
        for event in events:
            one(event, spent)
    finally:
        engine.dispose()
    return {step: ns / 1000 / len(events) for step, ns in spent.items()}


def session_only(url: str, n: int) -> Rate:
    """The unit of work around one event without the event: Session, pool checkout,
    BEGIN (IMMEDIATE on SQLite), COMMIT, close. What every audited request pays anyway."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        for _ in range(50):
            with unit_of_work(sessions) as s:
                s.connection()
        with clocks() as spent:
            for _ in range(n):
                with unit_of_work(sessions) as s:
                    s.connection()  # begins the transaction, as record() does
        return Rate(_rate(n, spent[0]), _rate(n, spent[1]))
    finally:
        engine.dispose()


def entry_rows(events: list[AuditEvent], driver: rawsql.Driver) -> list[EntryRow]:
    """The rows ``record()`` writes for these events, built beforehand: new event ids, the
    same canonical bytes."""
    recorded_at = datetime.now(UTC)
    rows: list[EntryRow] = []
    for event in events:
        event_id = new_event_id()
        data = canonical_bytes(event.to_document(event_id, recorded_at))
        rows.append(
            (event_id, recorded_at, event.actor.id, event.action, event.target.subject_id, data)
        )
    return rows


def bare_driver(url: str, events: list[AuditEvent]) -> Rate:
    """The ceiling of one event per commit: the driver alone, one transaction per row with
    the same statements record() runs (SQLite: BEGIN IMMEDIATE, INSERT entry, INSERT queue
    row, COMMIT; PostgreSQL: the one-round-trip CTE, COMMIT), on a pool connection, so with
    the same PRAGMAs (WAL, synchronous=NORMAL, foreign keys) and server settings."""
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None  # a pool connection always has its driver connection
        driver = rawsql.Driver(engine.dialect)
        warm, rows = entry_rows(events[:50], driver), entry_rows(events, driver)
        sqlite = engine.dialect.name == "sqlite"

        def one(row: EntryRow) -> None:
            if sqlite:
                dbapi.execute("BEGIN IMMEDIATE")
                driver.insert(dbapi, [row])
                dbapi.execute("COMMIT")
            else:  # psycopg begins the transaction itself
                driver.insert(dbapi, [row])
                dbapi.commit()

        for row in warm:
            one(row)
        with clocks() as spent:
            for row in rows:
                one(row)
        return Rate(_rate(len(rows), spent[0]), _rate(len(rows), spent[1]))
    finally:
        raw.close()
        engine.dispose()


def append_worker(url: str, key_path: str, writer: int, n: int, barrier, results) -> None:  # noqa: ANN001
    """Child process of the multi-writer run: one event per commit, own engine and key."""
    log = AuditLog(NoteSigner(ORIGIN, load_signing_key(key_path)), ORIGIN)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    events = [make_event(i, actor=f"w{writer}") for i in range(n)]
    with unit_of_work(sessions) as s:  # warm up before the common start
        log.record(s, make_event(0, actor=f"w{writer}"))
    barrier.wait(timeout=120)
    start = time.time()
    for event in events:
        with unit_of_work(sessions) as s:
            log.record(s, event)
    results.put((start, time.time(), n))
    engine.dispose()


def append_processes(url: str, key_path: Path, per_writer: int) -> float:
    """WRITERS processes appending at once; total events / wall time from common start."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=append_worker, args=(url, str(key_path), w, per_writer, barrier, results)
        )
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    try:
        spans = [results.get(timeout=600) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("an append worker failed")
    first = min(s for s, _, _ in spans)
    last = max(e for _, e, _ in spans)
    return _rate(sum(n for _, _, n in spans), last - first)


# -- integrating and verifying ------------------------------------------------------------


def integrate_all(
    url: str, log: AuditLog, batch: int, checkpoint: bool = True
) -> tuple[int, float]:
    """Integrate everything queued in one transaction; return (events, events/s)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        start = time.perf_counter()
        with unit_of_work(sessions) as s:
            result = log.integrate(s, batch=batch, checkpoint=checkpoint)
        return result.integrated, _rate(result.integrated, time.perf_counter() - start)
    finally:
        engine.dispose()


def verify(
    url: str, log: AuditLog, expected_size: int | None = None, processes: int | None = None
) -> tuple[int, float, float]:
    """Run AuditLog.verify (``processes`` as verify takes it: None, its default); fail
    loudly unless the log is intact. Return (size, wall seconds, CPU seconds)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        with clocks() as spent, unit_of_work(sessions) as s:
            report = log.verify(s, processes=processes)
    finally:
        engine.dispose()
    if not report.ok or (expected_size is not None and report.tree_size != expected_size):
        raise RuntimeError(f"benchmark log does not verify: {report.problems[:3]}")
    return report.tree_size, spent[0], spent[1]


def fill(url: str, n: int, progress: Callable[[str], None], chunk: int = 50_000) -> None:
    """Put n events' canonical bytes and queue rows in the (empty) log with executemany."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            highest = conn.scalar(select(func.coalesce(func.max(audit_entries.c.id), 0)))
            next_id = int(highest or 0) + 1
            for begin in range(0, n, chunk):
                recorded_at = datetime.now(UTC)
                rows = []
                for i in range(begin, min(n, begin + chunk)):
                    event = make_event(i)
                    event_id = uuid.uuid4().hex
                    # The database computes the filter columns from the bytes.
                    rows.append(
                        {
                            "id": next_id + i,
                            "data": canonical_bytes(event.to_document(event_id, recorded_at)),
                        }
                    )
                conn.execute(insert(audit_entries), rows)
                conn.execute(insert(audit_queue), [{"entry_id": r["id"]} for r in rows])
                if (begin // chunk) % 4 == 3:
                    progress(f"  filled {begin + len(rows):,} / {n:,}")
    finally:
        engine.dispose()


def verify_plain_columns(url: str, log: AuditLog) -> tuple[int, float, float]:
    """Verify after the table was rebuilt with plain filter columns (migration 0011's
    downgrade, which keeps their values): the fallback that compares every row's columns
    with its bytes. The log must report that one problem and nothing else."""
    command.downgrade(alembic_config(url), "0008")
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        with clocks() as spent, unit_of_work(sessions) as s:
            report = log.verify(s)
    finally:
        engine.dispose()
    if [p for p in report.problems if not p.startswith("audit_entries: ")]:
        raise RuntimeError(f"benchmark log does not verify: {report.problems[:3]}")
    return report.tree_size, spent[0], spent[1]


def read_rows(url: str, size: int) -> Rate:
    """Reading the rows verify reads, alone: the same query on the driver, the same chunks,
    nothing done with them (the table computes the filter columns, so verify does not read
    them). Verify cannot be faster than this plus its hashing."""
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        driver = rawsql.Driver(engine.dialect)
        count = 0
        with clocks() as spent:
            for rows in driver.leaf_rows(
                raw.driver_connection, VERIFY_CHUNK, prefix=size, columns=False
            ):
                count += len(rows)
        return Rate(_rate(count, spent[0]), _rate(count, spent[1]))
    finally:
        raw.close()
        engine.dispose()


def hashlib_ceilings(url: str) -> tuple[float, float]:
    """Plain hashlib loops over every event's bytes, already in memory (events/s):
    sha256(0x00 || data) per event (the leaf hashes), and that plus the tree's interior
    nodes sha256(0x01 || left || right) pairwise level by level (all the hashing verify
    has to do: about one node per leaf)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            datas = [
                bytes(d)
                for (d,) in conn.execute(
                    select(audit_entries.c.data)
                    .join(audit_sequence, audit_sequence.c.entry_id == audit_entries.c.id)
                    .order_by(audit_sequence.c.leaf_index)
                )
            ]
    finally:
        engine.dispose()
    sha256 = hashlib.sha256
    start = time.perf_counter()
    leaves = [sha256(b"\x00" + data).digest() for data in datas]
    leaf_seconds = time.perf_counter() - start
    start = time.perf_counter()
    level = leaves
    while len(level) > 1:
        pairs = zip(level[0::2], level[1::2], strict=False)  # an odd last node waits
        level = [sha256(b"\x01" + a + b).digest() for a, b in pairs]
    node_seconds = time.perf_counter() - start
    return _rate(len(datas), leaf_seconds), _rate(len(datas), leaf_seconds + node_seconds)


# -- the benchmark ----------------------------------------------------------------------------


def _append_figures(url: str, log: AuditLog, sizes: Sizes) -> dict[str, Rate]:
    single = [make_event(i) for i in range(sizes.single)]
    batched = [make_event(i) for i in range(sizes.batched)]
    return {
        "single": append(url, log, single, per_commit=1),
        "session": session_only(url, sizes.single),
        "bare": bare_driver(url, single),
        "batched": append(url, log, batched, per_commit=100),
        "many": append(url, log, batched, per_commit=100, many=True),
    }


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    sizes = QUICK if quick else FULL
    pg_server = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
    backends = [SQLITE] + ([POSTGRES] if pg_server else [])
    target = f">= {APPEND_TARGET:,}/s"

    rows = {
        "load": Row(f"load average 1/5/15 min, start -> end ({os.cpu_count()} CPUs)"),
        "single": Row(
            "appends/s, 1 writer, record() + commit per event (whole transaction)", target=target
        ),
        "session": Row("  the same unit of work without the event (Session, BEGIN, COMMIT)"),
        "bare": Row("  ceiling: the same rows on the bare driver, BEGIN/INSERTs/COMMIT each"),
        "steps": Row("  where the time of one event per commit goes, µs wall per event"),
        "batched": Row("appends/s, 1 writer, record() x 100 per commit", target=target),
        "many": Row("appends/s, 1 writer, record_many(100) per commit", target=target),
        "procs": Row(f"appends/s, {WRITERS} processes, record() + commit per event"),
        "integrate": Row("integration, events/s (queue of the appends, batch 5000)"),
        "integrate_big": Row(f"integration, events/s ({sizes.verify:,} events, batch 50000)"),
        "verify_s": Row(f"verify {sizes.verify:,} events, seconds (cpu seconds)"),
        "verify_rate": Row("verify, events/s", target=f">= {VERIFY_TARGET:,}/s"),
        "verify_one": Row(
            "verify in one process (no second process), events/s; the second process's speed-up"
        ),
        "verify_plain": Row(
            "verify of the same log in a table rebuilt with plain filter "
            "columns (every row's columns compared with its bytes), events/s; "
            "the generated columns' speed-up (one process each)"
        ),
        "read": Row("reading verify's rows alone on the driver, events/s (no hashing)"),
        "ceiling": Row("hashlib loop sha256(0x00||data), events/s (ceiling: leaves only)"),
        "ceiling_tree": Row("hashlib loops: leaves + interior nodes, events/s (hashing ceiling)"),
        "ratio": Row(
            "verify in one process, wall / one core's ceilings (leaves; leaves + "
            "nodes; read + leaves + nodes)"
        ),
    }
    if not pg_server:
        rows["single"].cells[POSTGRES] = "unreachable"
    load_at_start = _load()

    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        directory = Path(tmp)
        key_path = directory / "signing-key.pem"
        log = AuditLog(NoteSigner(ORIGIN, generate_signing_key(key_path)), ORIGIN)

        for backend in backends:
            database = (
                sqlite_database(directory, "appends")
                if backend == SQLITE
                else postgres_database(pg_server)  # type: ignore[arg-type]
            )
            with database as url:
                say(
                    f"{backend}: appending {sizes.single:,} + 2 x {sizes.batched:,} events, "
                    "one writer"
                )
                figures = _append_figures(url, log, sizes)
                steps = append_steps(url, [make_event(i) for i in range(sizes.single)])
                rows["steps"].cells[backend] = (
                    ", ".join(f"{step} {us:.0f}" for step, us in steps.items())
                    + f" = {sum(steps.values()):.0f}"
                )
                for name, rate in figures.items():
                    rows[name].cells[backend] = rate.cell(
                        APPEND_TARGET if rows[name].target else None
                    )
                say(f"{backend}: integrating the queue")
                count, per_second = integrate_all(url, log, batch=5000)
                rows["integrate"].cells[backend] = f"{_fmt_rate(per_second)} ({count:,} events)"
                say(f"{backend}: {WRITERS} processes x {sizes.per_writer:,} events")
                per_second = append_processes(url, key_path, sizes.per_writer)
                rows["procs"].cells[backend] = _fmt_rate(per_second)
                count, _ = integrate_all(url, log, batch=5000)
                verify(url, log)  # the appended log is intact

        say(f"SQLite: filling a log of {sizes.verify:,} events")
        with sqlite_database(directory, "verify") as url:
            fill(url, sizes.verify, say)
            say(f"SQLite: integrating {sizes.verify:,} events (batch 50000)")
            count, per_second = integrate_all(url, log, batch=50_000)
            rows["integrate_big"].cells[SQLITE] = _fmt_rate(per_second)
            say("SQLite: verifying")
            size, seconds, cpu_seconds = verify(url, log, expected_size=sizes.verify)
            verify_rate = Rate(_rate(size, seconds), _rate(size, cpu_seconds))
            read = read_rows(url, sizes.verify)
            leaves_only, with_nodes = hashlib_ceilings(url)
            rows["read"].cells[SQLITE] = read.cell()
            rows["verify_s"].cells[SQLITE] = f"{seconds:.2f} s ({cpu_seconds:.2f} s)"
            rows["verify_rate"].cells[SQLITE] = verify_rate.cell(VERIFY_TARGET)
            rows["ceiling"].cells[SQLITE] = _fmt_rate(leaves_only)
            rows["ceiling_tree"].cells[SQLITE] = _fmt_rate(with_nodes)
            say("SQLite: verifying in one process")
            size, seconds, cpu_seconds = verify(url, log, expected_size=sizes.verify, processes=1)
            alone = Rate(_rate(size, seconds), _rate(size, cpu_seconds))
            rows["verify_one"].cells[SQLITE] = (
                f"{alone.cell()}; {verify_rate.wall / alone.wall:.2f}x"
            )
            floor = 1 / (1 / read.wall + 1 / with_nodes)  # read, then hash: one after the other
            rows["ratio"].cells[SQLITE] = (
                f"{alone.wall / leaves_only:.2f}; {alone.wall / with_nodes:.2f}; "
                f"{alone.wall / floor:.2f}"
            )
            say("SQLite: verifying again with plain filter columns (the fallback)")
            size, seconds, cpu_seconds = verify_plain_columns(url, log)
            plain = Rate(_rate(size, seconds), _rate(size, cpu_seconds))
            rows["verify_plain"].cells[SQLITE] = f"{plain.cell()}; {alone.wall / plain.wall:.2f}x"
    rows["load"].cells[SQLITE] = f"{load_at_start} -> {_load()}"
    return list(rows.values())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(
        run_benchmarks(
            {NAME: sys.modules[__name__]},
            [*sys.argv[1:], "--only", NAME],
            description=__doc__.splitlines()[0],
        )
    )
