"""Consent benchmark: filtering subjects by current consent inside the query, on SQLite and
PostgreSQL, beside a plain indexed SELECT of the same ids.

A store of N subjects (100,000; 20,000 with --quick) gets realistic consent histories
through ``ConsentService.import_events`` (the same validation and state upsert as every
write): 60% grant email marketing, a sixth of those withdraw, 2% object to analytics and
0.5% are restricted. Then, side by side on the same connection, each the median of several
runs that fetch every id:

- plain:    SELECT id FROM customers WHERE id BETWEEN :first AND :last   (all N, PK index)
- filtered: the same, AND ``processable_clause(customers.id, purpose)`` (the issue 6 filter)

for a consent purpose (email_marketing: EXISTS granted, NOT EXISTS restricted) and a
legitimate-interests one (analytics: NOT EXISTS objected, NOT EXISTS restricted). The target
(from the issue) is filtered / plain < 2. Also: reading one subject's state, per call.

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

from sqlalchemy import Engine, bindparam, insert, select, text

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
from governance.consent.services import (
    ConsentAction,
    ConsentService,
    ConsentSource,
    NewConsentEvent,
    processable_clause,
)
from governance.db import unit_of_work
from governance.runtime import Runtime

NAME = "consent"
RATIO_TARGET = 2.0
FULL, QUICK = 100_000, 20_000
REPEATS = 9
NOTICE = "privacy-notice-2026-04"
ACTOR = Actor(id="bench", role="operator")


def subject_id(i: int) -> str:
    return f"{i:08x}{random.Random(i).getrandbits(96):024x}"  # noqa: S311 - ids, not secrets


def history(i: int, sid: str, start: datetime) -> list[NewConsentEvent]:
    dice = random.Random(i * 7919)  # noqa: S311 - bench data
    at = start + timedelta(minutes=i % 100_000)
    events = []
    if dice.random() < 0.6:
        events.append(
            NewConsentEvent(
                sid,
                ConsentAction.GRANT,
                ConsentSource.WEB_FORM,
                "email_marketing",
                NOTICE,
                None,
                at,
            )
        )
        if dice.random() < 1 / 6:
            events.append(
                NewConsentEvent(
                    sid,
                    ConsentAction.WITHDRAW,
                    ConsentSource.API,
                    "email_marketing",
                    NOTICE,
                    None,
                    at + timedelta(days=9),
                )
            )
    if dice.random() < 0.3:
        events.append(
            NewConsentEvent(
                sid,
                ConsentAction.GRANT,
                ConsentSource.WEB_FORM,
                "personalised_recommendations",
                NOTICE,
                None,
                at,
            )
        )
    if dice.random() < 0.02:
        events.append(
            NewConsentEvent(
                sid,
                ConsentAction.OBJECT,
                ConsentSource.WEB_FORM,
                "analytics",
                None,
                None,
                at + timedelta(days=20),
            )
        )
    if dice.random() < 0.005:
        events.append(
            NewConsentEvent(
                sid,
                ConsentAction.RESTRICT,
                ConsentSource.OFFICER,
                None,
                None,
                None,
                at + timedelta(days=30),
            )
        )
    return events


def fill(runtime: Runtime, n: int, say: Callable[[str], None]) -> int:
    table = runtime.tables["customers"]
    now = datetime.now(UTC)
    start = now - timedelta(days=400)
    events = 0
    chunk = 5_000
    for lo in range(0, n, chunk):
        ids = [subject_id(i) for i in range(lo, min(lo + chunk, n))]
        with unit_of_work(runtime.sessions) as session:
            session.execute(
                insert(table), [{"id": s, "created_at": now, "updated_at": now} for s in ids]
            )
            batch = [e for k, s in enumerate(ids) for e in history(lo + k, s, start)]
            events += ConsentService(session, runtime, ACTOR).import_events(batch)
        if (lo // chunk) % 5 == 4:
            say(f"  {lo + chunk:,}/{n:,} subjects")
    return events


def _side_by_side(
    engine: Engine,
    plain,
    filtered,
    params: dict,  # noqa: ANN001
) -> tuple[float, float, int, int]:
    """Median seconds of each query, run alternately (a shared machine's noise hits both),
    and the number of ids each returned."""
    times: dict[int, list[float]] = {0: [], 1: []}
    counts = [0, 0]
    with engine.connect() as conn:
        for statement in (plain, filtered):  # warm caches and plans
            conn.execute(statement, params).scalars().all()
        for _ in range(REPEATS):
            for k, statement in enumerate((plain, filtered)):
                started = time.perf_counter()
                counts[k] = len(conn.execute(statement, params).scalars().all())
                times[k].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1]), counts[0], counts[1]


def measure(runtime: Runtime, n: int) -> dict[str, str]:
    table = runtime.tables["customers"]
    ids = table.c.id
    params = {"first": subject_id(0), "last": subject_id(n - 1)}
    plain = select(ids).where(ids.between(bindparam("first"), bindparam("last")))
    figures: dict[str, str] = {}
    dialect = runtime.engine.dialect.name
    for purpose_id in ("email_marketing", "analytics"):
        purpose = runtime.policy.purposes.get(purpose_id)
        assert purpose is not None
        filtered = plain.where(processable_clause(ids, purpose, dialect=dialect))
        plain_s, seconds, plain_n, count = _side_by_side(runtime.engine, plain, filtered, params)
        figures[f"{purpose_id}_plain"] = f"{plain_s * 1000:.1f} ms ({plain_n:,} ids)"
        figures[purpose_id] = f"{seconds * 1000:.1f} ms ({count:,} ids)"
        ratio = seconds / plain_s
        verdict = "target met" if ratio < RATIO_TARGET else "above target"
        figures[f"{purpose_id}_ratio"] = f"{ratio:.2f}  {verdict}"
    sample = random.Random(3).sample(range(n), 1000)  # noqa: S311 - bench sample
    with unit_of_work(runtime.sessions) as session:
        service = ConsentService(session, runtime, ACTOR)
        service.state(subject_id(0))
        started = time.perf_counter()
        for i in sample:
            service.state(subject_id(i))
        per_call = (time.perf_counter() - started) / len(sample)
    figures["state"] = f"{per_call * 1e6:.0f} µs"
    return figures


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    n = QUICK if quick else FULL
    pg_server = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
    backends = [SQLITE] + ([POSTGRES] if pg_server else [])
    rows = {
        "email_marketing_plain": Row(f"plain indexed SELECT of {n:,} subject ids, median"),
        "email_marketing": Row("same ids filtered: may process for email_marketing (consent)"),
        "email_marketing_ratio": Row("  ratio filtered / plain", target=f"< {RATIO_TARGET:g}"),
        "analytics_plain": Row(f"plain indexed SELECT of {n:,} subject ids, median (again)"),
        "analytics": Row("same ids filtered: may process for analytics (legit. interests)"),
        "analytics_ratio": Row("  ratio filtered / plain", target=f"< {RATIO_TARGET:g}"),
        "state": Row("read one subject's current state (ConsentService.state), per call"),
        "fill": Row("consent events imported (import_events), events/s"),
    }
    if not pg_server:
        rows["email_marketing_plain"].cells[POSTGRES] = "unreachable"
    with tempfile.TemporaryDirectory(prefix="consent-bench-") as tmp:
        directory = Path(tmp)
        for backend in backends:
            database = (
                sqlite_database(directory, "consent")
                if backend == SQLITE
                else postgres_database(pg_server)  # type: ignore[arg-type]
            )
            with database as url:
                runtime = bench_runtime(url, directory)
                try:
                    say(f"{backend}: {n:,} subjects with consent histories")
                    started = time.perf_counter()
                    events = fill(runtime, n, say)
                    rows["fill"].cells[backend] = (
                        f"{events / (time.perf_counter() - started):,.0f}/s ({events:,})"
                    )
                    with runtime.engine.begin() as conn:
                        conn.execute(text("ANALYZE"))
                    say(f"{backend}: measuring")
                    for key, figure in measure(runtime, n).items():
                        rows[key].cells[backend] = figure
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
