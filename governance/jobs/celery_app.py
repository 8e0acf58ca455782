"""The Celery worker and scheduler: the tasks a ``governance worker`` runs, each on the one
runtime its process opens (this module is the worker's composition point); publishing
lives in ``governance.jobs.broker``.

The settings (``broker.configure``) are the ones Celery documents for at-least-once work:
- ``task_acks_late`` and ``task_reject_on_worker_lost``: a message is acknowledged when its
  job finished, and handed back when the process running it dies, so a killed worker loses
  nothing; the attempt cap lives in the jobs table (the broker cannot count redeliveries,
  and rejection on worker loss would otherwise loop on a job that kills its worker);
- ``worker_prefetch_multiplier = 1``: a worker holds only the message it works on;
- the Redis ``visibility_timeout`` (after which an unacknowledged message is delivered
  again) is set where Celery reads it, for the broker and the result backend, and above
  the task time limit, so a long job is never delivered twice while it runs. A worker that
  died is noticed sooner than that by its job's lease, and the reaper delivers the job anew.
Two queues: ``interactive`` (a request's execution, someone waits for it) and ``bulk``
(scans, rotations, sweeps), each served by its own worker pool if a deployment wants, so a
long scan never delays an erasure.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown

from audit.events import Actor
from governance.db import unit_of_work
from governance.jobs.broker import PERIODIC_TASK, QUEUES, REAP_TASK, RUN_TASK, configure
from governance.jobs.reaper import reap
from governance.jobs.service import JobKind, Jobs
from governance.jobs.work import run_job
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings

__all__ = ["QUEUES", "celery_app", "schedule_file", "scheduler_main", "worker_main"]


celery_app = Celery("governance", set_as_current=False)


@lru_cache(maxsize=1)
def _runtime() -> Runtime:
    """One runtime per worker process, opened at its first job."""
    return open_runtime(Settings.from_env())


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    if _runtime.cache_info().currsize:
        _runtime().dispose()


def _worker() -> str:
    return f"celery:{socket.gethostname()[:48]}:{os.getpid()}"


@celery_app.task(name=RUN_TASK, acks_late=True, reject_on_worker_lost=True)
def run(job_id: str) -> None:
    run_job(_runtime(), job_id, worker=_worker())


@celery_app.task(name=REAP_TASK)
def reap_task() -> None:
    runtime = _runtime()
    reap(runtime, runtime.task_runner.deliver)


@celery_app.task(name=PERIODIC_TASK)
def periodic(kind: str) -> None:
    """Periodic work is a job like any other; its exclusive name is its lock, so two
    schedulers, or a run slower than its period, never overlap."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        job, created = Jobs(session).enqueue(
            JobKind(kind), actor=Actor(id="system", role="system"), exclusive=f"periodic:{kind}"
        )
        job_id = job.id
    if created:
        runtime.task_runner.deliver([job_id])


def worker_main(settings: Settings, concurrency: int, queues: list[str]) -> None:
    configure(celery_app, settings)
    celery_app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={','.join(queues)}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=governance-{os.getpid()}@{socket.gethostname()[:48]}",
        ]
    )


def schedule_file(var_dir: Path) -> Path:
    """Where beat remembers when each periodic task last ran: a folder of its own under the
    var folder, open to the service's user only (never the keys folder, which holds
    nothing but keys and is what a backup of the keys copies)."""
    folder = var_dir / "scheduler"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder / "celerybeat-schedule"


def scheduler_main(settings: Settings, schedule_file: str) -> None:
    configure(celery_app, settings)
    # beat's shelve files (.dat, .dir, .bak, or one file) are created with the umask:
    # private, whatever the umask the scheduler was started with.
    os.umask(0o077)
    target = Path(schedule_file)
    for existing in target.parent.glob(target.name + "*"):
        existing.chmod(0o600)
    celery_app.start(["beat", "--loglevel=INFO", f"--schedule={schedule_file}"])
