"""Running one job: claim it, keep its lease while the work runs, record the outcome.

Whatever delivered the job (a thread, a Celery worker, the CLI), this is the only code that
runs it, so the rules are the same everywhere: a job runs only if its row says it must and
this worker's claim won; an outage (a database, the key store or the broker unreachable)
is waited out with capped backoff, shown as ``waiting_on`` that dependency and not counted
against the cap, for ``job_outage_seconds``; an unexpected error is retried with backoff
until the attempt cap, then the job is dead; a failure that
running again cannot fix ends the job ``failed`` at once. Each of those decisions is audited.
The work itself is idempotent and records its own progress (request steps, rotation
batches, scan fields), so an attempt after a crash continues where the last one stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from audit.events import Actor, AuditEvent, Outcome, Target
from governance.audit_actions import AuditAction
from governance.db import UNAVAILABLE_ERRORS, unit_of_work
from governance.jobs.host import JobHost
from governance.jobs.models import Job, JobState
from governance.jobs.service import RetryPolicy, claim, finish, now, renew, worker_name
from governance.timestamps import as_utc

log = logging.getLogger("governance.jobs")


class JobFailed(Exception):  # noqa: N818 - an outcome with a code, not a bug
    """The work cannot succeed by running again; carries a code and a safe sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def error_code(exc: BaseException) -> str:
    """A code for the log and the table: never the exception's text, which can hold values."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return "store_unavailable"
    if getattr(exc, "type", None) == "broker-unavailable":  # runners.BrokerUnavailable
        return "broker_unavailable"
    reason = getattr(exc, "reason", None)  # StepFailed carries a FailureReason
    return str(reason) if reason is not None else "unexpected"


SAFE_MESSAGES = {
    "store_unavailable": "a database did not answer; the job is retried with backoff",
    "unexpected": "an unexpected error stopped the job (the service log has its type)",
    "lease_expired": "the worker running the job stopped answering (killed or lost)",
    "broker_unavailable": "the job queue did not answer; the job is retried with backoff",
}

# What an infrastructure failure waits on, as the job, the request page and the API show it.
WAITING_MESSAGES = {
    "database": "a database did not answer; the job waits for it, retried with backoff",
    "key_store": "the key store did not answer; the job waits for it, retried with backoff",
    "broker": "the job queue did not answer; the job waits for it, retried with backoff",
}


def waiting_on(runtime: JobHost, exc: BaseException) -> str | None:
    """The dependency an infrastructure failure found unreachable (``database``,
    ``key_store``, ``broker``), or None for a failure of the work itself. Both stores raise
    the same driver errors, so the key store is asked directly whether it answers."""
    if error_code(exc) == "broker_unavailable":
        return "broker"
    if not isinstance(exc, UNAVAILABLE_ERRORS):
        return None
    keystore = getattr(getattr(runtime.keys, "keystore", None), "engine", None)
    return "key_store" if keystore is not None and not _answers(keystore) else "database"


def _answers(engine: Any) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure to connect means it does not answer
        return False


def run_job(
    runtime: JobHost,
    job_id: str,
    *,
    worker: str | None = None,
    raise_errors: bool = False,
    work: Callable[[Job], None] | None = None,
) -> JobState | None:
    """Run the job if it is due and this worker wins the claim; returns the state it ended
    in, or None if it was not this worker's to run. ``work`` replaces the kind's handler
    where the caller needs more of it than the outcome (the CLI's progress lines)."""
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
            runtime.job_handlers.run(runtime, job)
    except JobFailed as failed:
        keeper.stop()
        _record(runtime, job, worker, JobState.FAILED, failed.code, failed.message)
        if raise_errors:
            raise
        return JobState.FAILED
    except Exception as exc:
        keeper.stop()
        state = _retry_or_bury(runtime, job, worker, error_code(exc), waiting_on(runtime, exc))
        log.error(
            "job %s (%s) attempt %d failed: %s", job.id, job.kind, job.attempts, type(exc).__name__
        )
        if raise_errors:
            raise
        return state
    keeper.stop()
    _record(runtime, job, worker, JobState.SUCCEEDED)
    return JobState.SUCCEEDED


def _retry_or_bury(
    runtime: JobHost, job: Job, worker: str, code: str, dependency: str | None = None
) -> JobState:
    """Retry or bury a failed attempt. An outage (``dependency``) is not the work's fault:
    the job waits, retried with capped backoff and its attempt given back, for
    ``job_outage_seconds`` from the first failure of the outage; an erasure whose rows are
    deleted waits for as long as it takes, so it always reaches its shred step. Past that,
    and for any other failure, the attempt counts and the cap buries the job."""
    policy = retry_policy(runtime)
    message = SAFE_MESSAGES.get(code, SAFE_MESSAGES["unexpected"])
    if dependency is not None:
        since = as_utc(job.waiting_since) or now()
        budget = timedelta(seconds=runtime.settings.job_outage_seconds)
        if now() - since < budget or _must_finish(runtime, job):
            _record(
                runtime,
                job,
                worker,
                JobState.QUEUED,
                code,
                WAITING_MESSAGES[dependency],
                delay=policy.delay(job.attempts),
                waiting=(dependency, since),
            )
            log.warning(
                "job %s (%s) waits on the %s, unreachable since %s",
                job.id,
                job.kind,
                dependency,
                since.isoformat(timespec="seconds"),
            )
            return JobState.QUEUED
    if job.attempts >= job.max_attempts:
        _record(runtime, job, worker, JobState.DEAD, code, message)
        return JobState.DEAD
    _record(runtime, job, worker, JobState.QUEUED, code, message, delay=policy.delay(job.attempts))
    return JobState.QUEUED


def _must_finish(runtime: JobHost, job: Job) -> bool:
    try:
        return runtime.job_handlers.must_finish(runtime, job)
    except UNAVAILABLE_ERRORS:
        return True  # the database cannot say: never give up on half-done work in doubt


def retry_policy(runtime: JobHost) -> RetryPolicy:
    return RetryPolicy.of(runtime.settings)


def _record(
    runtime: JobHost,
    job: Job,
    worker: str,
    state: JobState,
    code: str | None = None,
    message: str | None = None,
    *,
    delay: timedelta | None = None,
    waiting: tuple[str, datetime] | None = None,
) -> None:
    with unit_of_work(runtime.sessions) as session:
        if not finish(
            session,
            job.id,
            worker,
            state,
            error_code=code,
            error_message=message,
            not_before=now() + delay if delay is not None else None,
            waiting_on=waiting[0] if waiting else None,
            waiting_since=waiting[1] if waiting else None,
        ):
            return  # the lease lapsed and someone else holds the job now
        action = {
            JobState.DEAD: AuditAction.JOB_DEAD,
            JobState.FAILED: AuditAction.JOB_FAILED,
            JobState.QUEUED: AuditAction.JOB_REQUEUED,
        }.get(state)
        if action is not None:
            audit_job(
                runtime, session, job, action, code, waiting_on=waiting[0] if waiting else None
            )
        if state is JobState.DEAD:
            runtime.job_handlers.on_dead(runtime, session, job)


def audit_job(
    runtime: JobHost,
    session: object,
    job: Job,
    action: AuditAction,
    code: str | None,
    *,
    waiting_on: str | None = None,
) -> None:
    runtime.audit.record(
        session,  # type: ignore[arg-type]
        AuditEvent(
            action=str(action),
            actor=Actor(id="system", role="system"),
            outcome=Outcome.FAILED if action is not AuditAction.JOB_REQUEUED else Outcome.ALLOWED,
            target=Target(record_id=job.id),
            policy_version=runtime.policy.version,
            request_id=job.trace_id,
            details={
                "type": job.kind,
                "attempts": job.attempts,
                **({"reason_code": code} if code else {}),
                **({"waiting_on": waiting_on} if waiting_on else {}),
            },
        ),
    )


class _LeaseKeeper:
    """Renews the job's lease every third of its length while the work runs, so only a
    worker that stopped (killed, frozen, cut off) loses it."""

    def __init__(self, runtime: JobHost, job_id: str, worker: str, lease: timedelta) -> None:
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
                log.warning(
                    "renewing the lease of job %s failed: %s", self.job_id, type(exc).__name__
                )
