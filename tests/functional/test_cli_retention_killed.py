"""`governance retention run` killed (SIGKILL) in the middle of a sweep does not leave the run
`running` until a person types the command again: the CLI sweeps as a job, and the reaper
(the embedded default's reaper thread, a scheduler's beat) resumes it once the job's lease
lapses, to the end: expired records gone, erased subjects' keys shredded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.jobs.reaper import reap
from governance.retention.models import RetentionRun
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.functional.governance.requests.test_crash import ROOT, crash_env  # noqa: F401
from tests.functional.governance.retention.test_sweep_crash import world

LEASE_SECONDS = 2  # the CLI's job lease, by setting: the reaper may take the job over soon


def _wait(condition, seconds: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:.0f} s"
        time.sleep(0.1)


def test_a_killed_cli_sweep_is_resumed_by_the_reaper_to_the_end(
    crash_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {
        **crash_env,
        "GOVERNANCE_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "GOVERNANCE_TASK_RUNNER": "inline",
    }
    runtime = open_runtime(Settings.from_env(env))
    try:
        with unit_of_work(runtime.sessions) as session:
            ids = world(runtime, session, "k")
        marker = tmp_path / "paused"
        cli = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "tests.functional.governance.jobs.paused_cli",
                "retention",
                "run",
                "--batch-size",
                "2",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "GOVERNANCE_TEST_PAUSE_AT": "sweep:erase:customers:batch",
                "GOVERNANCE_TEST_PAUSE_MARKER": str(marker),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            _wait(lambda: marker.exists() or cli.poll() is not None, 120, "the sweep's pause")
            assert marker.exists(), cli.communicate()[1].decode()[-2000:]
        finally:
            cli.send_signal(signal.SIGKILL)
            cli.communicate(timeout=30)

        with runtime.sessions() as session:
            run = session.scalar(select(RetentionRun).order_by(RetentionRun.created_at.desc()))
            assert run is not None and run.state == "running"  # what the kill left
            run_id = run.id
            job = session.scalar(
                select(Job).where(Job.kind == "retention.sweep", Job.target_id == run_id)
            )
            assert job is not None and job.state == "running"  # its lease will lapse
        subjects = ids["customers"]
        assert not any(k.shredded for k in runtime.keys.keystore.fetch(subjects).values())

        time.sleep(LEASE_SECONDS + 0.5)  # the dead CLI stops renewing its lease
        report = reap(runtime, runtime.task_runner.deliver)  # one round of the reaper

        assert report.requeued == 1 and report.delivered == 1
        with runtime.sessions() as session:
            run = session.get(RetentionRun, run_id)
            assert run is not None and run.state == "completed", run.error
            job = session.scalar(
                select(Job).where(Job.kind == "retention.sweep", Job.target_id == run_id)
            )
            assert job is not None and job.state == "succeeded" and job.attempts == 2
        keys = runtime.keys.keystore.fetch(subjects)
        assert sum(k.shredded for k in keys.values()) == 1  # the subject whose record expired
    finally:
        runtime.dispose()


def test_the_cli_sweep_runs_as_a_job_and_reports_as_before(crash_env: dict[str, str]) -> None:  # noqa: F811
    env = {**crash_env, "GOVERNANCE_TASK_RUNNER": "inline"}
    runtime = open_runtime(Settings.from_env(env))
    try:
        with unit_of_work(runtime.sessions) as session:
            world(runtime, session, "s")
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "cli", "retention", "run", "--json"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert b'"state": "completed"' in done.stdout
        with runtime.sessions() as session:
            job = session.scalar(select(Job).where(Job.kind == "retention.sweep"))
            assert job is not None and job.state == "succeeded"
    finally:
        runtime.dispose()
