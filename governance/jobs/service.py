"""Creating, claiming and finishing jobs: every change of a job is one conditional update of
its row, so any number of processes can deliver, claim and reap the same jobs safely.

A job is created in the caller's transaction, beside the change that asks for it (a request
started, a scan row written), and delivered only after that commits (see
``governance.jobs.runners``). A worker claims it by moving it from ``queued`` (and due) to
``running`` with a lease in one UPDATE; only the process whose UPDATE changed the row runs
it. The lease is renewed while the job works; when it lapses (the worker died), the reaper
gives the job back to the queue or, at the attempt cap, declares it dead.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Target
from audit.log import AuditLog
from governance.audit_actions import AuditAction
from governance.authz import Permission, Role, actor_may
from governance.errors import Conflict, Forbidden, NotFound
from governance.jobs.after_commit import AfterCommit
from governance.jobs.models import OPEN_STATES, Job, JobState
from governance.settings import Settings


class JobKind(StrEnum):
    REQUEST_EXECUTE = "request.execute"
    PII_SCAN = "pii.scan"
    KEYS_ROTATE = "keys.rotate"
    KEYS_ENCRYPT_EXISTING = "keys.encrypt_existing"
    EXPORTS_PURGE = "exports.purge"
    AUDIT_INTEGRATE = "audit.integrate"
    RETENTION_SWEEP = "retention.sweep"


class Queue(StrEnum):
    """Interactive work (a subject is waiting) never waits behind bulk work (a store scan)."""

    INTERACTIVE = "interactive"
    BULK = "bulk"


QUEUE_OF: dict[JobKind, Queue] = {
    JobKind.REQUEST_EXECUTE: Queue.INTERACTIVE,
    JobKind.PII_SCAN: Queue.BULK,
    JobKind.KEYS_ROTATE: Queue.BULK,
    JobKind.KEYS_ENCRYPT_EXISTING: Queue.BULK,
    JobKind.EXPORTS_PURGE: Queue.BULK,
    JobKind.AUDIT_INTEGRATE: Queue.BULK,
    JobKind.RETENTION_SWEEP: Queue.BULK,
}


# Retrying a job runs its work again under the retrier's name, so it needs the permission
# that starting that work needs: an admin may not re-run an officer's erasure by its job.
PERMISSION_OF: dict[JobKind, Permission] = {
    JobKind.REQUEST_EXECUTE: Permission.REQUESTS_MANAGE,
    JobKind.PII_SCAN: Permission.PII_ANALYZE,
    JobKind.KEYS_ROTATE: Permission.KEYS_ROTATE,
    JobKind.KEYS_ENCRYPT_EXISTING: Permission.KEYS_ROTATE,
    JobKind.EXPORTS_PURGE: Permission.JOBS_MANAGE,
    JobKind.AUDIT_INTEGRATE: Permission.JOBS_MANAGE,
    JobKind.RETENTION_SWEEP: Permission.RETENTION_MANAGE,
}


def may_retry(role: str, kind: str) -> bool:
    """Whether a person of ``role`` may run a job of ``kind`` again. A role that is not a
    person's (the CLI's host ``operator``, ``system``) holds the host and may."""
    try:
        Role(role)
    except ValueError:
        return True
    try:
        needed = PERMISSION_OF[JobKind(kind)]
    except ValueError:
        return False  # a kind this version does not know is run by nobody
    return actor_may(role, needed)


class JobNotFound(NotFound):
    type = "job-not-found"

    def __init__(self) -> None:
        super().__init__("no such job")


class JobNotRetryable(Conflict):
    type = "job-not-retryable"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base: timedelta = timedelta(seconds=5)
    ceiling: timedelta = timedelta(minutes=10)

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.job_max_attempts,
            base=timedelta(seconds=settings.job_retry_seconds),
            ceiling=timedelta(seconds=settings.job_retry_ceiling_seconds),
        )

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff: base, 2 x base, 4 x base ... up to the ceiling."""
        return min(self.ceiling, self.base * (2 ** max(0, attempts - 1)))


