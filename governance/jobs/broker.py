"""Celery over Redis, the publishing side: the queue delivers job ids; the jobs table decides
what runs. A web request or the CLI publishes here; ``governance.jobs.celery_app`` is the
worker that consumes (see its docstring for why the settings are what they are).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from governance.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

RUN_TASK = "governance.jobs.run"
REAP_TASK = "governance.jobs.reap"
PERIODIC_TASK = "governance.jobs.periodic"
QUEUES = ("interactive", "bulk")
TASK_TIME_LIMIT = 3 * 3600  # the longest job (a rotation of millions of keys) fits
VISIBILITY_TIMEOUT = TASK_TIME_LIMIT + 3600


def configure(app: Celery, settings: Settings) -> None:
    transport = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
    }
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
            "reap": {
                "task": REAP_TASK,
                "schedule": float(settings.reaper_interval_seconds),
                "options": {"queue": "bulk"},
            },
            "purge-exports": {
                "task": PERIODIC_TASK,
                "schedule": 3600.0,
                "args": ["exports.purge"],
                "options": {"queue": "bulk"},
            },
            "integrate-audit": {
                "task": PERIODIC_TASK,
                "schedule": 60.0,
                "args": ["audit.integrate"],
                "options": {"queue": "bulk"},
            },
            "retention-sweep": {
                "task": PERIODIC_TASK,
                "schedule": 86400.0,
                "args": ["retention.sweep"],
                "options": {"queue": "bulk"},
            },
        },
    )


@lru_cache(maxsize=4)
def _sender(broker_url: str) -> Celery:
    settings = Settings.from_env(
        {**os.environ, "GOVERNANCE_BROKER_URL": broker_url, "GOVERNANCE_TASK_RUNNER": "celery"}
    )
    from celery import Celery  # only a process that publishes pays for importing Celery

    app = Celery("governance-sender", set_as_current=False)
    configure(app, settings)
    # The publisher answers for a web request: one short connect attempt, no retry loop
    # (kombu's default retries made each call wait about 6 s on a broker that is down).
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "max_retries": 0,
        "socket_connect_timeout": 1,
        "socket_timeout": 3,
    }
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
