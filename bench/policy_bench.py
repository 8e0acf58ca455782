"""Policy read benchmark: ``GET /v1/data/customers/{id}`` through the gateway against a bare
Flask + SQLAlchemy endpoint reading the same row, and the evaluator in-process.

- Both servers run under gunicorn with the same configuration (``api.serving.gunicorn_options``:
  workers, access log, timeouts), on the same demo store (SQLite, the embedded default),
  driven by the same client (a few threads, each request for a random customer) in
  interleaved rounds (bare, gateway, bare, gateway, ...), so that a change of the shared
  machine's load falls on both alike; latency is measured per request, p50 and p99 over
  all requests of a server, and requests per second over the time it was driven.
- The gateway's request is the whole path: bearer-key authentication, the decision, the
  subject's consent state, the data key, decryption of the returned fields, masks, and the
  audit event committed with the request.
- Server CPU per request: the gunicorn workers' CPU time (``utime + stime`` of each worker
  in ``/proc/<pid>/stat``) read before and after each timed round, divided by the requests
  of the round, for both servers, and its ratio. Unlike the latencies it does not grow with
  the load of a busy machine (a request costs the worker the same CPU however long it
  waits for a core), so it is the figure to watch when the machine is shared (issue 27).
- The evaluator: ``PolicyEngine.evaluate`` decisions per second for a customer_support read
  of named fields of one subject, in this process.

Targets (issue 27): gateway p50 and server CPU per request each within 1.5x of the bare
read's; >= 100,000 decisions/s.
"""

from __future__ import annotations

import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import Row
from demo.store import fill_demo_store
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.migrate import upgrade, upgrade_keystore
from governance.runtime import open_runtime
from governance.settings import Settings
from policies.consent import SubjectConsentState
from policies.engine import AccessRequest

NAME = "policy"
WORKERS = 2
CLIENT_THREADS = 4
ROUNDS = 4
P50_RATIO_TARGET = 1.5
CPU_RATIO_TARGET = 1.5
DECISIONS_TARGET = 100_000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, path: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not come up")


