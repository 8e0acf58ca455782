"""The reaper: nothing the jobs table says must run is forgotten.

It runs periodically (a timer thread beside the embedded default's web workers, a beat task
on Celery) and, each time:
- gives back to the queue every running job whose lease lapsed (its worker was killed or
  lost), or declares it dead at the attempt cap; both decisions audited;
- delivers every queued job that is due and was never delivered, or whose delivery is older
  than a lease (the message was lost: a broker that was down, a process that died between
  its commit and its enqueue).
Rows are taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two reapers split the work
instead of waiting on each other; on SQLite the writer lock serialises them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from governance.audit_actions import AuditAction
from governance.db import unit_of_work
from governance.jobs.host import JobHost
from governance.jobs.models import Job, JobState
from governance.jobs.service import now
from governance.jobs.work import SAFE_MESSAGES, audit_job

log = logging.getLogger("governance.jobs")
_BATCH = 200


@dataclass(frozen=True)
class ReapReport:
    requeued: int
    dead: int
    delivered: int


def reap(
    runtime: JobHost, deliver: Callable[[Sequence[str]], None], at: datetime | None = None
) -> ReapReport:
    at = at or now()
    lease = timedelta(seconds=runtime.settings.job_lease_seconds)
    requeued = dead = 0
    with unit_of_work(runtime.sessions) as session:
        lapsed = list(
            session.scalars(
                _locked(
                    session,
                    select(Job)
                    .where(Job.state == JobState.RUNNING.value, Job.lease_until < at)
                    .limit(_BATCH),
                )
            )
        )
        for job in lapsed:
            code, message = "lease_expired", SAFE_MESSAGES["lease_expired"]
            if job.attempts >= job.max_attempts:
                job.state, job.finished_at = JobState.DEAD.value, at
                action = AuditAction.JOB_DEAD
                dead += 1
            else:
                job.state, job.not_before, job.delivered_at = JobState.QUEUED.value, at, None
                action = AuditAction.JOB_REQUEUED
                requeued += 1
            job.lease_until, job.worker = None, None
            job.error_code, job.error_message, job.updated_at = code, message, at
            audit_job(runtime, session, job, action, code)
            if job.state == JobState.DEAD.value:
                runtime.job_handlers.on_dead(runtime, session, job)
    with unit_of_work(runtime.sessions) as session:
        due = list(
            session.scalars(
                _locked(
                    session,
                    select(Job.id)
                    .where(
                        Job.state == JobState.QUEUED.value,
                        Job.not_before <= at,
                        or_(Job.delivered_at.is_(None), Job.delivered_at < at - lease),
                    )
                    .order_by(Job.not_before)
                    .limit(_BATCH),
                )
            )
        )
        if due:
            session.execute(
                update(Job)
                .where(Job.id.in_(due), and_(Job.state == JobState.QUEUED.value))
                .values(delivered_at=at)
                .execution_options(synchronize_session=False)
            )
    if due:
        deliver(due)
    if requeued or dead or due:
        log.info("reaper: %d requeued, %d dead, %d delivered", requeued, dead, len(due))
    return ReapReport(requeued=requeued, dead=dead, delivered=len(due))


def _locked(session: object, query):  # noqa: ANN001, ANN202
    dialect = session.get_bind().dialect.name  # type: ignore[attr-defined]
    return query.with_for_update(skip_locked=True) if dialect == "postgresql" else query
