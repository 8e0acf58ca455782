"""Running one job: claim it, keep its lease while the work runs, record the outcome.

Whatever delivered the job (a thread, a Celery worker, the CLI), this is the only code that
runs it, so the rules are the same everywhere: a job runs only if its row says it must and
this worker's claim won; a transient failure (a database that did not answer, an unexpected
error) is retried with backoff until the attempt cap, then the job is dead; a failure that
running again cannot fix ends the job ``failed`` at once. Each of those decisions is audited.
The work itself is idempotent and records its own progress (request steps, rotation
batches, scan fields), so an attempt after a crash continues where the last one stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from audit.events import Actor, AuditEvent, Outcome, Target
from governance.audit_actions import AuditAction
from governance.db import UNAVAILABLE_ERRORS, unit_of_work
from governance.jobs.models import Job, JobState
from governance.jobs.service import RetryPolicy, claim, finish, now, renew, worker_name

if TYPE_CHECKING:
    from governance.runtime import Runtime

log = logging.getLogger("governance.jobs")


class JobFailed(Exception):  # noqa: N818 - an outcome with a code, not a bug
    """The work cannot succeed by running again; carries a code and a safe sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


Handler = Callable[["Runtime", Job], None]


def error_code(exc: BaseException) -> str:
    """A code for the log and the table: never the exception's text, which can hold values."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return "store_unavailable"
    reason = getattr(exc, "reason", None)  # StepFailed carries a FailureReason
    return str(reason) if reason is not None else "unexpected"


SAFE_MESSAGES = {
    "store_unavailable": "a database did not answer; the job is retried with backoff",
    "unexpected": "an unexpected error stopped the job (the service log has its type)",
    "lease_expired": "the worker running the job stopped answering (killed or lost)",
}


def run_job(runtime: Runtime, job_id: str, *, worker: str | None = None,
            raise_errors: bool = False,
            work: Callable[[Job], None] | None = None) -> JobState | None:
    """Run the job if it is due and this worker wins the claim; returns the state it ended
    in, or None if it was not this worker's to run. ``work`` replaces the kind's handler
    where the caller needs more of it than the outcome (the CLI's progress lines)."""
    from governance.jobs.handlers import HANDLERS

    worker = worker or worker_name()
    lease = timedelta(seconds=runtime.settings.job_lease_seconds)
    with unit_of_work(runtime.sessions) as session:
        job = claim(session, job_id, worker, lease)
        if job is None:
            return None
        session.expunge(job)
    keeper = _LeaseKeeper(runtime, job_id, worker, lease)
    keeper.start()
    try:
        if work is not None:
            work(job)
        else:
            HANDLERS[job.kind](runtime, job)
    except JobFailed as failed:
        keeper.stop()
        _record(runtime, job, worker, JobState.FAILED, failed.code, failed.message)
        if raise_errors:
            raise
        return JobState.FAILED
    except Exception as exc:
        keeper.stop()
        state = _retry_or_bury(runtime, job, worker, error_code(exc))
        log.error("job %s (%s) attempt %d failed: %s", job.id, job.kind, job.attempts,
                  type(exc).__name__)
        if raise_errors:
            raise
        return state
    keeper.stop()
    _record(runtime, job, worker, JobState.SUCCEEDED)
    return JobState.SUCCEEDED


def _retry_or_bury(runtime: Runtime, job: Job, worker: str, code: str) -> JobState:
    policy = retry_policy(runtime)
    message = SAFE_MESSAGES.get(code, SAFE_MESSAGES["unexpected"])
    if job.attempts >= job.max_attempts:
        _record(runtime, job, worker, JobState.DEAD, code, message)
        return JobState.DEAD
    _record(runtime, job, worker, JobState.QUEUED, code, message,
            delay=policy.delay(job.attempts))
    return JobState.QUEUED


def retry_policy(runtime: Runtime) -> RetryPolicy:
    settings = runtime.settings
    return RetryPolicy(max_attempts=settings.job_max_attempts,
                       base=timedelta(seconds=settings.job_retry_seconds))


def _record(runtime: Runtime, job: Job, worker: str, state: JobState, code: str | None = None,
            message: str | None = None, *, delay: timedelta | None = None) -> None:
    with unit_of_work(runtime.sessions) as session:
        if not finish(session, job.id, worker, state, error_code=code, error_message=message,
                      not_before=now() + delay if delay is not None else None):
            return  # the lease lapsed and someone else holds the job now
        action = {JobState.DEAD: AuditAction.JOB_DEAD, JobState.FAILED: AuditAction.JOB_FAILED,
                  JobState.QUEUED: AuditAction.JOB_REQUEUED}.get(state)
        if action is not None:
            audit_job(runtime, session, job, action, code)
        if state is JobState.DEAD:
            from governance.jobs.handlers import on_dead

            on_dead(runtime, session, job)


def audit_job(runtime: Runtime, session: object, job: Job, action: AuditAction,
              code: str | None) -> None:
    runtime.audit.record(session, AuditEvent(  # type: ignore[arg-type]
        action=str(action), actor=Actor(id="system", role="system"),
        outcome=Outcome.FAILED if action is not AuditAction.JOB_REQUEUED else Outcome.ALLOWED,
        target=Target(record_id=job.id), policy_version=runtime.policy.version,
        request_id=job.trace_id,
        details={"type": job.kind, "attempts": job.attempts,
                 **({"reason_code": code} if code else {})},
    ))


class _LeaseKeeper:
    """Renews the job's lease every third of its length while the work runs, so only a
    worker that stopped (killed, frozen, cut off) loses it."""

    def __init__(self, runtime: Runtime, job_id: str, worker: str, lease: timedelta) -> None:
        self.runtime, self.job_id, self.worker, self.lease = runtime, job_id, worker, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                with unit_of_work(self.runtime.sessions) as session:
                    renew(session, self.job_id, self.worker, self.lease)
            except Exception as exc:  # noqa: BLE001 - a missed renewal is retried next time
                log.warning("renewing the lease of job %s failed: %s", self.job_id,
                            type(exc).__name__)
