"""``governance jobs``, ``worker`` and ``scheduler``: background jobs and their processes."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from cli.common import Subcommands, runtime
from governance.db import unit_of_work
from governance.errors import SettingsError
from governance.runtime import cli_actor, open_runtime
from governance.settings import Settings


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    jobs = sub.add_parser("jobs", help="background jobs").add_subparsers(dest="jobs", required=True)
    jlist = jobs.add_parser("list", help="jobs, newest first")
    jlist.add_argument(
        "--kind",
        choices=[
            "request.execute",
            "pii.scan",
            "keys.rotate",
            "keys.encrypt_existing",
            "exports.purge",
            "audit.integrate",
        ],
    )
    jlist.add_argument(
        "--state",
        action="append",
        choices=["queued", "running", "succeeded", "failed", "dead"],
        help="a state (repeat for several)",
    )
    jlist.add_argument("--limit", type=int, default=50)
    jlist.add_argument("--json", action="store_true")
    jlist.set_defaults(func=cmd_jobs_list)
    jshow = jobs.add_parser("show", help="one job")
    jshow.add_argument("job_id")
    jshow.set_defaults(func=cmd_jobs_show)
    jretry = jobs.add_parser("retry", help="queue a dead or failed job again")
    jretry.add_argument("job_id")
    jretry.set_defaults(func=cmd_jobs_retry)
    jreap = jobs.add_parser("reap", help="one reaper round: requeue lapsed leases, deliver")
    jreap.set_defaults(func=cmd_jobs_reap)

    worker = sub.add_parser("worker", help="run a Celery worker (GOVERNANCE_TASK_RUNNER=celery)")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument(
        "--queues",
        action="append",
        choices=["interactive", "bulk"],
        help="queues to serve (repeat; default both)",
    )
    worker.set_defaults(func=cmd_worker)
    scheduler = sub.add_parser("scheduler", help="run the one Celery beat process (periodic work)")
    scheduler.set_defaults(func=cmd_scheduler)


def _job_line(job: Any) -> str:
    error = f"  {job.error_code}" if job.error_code else ""
    return (
        f"{job.id}  {job.kind:22} {job.state:9} {job.attempts}/{job.max_attempts}  "
        f"{job.target_id or '-'}{error}"
    )


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from governance.jobs.service import Jobs

    rt = runtime()
    with rt.sessions() as session:
        jobs = Jobs(session).list(kind=args.kind, states=tuple(args.state or ()), limit=args.limit)
        if args.json:
            print(
                json.dumps(
                    [{c: getattr(j, c) for c in _JOB_FIELDS} for j in jobs], indent=2, default=str
                )
            )
        else:
            for job in jobs:
                print(_job_line(job))
    rt.dispose()
    return 0


_JOB_FIELDS = (
    "id",
    "kind",
    "target_id",
    "queue",
    "state",
    "attempts",
    "max_attempts",
    "not_before",
    "lease_until",
    "worker",
    "error_code",
    "error_message",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
)


def cmd_jobs_show(args: argparse.Namespace) -> int:
    from governance.jobs.service import Jobs

    rt = runtime()
    with rt.sessions() as session:
        job = Jobs(session).get(args.job_id)
        print(json.dumps({c: getattr(job, c) for c in _JOB_FIELDS}, indent=2, default=str))
    rt.dispose()
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    from governance.jobs.service import Jobs
    from governance.jobs.work import retry_policy

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        retried = Jobs(session, retry_policy(rt)).retry_for(
            args.job_id, actor=cli_actor(), audit=rt.audit, policy_version=rt.policy.version
        )
    if rt.settings.task_runner == "celery":  # embedded: the serving process's reaper runs it
        rt.task_runner.deliver(list(retried.jobs))
    print(f"{retried.value.id}: queued again; a worker (or the reaper) runs it")
    rt.dispose()
    return 0


def cmd_jobs_reap(args: argparse.Namespace) -> int:
    """One reaper round by hand (the embedded default runs it in `governance serve`)."""
    from governance.jobs.reaper import reap

    rt = runtime()
    report = reap(rt, rt.task_runner.deliver)
    print(f"{report.requeued} requeued, {report.dead} dead, {report.delivered} delivered")
    rt.dispose()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from governance.jobs.celery_app import QUEUES, worker_main

    settings = Settings.from_env()
    if settings.task_runner != "celery":
        raise SettingsError(
            "governance worker needs GOVERNANCE_TASK_RUNNER=celery and GOVERNANCE_BROKER_URL"
        )
    # Fail here, in one line, if a store or key is wrong; never create a key.
    open_runtime(settings, create_keys=False).dispose()
    worker_main(settings, args.concurrency, args.queues or list(QUEUES))
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from pathlib import Path

    from governance.jobs.celery_app import schedule_file, scheduler_main

    settings = Settings.from_env()
    if settings.task_runner != "celery":
        raise SettingsError(
            "governance scheduler needs GOVERNANCE_TASK_RUNNER=celery and GOVERNANCE_BROKER_URL"
        )
    var_dir = Path(os.environ.get("GOVERNANCE_VAR_DIR", "var")).resolve()
    scheduler_main(settings, str(schedule_file(var_dir)))
    return 0