def now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """host:pid:thread, so that a lease names the process that holds it."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{threading.get_ident() % 10**6}"


class Jobs:
    """The jobs of one unit of work (the caller's session and transaction)."""

    def __init__(self, session: Session, retry: RetryPolicy | None = None) -> None:
        self.session = session
        self.retry = retry or RetryPolicy()

    def enqueue(
        self,
        kind: JobKind,
        target_id: str | None = None,
        *,
        actor: Actor,
        exclusive: str | None = None,
        trace_id: str | None = None,
    ) -> tuple[Job, bool]:
        """A new queued job, or with ``exclusive`` the open job of that name if there is one
        (then ``False``): one rotation, one sweep at a time, whoever asks."""
        if exclusive is not None:
            existing = self.open_exclusive(exclusive)
            if existing is not None:
                return existing, False
        at = now()
        job = Job(
            id=uuid.uuid4().hex,
            kind=str(kind),
            target_id=target_id,
            queue=str(QUEUE_OF[kind]),
            state=JobState.QUEUED.value,
            exclusive=exclusive,
            attempts=0,
            max_attempts=self.retry.max_attempts,
            not_before=at,
            requested_by=actor.id,
            requested_role=actor.role,
            trace_id=trace_id,
            created_at=at,
            updated_at=at,
        )
        try:
            with self.session.begin_nested():  # a savepoint: a lost race keeps the caller's work
                self.session.add(job)
        except IntegrityError:
            existing = self.open_exclusive(exclusive or "")
            if existing is None:
                raise
            return existing, False
        return job, True

    def open_exclusive(self, exclusive: str) -> Job | None:
        return self.session.scalar(
            select(Job).where(Job.exclusive == exclusive, Job.state.in_(OPEN_STATES))
        )

    def get(self, job_id: str) -> Job:
        job = self.session.get(Job, job_id)
        if job is None:
            raise JobNotFound()
        return job

    def latest_for(self, kind: JobKind, target_id: str) -> Job | None:
        return self.session.scalar(
            select(Job)
            .where(Job.kind == str(kind), Job.target_id == target_id)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
        )

    def latest_for_each(self, kind: JobKind, target_ids: Sequence[str]) -> dict[str, Job]:
        if not target_ids:
            return {}
        rows = self.session.scalars(
            select(Job)
            .where(Job.kind == str(kind), Job.target_id.in_(list(target_ids)))
            .order_by(Job.created_at, Job.id)
        )
        return {job.target_id or "": job for job in rows}  # the last one wins

    def list(
        self,
        *,
        kind: str | None = None,
        states: Sequence[str] = (),
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Newest first; ``after`` is the (created_at, id) of the last job of a page."""
        query = select(Job)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if states:
            query = query.where(Job.state.in_(list(states)))
        if after is not None:
            at = datetime.fromisoformat(after[0])
            query = query.where(
                or_(Job.created_at < at, and_(Job.created_at == at, Job.id < after[1]))
            )
        return list(
            self.session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit))
        )

    def retry_for(
        self,
        job_id: str,
        *,
        actor: Actor,
        audit: AuditLog,
        policy_version: str,
        request_id: str | None = None,
    ) -> AfterCommit[Job]:
        """The retry of a dead or failed job, as the API, the console and the CLI ask for
        it: refused (``Forbidden``) unless ``actor``'s role may start the job's kind of
        work, queued again (else ``JobNotRetryable``), audited in this unit of work with
        ``actor``; the job is the caller's to deliver once that commits."""
        job = self.retry_now(job_id, actor.role)
        audit.record(
            self.session,
            AuditEvent(
                action=str(AuditAction.JOB_RETRIED),
                actor=actor,
                target=Target(record_id=job.id),
                request_id=request_id,
                policy_version=policy_version,
                details={"type": job.kind, "attempts": job.attempts},
            ),
        )
        return AfterCommit(job, (job.id,))

    def retry_now(self, job_id: str, role: str | None = None) -> Job:
        """An officer's or admin's retry of a dead or failed job: queued again, with a
        fresh allowance of attempts. With ``role``, only if that role may start the job's
        kind of work (``PERMISSION_OF``; else ``Forbidden``, and nothing changes)."""
        job = self.get(job_id)
        if role is not None and not may_retry(role, job.kind):
            needed = PERMISSION_OF.get(JobKind(job.kind)) if job.kind in set(JobKind) else None
            raise Forbidden(
                f"retrying a {job.kind} job needs the "
                f"{needed or 'matching'} permission, which this role lacks"
            )
        if job.state not in (JobState.DEAD.value, JobState.FAILED.value):
            raise JobNotRetryable(f"only a dead or failed job is retried; this one is {job.state}")
        at = now()
        job.state = JobState.QUEUED.value
        job.max_attempts = job.attempts + self.retry.max_attempts
        job.not_before = at
        job.lease_until = None
        job.worker = None
        job.delivered_at = None
        job.waiting_on = None
        job.waiting_since = None
        job.updated_at = at
        return job


# -- the worker's side: each a conditional update in its own short transaction --------------
def claim(session: Session, job_id: str, worker: str, lease: timedelta) -> Job | None:
    """Take the job if it is queued and due (or running on a lease that lapsed): the UPDATE
    that matches is the claim, so two workers can never both run it."""
    at = now()
    claimed = _rows(
        session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                or_(
                    and_(Job.state == JobState.QUEUED.value, Job.not_before <= at),
                    and_(Job.state == JobState.RUNNING.value, Job.lease_until < at),
                ),
                Job.attempts < Job.max_attempts,
            )
            .values(
                state=JobState.RUNNING.value,
                worker=worker,
                lease_until=at + lease,
                attempts=Job.attempts + 1,
                started_at=at,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if claimed != 1:
        return None
    return session.get(Job, job_id, populate_existing=True)


def renew(session: Session, job_id: str, worker: str, lease: timedelta) -> bool:
    at = now()
    renewed = _rows(
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING.value)
            .values(lease_until=at + lease, updated_at=at)
            .execution_options(synchronize_session=False)
        )
    )
    return renewed == 1


def finish(
    session: Session,
    job_id: str,
    worker: str,
    state: JobState,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
    not_before: datetime | None = None,
    waiting_on: str | None = None,
    waiting_since: datetime | None = None,
) -> bool:
    """Record the attempt's outcome, if this worker still holds the job. A job requeued
    ``waiting_on`` a dependency gets its attempt back (the cap counts failures of the work,
    not outages); any other outcome ends the wait."""
    at = now()
    values: dict[str, object] = {
        "state": state.value,
        "lease_until": None,
        "updated_at": at,
        "error_code": error_code,
        "error_message": error_message,
        "waiting_on": waiting_on,
        "waiting_since": waiting_since,
    }
    if state is JobState.QUEUED:
        values.update(not_before=not_before or at, worker=None, delivered_at=None)
        if waiting_on is not None:
            values["max_attempts"] = Job.max_attempts + 1
    else:
        values["finished_at"] = at
    done = _rows(
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    return done == 1


def _rows(result: object) -> int:
    """The number of rows an UPDATE matched (SQLAlchemy's CursorResult.rowcount)."""
    return int(result.rowcount)  # type: ignore[attr-defined]
