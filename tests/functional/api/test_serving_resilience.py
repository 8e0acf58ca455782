"""A served instance that heals and cannot be taken down by its clients (issue 26 items 7,
11, 12 and 13): a real `governance serve` (gunicorn), real sockets, real signals.

No assertion here measures speed: each test asserts availability (every probe answered,
the restart serves). The other client's latency while the load runs is printed (`-s`).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy

from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.functional.serving import embedded_env, free_port, served


def _until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait for ``condition`` (a guard against a hang, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def _request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan nobody reaped is dead too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _keys(env: dict[str, str], *clients: tuple[str, str, tuple[str, ...]]) -> list[str]:
    runtime = open_runtime(Settings.from_env(env))
    try:
        with unit_of_work(runtime.sessions) as session:
            return [
                ClientService(session).create(name, role, purposes).key
                for name, role, purposes in clients
            ]
    finally:
        runtime.dispose()


# -- item 7: a killed master, and a port still taken ---------------------------------------


def test_workers_die_with_a_master_killed_under_load_and_a_restart_on_its_port_serves(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path)
    port = free_port()
    with served(env, workers=2, port=port) as (_, server):
        workers = _workers(server.pid)
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    _request(port, "GET", "/healthz", timeout=5)
                except OSError:
                    pass

        loaders = [threading.Thread(target=load) for _ in range(4)]
        for t in loaders:
            t.start()
        time.sleep(1)
        stop.set()  # the load stops as the master dies: no connection wakes a worker
        for t in loaders:
            t.join(30)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)

        # restarted at once, as a supervisor does, on the port the orphans may still hold
        with served(env, workers=2, port=port) as (_, again):

            def bound() -> bool:  # the new master bound the port and forked its workers
                assert again.poll() is None, "the restart gave up on its port"
                return bool(_workers(again.pid))

            _until(bound, "the restarted master runs its workers")
            assert not any(_running(w) for w in workers), "orphaned workers still run"
            assert _request(port, "GET", "/healthz").status == 200


def test_serve_waits_for_its_port_rather_than_giving_up(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    port = free_port()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "serve", "--workers", "1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    said: list[bytes] = []
    reader = threading.Thread(target=lambda: said.extend(iter(server.stderr.readline, b"")))
    reader.start()
    try:
        _until(
            lambda: any(b"in use" in line for line in said) or server.poll() is not None,
            "serve finds its port taken",
            120,
        )
        time.sleep(6)  # longer than gunicorn's own five tries, a second apart
        assert server.poll() is None, f"serve gave up while the port was taken: {said}"
        holder.close()

        def answers() -> bool:
            assert server.poll() is None, f"serve exited: {said}"
            try:
                return _request(port, "GET", "/healthz", timeout=2).status == 200
            except OSError:
                return False

        _until(answers, "the server answers once its port is free")
    finally:
        holder.close()
        server.terminate()
        server.wait(30)
        reader.join(10)
    assert not any(b"Traceback" in line for line in said)


# -- item 11: slow and idle connections ----------------------------------------------------


def test_many_slow_and_idle_connections_leave_healthz_and_an_authenticated_read_answering(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path)
    (admin,) = _keys(env, ("admin-slow", "admin", ()))
    with served(env, workers=2) as (port, _):
        slow: list[socket.socket] = []
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 4:  # three in four trickle their headers, the rest say nothing at all
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway.example\r\n")
            slow.append(s)
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(0.5):
                for i, s in enumerate(slow):
                    if i % 4:
                        try:
                            s.sendall(b"X-Slow: a\r\n")
                        except OSError:
                            pass

        trickler = threading.Thread(target=trickle)
        trickler.start()
        answered: list[int] = []
        latencies: list[float] = []
        try:
            time.sleep(0.5)
            until = time.monotonic() + 6  # within the server's time for a request head
            while time.monotonic() < until:
                for path, headers in (
                    ("/healthz", {}),
                    ("/v1/datamap", {"Authorization": f"Bearer {admin}"}),
                ):
                    started = time.perf_counter()
                    try:
                        answered.append(_request(port, "GET", path, headers, timeout=5).status)
                    except OSError:
                        answered.append(0)
                    latencies.append(time.perf_counter() - started)
        finally:
            stop.set()
            trickler.join(10)
            for s in slow:
                s.close()
    print(
        f"\n40 slow/idle connections: {len(answered)} probes, "
        f"p99 {_p99(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    assert answered and set(answered) == {200}, answered


# -- item 12: one client's heavy writes beside another's reads -----------------------------


def test_one_clients_heavy_parallel_writes_are_bounded_and_another_clients_reads_answer(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path)
    greedy, other = _keys(
        env,
        ("greedy-app", "application", ("customer_support",)),
        ("other-app", "application", ("customer_support",)),
    )
    runtime = open_runtime(Settings.from_env(env))
    try:
        with unit_of_work(runtime.sessions) as session:
            ada = (
                runtime.record_store(session)
                .create(
                    "customers",
                    {
                        "first_name": "Ada",
                        "last_name": "Fictional",
                        "email": "ada.greedy@mail.example",
                        "city": "Exampleville",
                        "country": "US",
                        "language": "en",
                    },
                )
                .id
            )
    finally:
        runtime.dispose()
    heavy = json.dumps(
        {
            "subject_id": ada,
            "ticket_type": "billing",
            "opened_at": "2026-01-02T03:04:05Z",
            "description": "\U0001f600" * 100_000,
        },
        ensure_ascii=False,
    ).encode()
    with served(env, workers=1) as (port, _):
        stop = threading.Event()
        writes: list[tuple[int, str | None, str | None]] = []

        def write() -> None:
            while not stop.is_set():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    conn.request(
                        "POST",
                        "/v1/data/support_tickets?purpose=customer_support",
                        body=heavy,
                        headers={
                            "Authorization": f"Bearer {greedy}",
                            "Content-Type": "application/json",
                        },
                    )
                    answer = conn.getresponse()
                    answer.read()
                    writes.append(
                        (
                            answer.status,
                            answer.getheader("Retry-After"),
                            answer.getheader("Content-Type"),
                        )
                    )
                    if answer.status in (429, 503):  # as a well-behaved client does
                        time.sleep(float(answer.getheader("Retry-After") or 1))
                finally:
                    conn.close()

        writers = [threading.Thread(target=write) for _ in range(6)]
        for t in writers:
            t.start()
        reads: list[int] = []
        latencies: list[float] = []
        try:
            time.sleep(1)
            for _ in range(30):
                started = time.perf_counter()
                reads.append(
                    _request(
                        port,
                        "GET",
                        "/v1/data/customers?purpose=customer_support&limit=20",
                        {"Authorization": f"Bearer {other}"},
                        timeout=60,
                    ).status
                )
                latencies.append(time.perf_counter() - started)
                time.sleep(0.1)
        finally:
            stop.set()
            for t in writers:
                t.join(120)
    print(
        f"\n6 parallel heavy writers: {len(writes)} writes "
        f"({sum(1 for w in writes if w[0] == 429)} refused 429); other client's reads: "
        f"p99 {_p99(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    assert set(reads) == {200}, reads
    assert {status for status, _, _ in writes} <= {201, 429}, writes
    refused = [w for w in writes if w[0] == 429]
    assert refused, "one client ran six heavy writes at once"
    assert all(
        retry and int(retry) >= 1 and kind == "application/problem+json"
        for _, retry, kind in refused
    ), refused
    assert any(status == 201 for status, _, _ in writes)
    stored = sqlalchemy.create_engine(Settings.from_env(env).database_url)
    with stored.connect() as conn:  # a refused write changed nothing
        tickets = conn.execute(sqlalchemy.text("SELECT count(*) FROM support_tickets")).scalar()
    stored.dispose()
    assert tickets == sum(1 for status, _, _ in writes if status == 201)


# -- item 13: one control socket per host ---------------------------------------------------


def test_two_instances_on_a_host_share_no_control_socket(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    first = embedded_env(tmp_path / "one", HOME=str(home))
    first.pop("XDG_RUNTIME_DIR", None)
    second = embedded_env(tmp_path / "two", HOME=str(home))
    second.pop("XDG_RUNTIME_DIR", None)
    with served(first) as (port_one, _), served(second) as (port_two, _):
        assert _request(port_one, "GET", "/healthz").status == 200
        assert _request(port_two, "GET", "/healthz").status == 200
        shared = list(home.rglob("*.ctl"))

    assert shared == [], f"a control socket at a per-user path: {shared}"
