"""The embedded default needs no queue and no command typed after a crash: `governance serve`
killed in the middle of an erasure finishes it by itself once it is started again (its
reaper finds the job whose lease lapsed and runs it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import select

from audit.events import Actor
from audit.models import audit_entries
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.requests.services import RequestService
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.functional.governance.requests.conftest import subject_records
from tests.functional.serving import embedded_env, free_port, served

ROOT = Path(__file__).resolve().parents[4]
OFFICER = Actor(id="officer-restart", role="compliance_officer")


def _wait(condition, seconds: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:.0f} s"
        time.sleep(0.2)


def test_serve_killed_mid_erasure_finishes_it_after_a_restart(tmp_path: Path) -> None:
    env = embedded_env(
        tmp_path / "var", GOVERNANCE_JOB_LEASE_SECONDS="2", GOVERNANCE_REAPER_INTERVAL_SECONDS="1"
    )
    runtime = open_runtime(Settings.from_env(env))
    try:
        with unit_of_work(runtime.sessions) as session:
            ids = subject_records(
                runtime.record_store(session), email=f"restart.{uuid.uuid4().hex[:6]}@mail.example"
            )
            service = RequestService(session, runtime, OFFICER)
            request = service.create("erasure", "gdpr", {"subject_id": ids["customers"][0]})
            service.verify(request.id, "signed letter")
            request_id = request.id
            key = ClientService(session).create("officer-restart", "compliance_officer", ()).key

        marker = tmp_path / "paused"
        port = free_port()
        first = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [
                sys.executable,
                "-m",
                "tests.functional.governance.jobs.paused_cli",
                "serve",
                "--workers",
                "1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env={
                **env,
                "GOVERNANCE_TEST_PAUSE_AT": "delete:interactions",
                "GOVERNANCE_TEST_PAUSE_MARKER": str(marker),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:

            def up() -> bool:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()  # noqa: S310
                    return True
                except OSError:
                    return False

            _wait(up, 60, "the first server coming up")
            call = urllib.request.Request(  # noqa: S310 - our own server
                f"http://127.0.0.1:{port}/v1/requests/{request_id}/execute",
                method="POST",
                headers={"Authorization": f"Bearer {key}"},
            )
            with urllib.request.urlopen(call, timeout=10) as answer:  # noqa: S310
                assert answer.status == 202
            _wait(marker.exists, 60, "the erasure reaching the pause")
        finally:
            os.killpg(first.pid, signal.SIGKILL)  # the whole service, mid-erasure
            first.wait(timeout=30)

        def status() -> str:
            with runtime.sessions() as session:
                return RequestService(session, runtime, OFFICER).get(request_id).status

        assert status() == "in_progress"

        def job_state() -> str | None:
            with runtime.sessions() as session:
                return session.scalar(select(Job.state).where(Job.target_id == request_id))

        with served(env):  # started again; nobody types anything
            _wait(lambda: status() == "completed", 60, "the erasure finishing after the restart")
            # the job's own outcome is committed just after the request's last step
            _wait(lambda: job_state() == "succeeded", 30, "the job recording its success")

        with runtime.sessions() as session:
            job = session.scalar(select(Job).where(Job.target_id == request_id))
            rows = (
                session.execute(
                    select(audit_entries.c.data).where(
                        audit_entries.c.action == "request.step.completed"
                    )
                )
                .scalars()
                .all()
            )
        steps = [
            json.loads(r)["details"]["step"]
            for r in rows
            if json.loads(r)["target"].get("record_id") == request_id
        ]
        assert len(steps) == len(set(steps))  # no step recorded twice
        assert job is not None and job.state == "succeeded" and job.attempts == 2
    finally:
        runtime.dispose()