def drive(port: int, paths: list[str], headers: dict[str, str]) -> tuple[list[float], float]:
    """Latencies (s) of every request and the overall requests per second."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [paths[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]

    def worker(mine: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = []
        for path in mine:
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"unexpected status {response.status}")
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(paths) / (time.perf_counter() - started)


def worker_pids(master: int) -> list[int]:
    """The pids of a gunicorn master's workers (its child processes)."""
    children = Path(f"/proc/{master}/task/{master}/children")
    if children.exists():
        return [int(p) for p in children.read_text().split()]
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        if int(fields[1]) == master:  # the fourth field, ppid
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """Each process's CPU time so far (user + system), in seconds, from ``/proc``."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        # The fields after the command name, which may itself hold spaces and parentheses:
        # utime and stime are the 14th and 15th fields of the line, 12th and 13th here.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def decisions_per_second(rt, n: int) -> float:  # noqa: ANN001
    engine = rt.decisions
    request = AccessRequest(
        "c1",
        frozenset({"customer_support"}),
        "customer_support",
        "customers",
        fields=("first_name", "email", "phone"),
        subject=SubjectConsentState("s1"),
    )
    started = time.perf_counter()
    for _ in range(n):
        engine.evaluate(request)
    return n / (time.perf_counter() - started)


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    customers = 2_000 if quick else 10_000
    requests = 1_000 if quick else 4_000
    rows = {
        "p50": Row(
            "GET one customer, p50 latency", target=f"gateway <= {P50_RATIO_TARGET:.1f}x bare"
        ),
        "p99": Row("GET one customer, p99 latency"),
        "rps": Row(
            f"GET one customer, requests/s ({CLIENT_THREADS} client threads, {WORKERS} workers)"
        ),
        "ratio": Row("p50 gateway / bare", target=f"<= {P50_RATIO_TARGET:.1f}"),
        "cpu": Row("server CPU per request (workers' utime+stime, /proc)"),
        "cpu_ratio": Row(
            "server CPU per request gateway / bare", target=f"<= {CPU_RATIO_TARGET:.1f}"
        ),
        "decisions": Row("evaluator decisions/s, in-process", target=f">= {DECISIONS_TARGET:,}/s"),
    }
    with tempfile.TemporaryDirectory(prefix="policy-bench-") as tmp:
        var = Path(tmp)
        env = {
            **os.environ,
            "GOVERNANCE_VAR_DIR": str(var),
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            # One client at one address drives ~1,000 requests/s: the limits stay on (their
            # check is part of what a read costs) but above what the bench sends.
            "GOVERNANCE_RATE_LIMIT_PER_CLIENT": "10000000 per minute",
            "GOVERNANCE_RATE_LIMIT_PER_ADDRESS": "10000000 per minute",
        }
        env.pop("GOVERNANCE_DATABASE_URL", None)
        env.pop("GOVERNANCE_KEYSTORE_URL", None)
        settings = Settings.from_env(env)
        upgrade(settings.database_url)
        upgrade_keystore(settings.keystore_url)
        rt = open_runtime(settings)
        say(f"filling a demo store of {customers:,} customers")
        fill_demo_store(rt.sessions, rt.policy.datamap, rt.crypto, customers=customers, seed=11)
        with unit_of_work(rt.sessions) as session:
            key = (
                ClientService(session)
                .create("bench-support", "application", ["customer_support"])
                .key
            )
            ids = [
                r
                for (r,) in session.execute(
                    rt.tables["customers"].select().with_only_columns(rt.tables["customers"].c.id)
                )
            ]
        rows["decisions"].cells["SQLite"] = f"{decisions_per_second(rt, 200_000):,.0f}/s"
        rt.dispose()
        rng = random.Random(5)  # noqa: S311 - picks which rows to read, not a secret
        picks = [rng.choice(ids) for _ in range(requests)]
        servers = {
            "bare": (
                [sys.executable, "-m", "bench.bare_app", settings.database_url],
                lambda i: f"/customers/{i}",
                {},
                "/customers/warm",
            ),
            "gateway": (
                [sys.executable, "-m", "cli", "serve", "--workers", str(WORKERS), "--port"],
                lambda i: f"/v1/data/customers/{i}?purpose=customer_support",
                {"Authorization": f"Bearer {key}"},
                "/healthz",
            ),
        }
        latencies: dict[str, list[float]] = {label: [] for label in servers}
        busy: dict[str, float] = {label: 0.0 for label in servers}
        cpu: dict[str, float] = {label: 0.0 for label in servers}
        served: dict[str, int] = {label: 0 for label in servers}
        running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for label, (command, path_of, headers, ready) in servers.items():
                port = _free_port()
                argv = (
                    command + [str(port), str(WORKERS)]
                    if label == "bare"
                    else command + [str(port)]
                )
                running[label] = (
                    subprocess.Popen(  # noqa: S603
                        argv,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    ),
                    port,
                )
                _wait(port, ready)
                drive(port, [path_of(i) for i in picks[:100]], headers)  # warm-up
            # Interleaved rounds: a change in the machine's load during the run falls on
            # both servers alike instead of on whichever ran second.
            say(
                f"{requests:,} requests each, {WORKERS} gunicorn workers each, "
                f"in {ROUNDS} interleaved rounds"
            )
            for r in range(ROUNDS):
                part = picks[r::ROUNDS]
                for label, (_, path_of, headers, _) in servers.items():
                    workers = worker_pids(running[label][0].pid)
                    before = cpu_seconds(workers)
                    started = time.perf_counter()
                    measured, _ = drive(running[label][1], [path_of(i) for i in part], headers)
                    busy[label] += time.perf_counter() - started
                    after = cpu_seconds(workers)  # a worker that died makes this fail
                    cpu[label] += sum(after[p] - before[p] for p in workers)
                    served[label] += len(measured)
                    latencies[label] += measured
        finally:
            for server, _ in running.values():
                server.terminate()
                server.wait(timeout=30)
        figures = {
            label: (statistics.median(measured), _pct(measured, 0.99), len(measured) / busy[label])
            for label, measured in latencies.items()
        }
        for label in ("gateway", "bare"):
            p50, p99, rps = figures[label]
            column = "gateway" if label == "gateway" else "bare Flask+SQLAlchemy"
            rows["p50"].cells[column] = f"{p50 * 1000:.2f} ms"
            rows["p99"].cells[column] = f"{p99 * 1000:.2f} ms"
            rows["rps"].cells[column] = f"{rps:,.0f}/s"
        per_request = {label: cpu[label] / served[label] for label in servers}
        rows["cpu"].cells["gateway"] = f"{per_request['gateway'] * 1000:.2f} ms"
        rows["cpu"].cells["bare Flask+SQLAlchemy"] = f"{per_request['bare'] * 1000:.2f} ms"
        cpu_ratio = per_request["gateway"] / per_request["bare"]
        rows["cpu_ratio"].cells["gateway"] = f"{cpu_ratio:.2f}  " + (
            "target met" if cpu_ratio <= CPU_RATIO_TARGET else "above target"
        )
        ratio = figures["gateway"][0] / figures["bare"][0]
        rows["ratio"].cells["gateway"] = f"{ratio:.2f}  " + (
            "target met" if ratio <= P50_RATIO_TARGET else "above target"
        )
        load = os.getloadavg()[0]
        rows["rps"].target = f"load average {load:.1f} on {os.cpu_count()} CPUs at the end"
    return list(rows.values())
