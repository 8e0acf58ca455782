"""Celery over Redis: the queue delivers job ids; the jobs table decides what runs.

The settings are the ones Celery documents for at-least-once work:
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
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_process_shutdown

from governance.settings import Settings

if TYPE_CHECKING:
    from governance.runtime import Runtime

RUN_TASK = "governance.jobs.run"
REAP_TASK = "governance.jobs.reap"
PERIODIC_TASK = "governance.jobs.periodic"
QUEUES = ("interactive", "bulk")
TASK_TIME_LIMIT = 3 * 3600  # the longest job (a rotation of millions of keys) fits
VISIBILITY_TIMEOUT = TASK_TIME_LIMIT + 3600


def configure(app: Celery, settings: Settings) -> None:
    transport = {"visibility_timeout": VISIBILITY_TIMEOUT, "socket_connect_timeout": 3,
                 "socket_timeout": 10}
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=transport,
        result_backend=None,
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_TIME_LIMIT - 60,
        task_default_queue="bulk",
        task_queues=None,
        task_create_missing_queues=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "reap": {"task": REAP_TASK, "schedule": float(settings.reaper_interval_seconds),
                     "options": {"queue": "bulk"}},
            "purge-exports": {"task": PERIODIC_TASK, "schedule": 3600.0,
                              "args": ["exports.purge"], "options": {"queue": "bulk"}},
            "integrate-audit": {"task": PERIODIC_TASK, "schedule": 60.0,
                                "args": ["audit.integrate"], "options": {"queue": "bulk"}},
            "retention-sweep": {"task": PERIODIC_TASK, "schedule": 86400.0,
                                "args": ["retention.sweep"], "options": {"queue": "bulk"}},
        },
    )


celery_app = Celery("governance", set_as_current=False)


@lru_cache(maxsize=1)
def _runtime() -> Runtime:
    """One runtime per worker process, opened at its first job."""
    from governance.runtime import open_runtime

    return open_runtime(Settings.from_env())


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    if _runtime.cache_info().currsize:
        _runtime().dispose()


def _worker() -> str:
    return f"celery:{socket.gethostname()[:48]}:{os.getpid()}"


@celery_app.task(name=RUN_TASK, acks_late=True, reject_on_worker_lost=True)
def run(job_id: str) -> None:
    from governance.jobs.work import run_job

    run_job(_runtime(), job_id, worker=_worker())


@celery_app.task(name=REAP_TASK)
def reap_task() -> None:
    from governance.jobs.reaper import reap

    runtime = _runtime()
    reap(runtime, runtime.task_runner.deliver)


@celery_app.task(name=PERIODIC_TASK)
def periodic(kind: str) -> None:
    """Periodic work is a job like any other; its exclusive name is its lock, so two
    schedulers, or a run slower than its period, never overlap."""
    from audit.events import Actor
    from governance.db import unit_of_work
    from governance.jobs.service import JobKind, Jobs

    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        job, created = Jobs(session).enqueue(JobKind(kind), actor=Actor(id="system",
                                                                        role="system"),
                                             exclusive=f"periodic:{kind}")
        job_id = job.id
    if created:
        runtime.task_runner.deliver([job_id])


@lru_cache(maxsize=4)
def _sender(broker_url: str) -> Celery:
    settings = Settings.from_env({**os.environ, "GOVERNANCE_BROKER_URL": broker_url,
                                  "GOVERNANCE_TASK_RUNNER": "celery"})
    app = Celery("governance-sender", set_as_current=False)
    configure(app, settings)
    # The publisher answers for a web request: one short connect attempt, no retry loop
    # (kombu's default retries made each call wait about 6 s on a broker that is down).
    app.conf.broker_transport_options = {**app.conf.broker_transport_options,
                                         "max_retries": 0, "socket_connect_timeout": 1,
                                         "socket_timeout": 3}
    app.conf.broker_connection_timeout = 1
    return app


def send(settings: Settings, job_id: str, queue: str) -> None:
    """Publish one job id; raises if the broker does not take it (no retry loop here: the
    job row is committed, and the reaper delivers it once the broker is back)."""
    _sender(settings.broker_url).send_task(RUN_TASK, args=[job_id], queue=queue, retry=False)


def broker_reachable(settings: Settings) -> bool:
    try:
        with _sender(settings.broker_url).connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any failure to connect means unreachable
        return False


def worker_main(settings: Settings, concurrency: int, queues: list[str]) -> None:
    configure(celery_app, settings)
    celery_app.worker_main([
        "worker", f"--concurrency={concurrency}", f"--queues={','.join(queues)}",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        f"--hostname=governance-{os.getpid()}@{socket.gethostname()[:48]}",
    ])


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
