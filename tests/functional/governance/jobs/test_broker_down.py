"""A broker that is down stalls nothing: the first job-creating call that finds it down opens
a circuit breaker, and the calls after it answer their 503 (with the job ids) without
trying to connect at all; once the broker is back, the reaper delivers every job.

The broker is real: a TCP listener of the test's own that counts the connections it is
offered and drops each (a broker that is down, whose connection attempts can be counted),
then a real ``redis-server`` started on the same port.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session

from api import create_app
from governance.jobs.models import Job
from governance.jobs.reaper import reap
from governance.requests.services import RequestService
from governance.runtime import Runtime
from governance.store.services import RecordStore
from tests.conftest import bearer
from tests.functional.governance.requests.conftest import OFFICER, subject_records

CALLS = 4


class DroppingListener:
    """Accepts every connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.connects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connects += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contextmanager
def redis_server(port: int, folder: Path) -> Iterator[redis.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt package redis-server)")
    process = subprocess.Popen(  # noqa: S603 - the installed redis-server, our arguments
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield client
    finally:
        process.terminate()
        process.wait(10)


def _verified(runtime: Runtime, session: Session, store: RecordStore) -> str:
    sid = subject_records(store)["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create("access", "gdpr", {"subject_id": sid})
    service.verify(request.id, "signed letter")
    session.commit()
    return request.id


def test_job_creating_calls_fail_fast_while_the_broker_is_down_and_the_reaper_delivers(
    runtime: Runtime, session: Session, issue_key, tmp_path: Path
) -> None:  # noqa: ANN001
    store = runtime.record_store(session)
    requests = [_verified(runtime, session, store) for _ in range(CALLS)]
    broker = DroppingListener()
    url = f"redis://127.0.0.1:{broker.port}/0"
    settings = dataclasses.replace(
        runtime.settings, task_runner="celery", broker_url=url, broker_down_seconds=600
    )
    web = dataclasses.replace(runtime, settings=settings, task_runner=None)
    http = create_app(runtime=web, background_integrator=False).test_client()
    officer = bearer(issue_key("compliance_officer"))
    job_ids: list[str] = []
    tried: list[int] = []
    try:
        for request_id in requests:
            response = http.post(f"/v1/requests/{request_id}/execute", headers=officer)
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.mimetype == "application/problem+json"
            body = response.get_json()
            assert body["type"].endswith("/broker-unavailable") and len(body["job_ids"]) == 1
            job_ids += body["job_ids"]
            tried.append(broker.connects)
    finally:
        broker.close()

    assert tried[0] >= 1  # the first call tried the broker ...
    assert tried[1:] == [tried[0]] * (CALLS - 1)  # ... the others made no connection attempt
    with runtime.sessions() as s:
        assert [s.get(Job, j).state for j in job_ids] == ["queued"] * CALLS  # type: ignore[union-attr]

    with redis_server(broker.port, tmp_path) as back:  # the broker is back, on its address
        reaper = dataclasses.replace(runtime, settings=settings, task_runner=None)
        report = reap(reaper, reaper.task_runner.deliver)
        assert report.delivered == CALLS
        assert back.llen("interactive") == CALLS  # each job's message is on its queue
        # and the web tier sends again at once: the breaker closed when the reaper got through
        fresh = _verified(runtime, session, store)
        answer = http.post(f"/v1/requests/{fresh}/execute", headers=officer)
        assert answer.status_code == 202, answer.get_data(as_text=True)
        assert back.llen("interactive") == CALLS + 1
