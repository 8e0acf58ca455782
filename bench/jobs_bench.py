"""Jobs benchmark: erasures of distinct subjects completed per minute by 1 and by 2 Celery
workers on PostgreSQL and Redis (the ratio shows the scaling), the latency from a job's
delivery (the HTTP 202) to its first step starting (p50, p99) on an idle worker, and the
same on the embedded default's thread runner.

Each erasure is the real path: a request recorded, verified and started with its job in
one transaction, the job delivered after the commit, claimed by a worker and run through
the recorded steps. Workers are `governance worker --concurrency 1` processes, so two
workers are two processes on the machine's two cores.

Target (the issue): 2 workers at least 1.6x one worker; queue latency p50 under 50 ms.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from audit.events import Actor
from bench.harness import DEFAULT_PG_URL, Row, postgres_server
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.jobs.service import JobKind, Jobs
from governance.migrate import upgrade, upgrade_keystore
from governance.requests.services import RequestService
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from governance.timestamps import as_utc

NAME = "jobs"
SCALING_TARGET = 1.6
LATENCY_TARGET_MS = 50.0
REDIS_URL = "redis://127.0.0.1:6379/13"
ACTOR = Actor(id="bench-officer", role="compliance_officer")
ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def _databases(server: str) -> Iterator[tuple[str, str]]:
    url = make_url(server)
    names = [f"gov_bench_jobs_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        crm, keys = (url.set(database=n).render_as_string(hide_password=False) for n in names)
        upgrade(crm)
        upgrade_keystore(keys)
        yield crm, keys
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _erasures(runtime: Runtime, count: int) -> list[str]:
    """``count`` subjects with a few owned records each, and a started erasure (with its
    job) for each; returns the job ids."""
    jobs: list[str] = []
    with unit_of_work(runtime.sessions) as session:
        store = runtime.record_store(session)
        service = RequestService(session, runtime, ACTOR)
        for n in range(count):
            tag = uuid.uuid4().hex[:8]
            sid = store.create(
                "customers",
                {
                    "first_name": "Ada",
                    "last_name": "Bench",
                    "email": f"b.{tag}@mail.example",
                    "city": "Exampleville",
                    "country": "US",
                    "language": "en",
                },
            ).id
            for k in range(2):
                store.create(
                    "interactions",
                    {
                        "kind": "email",
                        "direction": "inbound",
                        "summary": "Asked about delivery",
                        "occurred_at": f"2026-0{k + 1}-10T10:00:00Z",
                        "body": "Parcel late.",
                    },
                    subject_id=sid,
                )
            request = service.create("erasure", "gdpr", {"subject_id": sid})
            service.verify(request.id, "signed letter")
            service.start(request.id)
            job, _ = Jobs(session).enqueue(JobKind.REQUEST_EXECUTE, request.id, actor=ACTOR)
            jobs.append(job.id)
            if n % 50 == 49:
                session.commit()
    return jobs


def _wait_done(runtime: Runtime, job_ids: list[str], timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while True:
        with runtime.sessions() as session:
            done = session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.id.in_(job_ids), Job.state.notin_(("queued", "running")))
            )
        if done == len(job_ids):
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise RuntimeError("the erasures did not finish in time")
        time.sleep(0.05)


def _latencies(runtime: Runtime, deliver: Callable[[list[str]], None], samples: int) -> list[float]:
    """Milliseconds from delivery to the claim (the first step starting), one job at a time
    on an idle worker."""
    out: list[float] = []
    for job_id in _erasures(runtime, samples):
        sent = datetime.now(UTC)
        deliver([job_id])
        _wait_done(runtime, [job_id])
        with runtime.sessions() as session:
            started = session.scalar(select(Job.started_at).where(Job.id == job_id))
        out.append((as_utc(started) - sent).total_seconds() * 1000)  # type: ignore[operator]
    return out


def _warm_up(runtime: Runtime, count: int) -> None:
    """Each worker opens its runtime (and loads the PII model) and builds its statements at
    its first erasures: give them those before the clock starts."""
    jobs = _erasures(runtime, count)
    runtime.task_runner.deliver(jobs)
    _wait_done(runtime, jobs)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Workers:
    def __init__(self, env: dict[str, str], count: int, logs: Path) -> None:
        self.processes = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
                [sys.executable, "-m", "cli", "worker", "--concurrency", "1"],
                cwd=ROOT,
                env=env,
                stdout=open(logs / f"worker-{n}.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for n in range(count)
        ]
        time.sleep(6)  # the workers connect to the broker and load the PII model

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    count, samples = (40, 15) if quick else (150, 40)
    rows = {
        "one": Row(f"erasures/min, {count} distinct subjects, 1 Celery worker"),
        "two": Row(f"erasures/min, {count} distinct subjects, 2 Celery workers"),
        "ratio": Row("  2 workers / 1 worker", target=f">= {SCALING_TARGET:g}x"),
        "latency": Row(
            f"delivery to first step on an idle worker, ms p50 / p99 ({samples})",
            target=f"p50 < {LATENCY_TARGET_MS:g} ms",
        ),
        "thread": Row(f"erasures/min, {count} subjects, thread runner (embedded default)"),
    }
    server = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
    column = "PostgreSQL + Redis"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    except redis.exceptions.ConnectionError:
        server = None
    if server is None:
        rows["one"].cells[column] = "PostgreSQL or Redis unreachable"
        return list(rows.values())
    with (
        tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp,
        _databases(server) as (crm, keys),
    ):
        directory = Path(tmp)
        env = {
            **os.environ,
            "GOVERNANCE_DATABASE_URL": crm,
            "GOVERNANCE_KEYSTORE_URL": keys,
            "GOVERNANCE_VAR_DIR": str(directory),
            "GOVERNANCE_TASK_RUNNER": "celery",
            "GOVERNANCE_BROKER_URL": REDIS_URL,
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            "GOVERNANCE_PII_SCAN_PROCESSES": "1",
        }
        runtime = open_runtime(Settings.from_env(env))
        try:
            rates = {}
            for label, workers in (("one", 1), ("two", 2)):
                jobs = _erasures(runtime, count)
                say(f"jobs: {count} erasures on {workers} Celery worker(s)")
                pool = _Workers(env, workers, directory)
                try:
                    _warm_up(runtime, 3 * workers)
                    started = time.perf_counter()
                    runtime.task_runner.deliver(jobs)
                    rates[label] = count / (_wait_done(runtime, jobs) - started) * 60
                    rows[label].cells[column] = f"{rates[label]:,.0f}/min"
                    if workers == 1:
                        lat = _latencies(runtime, runtime.task_runner.deliver, samples)
                        rows["latency"].cells[column] = (
                            f"{statistics.median(lat):.1f} / {_percentile(lat, 0.99):.1f}"
                        )
                finally:
                    pool.stop()
            ratio = rates["two"] / rates["one"]
            met = "target met" if ratio >= SCALING_TARGET else "target NOT met"
            rows["ratio"].cells[column] = f"{ratio:.2f}x  {met}"
        finally:
            runtime.dispose()
        threaded = open_runtime(Settings.from_env({**env, "GOVERNANCE_TASK_RUNNER": "thread"}))
        try:
            say(f"jobs: {count} erasures on the thread runner")
            jobs = _erasures(threaded, count)
            started = time.perf_counter()
            threaded.task_runner.deliver(jobs)
            rate = count / (_wait_done(threaded, jobs) - started) * 60
            lat = _latencies(threaded, threaded.task_runner.deliver, samples)
            rows["thread"].cells[column] = (
                f"{rate:,.0f}/min; delivery to first step p50 {statistics.median(lat):.1f} ms"
                f", p99 {_percentile(lat, 0.99):.1f} ms"
            )
        finally:
            threaded.dispose()
    return list(rows.values())


if __name__ == "__main__":  # pragma: no cover
    for row in run(quick="--quick" in sys.argv):
        print(row)
