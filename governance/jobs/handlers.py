"""What each kind of job does: a thin call into the service that owns the work.

Handlers hold no state and may be called again for the same job after a crash; the services
they call resume from their own records. A handler raises :class:`JobFailed` when the work
cannot succeed by running again (the officer has to act), anything else to be retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from audit.events import Actor, Outcome
from governance.audit_actions import AuditAction
from governance.db import unit_of_work
from governance.jobs.models import Job
from governance.jobs.service import JobKind
from governance.jobs.work import Handler, JobFailed

if TYPE_CHECKING:
    from governance.runtime import Runtime


def _actor(job: Job) -> Actor:
    return Actor(id=job.requested_by, role=job.requested_role)


def execute_request(runtime: Runtime, job: Job) -> None:
    from governance.requests.failures import EXPLANATIONS, RETRYABLE, FailureReason, StepFailed
    from governance.requests.models import RequestStatus
    from governance.requests.services import RequestExecutor, RequestService

    request_id = job.target_id or ""
    actor = _actor(job)
    with unit_of_work(runtime.sessions) as session:
        service = RequestService(session, runtime, actor, request_id=job.trace_id)
        request = service.get(request_id, lock=True)
        status = RequestStatus(request.status)
        if status in (RequestStatus.COMPLETED, RequestStatus.REJECTED):
            return  # finished (or closed by an officer) since the job was queued
        if status is RequestStatus.FAILED:
            reason = _reason(request.error)
            if reason is not None and reason not in RETRYABLE:
                raise JobFailed(str(reason), EXPLANATIONS[reason])
            service.start(request_id)  # a retry of a transient failure resumes the steps
        elif status is not RequestStatus.IN_PROGRESS:
            raise JobFailed("not_started", "the request was not started")
    try:
        # An outage leaves the request in progress: its job waits on the dependency and
        # shows it (waiting_on), and the next attempt continues the steps.
        final = RequestExecutor(runtime, actor, http_request_id=job.trace_id,
                                fail_on_outage=False).run(request_id)
    except StepFailed as failed:
        if failed.reason in RETRYABLE:
            raise
        raise JobFailed(str(failed.reason), EXPLANATIONS[failed.reason]) from None
    if final == RequestStatus.FAILED.value:
        with unit_of_work(runtime.sessions) as session:
            error = _reason(RequestService(session, runtime, actor).get(request_id).error)
        if error is None or error in RETRYABLE:
            raise _Transient(str(error or FailureReason.UNEXPECTED))
        raise JobFailed(str(error), EXPLANATIONS[error])


class _Transient(Exception):  # noqa: N818 - retried by the job's policy
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(code: str | None):  # noqa: ANN202 - FailureReason | None, imported lazily
    from governance.requests.failures import FailureReason

    try:
        return FailureReason(code) if code else None
    except ValueError:
        return FailureReason.UNEXPECTED


def scan_store(runtime: Runtime, job: Job) -> None:
    runtime.pii_scans().run(job.target_id or "")


def rotate_keys(runtime: Runtime, job: Job) -> None:
    from governance.keys.events import KeyEvents
    from governance.keys.rotation import begin_rotation, run_rotation

    events = KeyEvents(runtime.sessions, runtime.audit, _actor(job), runtime.policy.version,
                       request_id=job.trace_id)
    key_job, resumed = begin_rotation(runtime.keys, events)
    run_rotation(runtime.keys, key_job, events, resumed=resumed)


def encrypt_existing(runtime: Runtime, job: Job) -> None:
    from governance.keys.events import KeyEvents
    from governance.keys.existing import encrypt_existing as seal_existing

    events = KeyEvents(runtime.sessions, runtime.audit, _actor(job), runtime.policy.version,
                       request_id=job.trace_id)
    seal_existing(runtime.sessions, runtime.policy.datamap, runtime.tables, runtime.crypto,
                  events)


def purge_exports(runtime: Runtime, job: Job) -> None:
    from governance.requests.services import RequestService

    with unit_of_work(runtime.sessions) as session:
        RequestService(session, runtime, _actor(job)).purge_exports()


def integrate_audit(runtime: Runtime, job: Job) -> None:
    with unit_of_work(runtime.sessions) as session:
        runtime.audit.integrate(session, checkpoint=True)


def sweep_retention(runtime: Runtime, job: Job) -> None:
    """A requested run (its id is the target), or the scheduler's daily one, which records
    its own run (or resumes the unfinished one) first."""
    from governance.retention.sweep import RetentionSweep

    sweeper = RetentionSweep(runtime, _actor(job), request_id=job.trace_id)
    run_id = job.target_id
    if run_id is None:
        with unit_of_work(runtime.sessions) as session:
            run_id = sweeper.create(session).id
    sweeper.run(run_id)


HANDLERS: dict[str, Handler] = {
    str(JobKind.REQUEST_EXECUTE): execute_request,
    str(JobKind.PII_SCAN): scan_store,
    str(JobKind.KEYS_ROTATE): rotate_keys,
    str(JobKind.KEYS_ENCRYPT_EXISTING): encrypt_existing,
    str(JobKind.EXPORTS_PURGE): purge_exports,
    str(JobKind.AUDIT_INTEGRATE): integrate_audit,
    str(JobKind.RETENTION_SWEEP): sweep_retention,
}


def must_finish(runtime: Runtime, job: Job) -> bool:
    """Whether the job's work is half-done in a way that must not be left: an erasure whose
    rows are deleted (or anonymised) and whose key is not yet shredded waits out any outage,
    however long, rather than end with the subject's data key still live."""
    if job.kind != str(JobKind.REQUEST_EXECUTE) or not job.target_id:
        return False
    from sqlalchemy import select

    from governance.requests.deadlines import RequestType
    from governance.requests.models import DsrRequest, DsrStep, StepState

    with runtime.sessions() as session:
        request = session.get(DsrRequest, job.target_id)
        if request is None or request.type != RequestType.ERASURE.value:
            return False
        done = set(session.scalars(select(DsrStep.name).where(
            DsrStep.request_id == job.target_id, DsrStep.state == StepState.DONE.value)))
    destructive = any(name.partition(":")[0] in ("delete", "anonymize") for name in done)
    return destructive and "shred" not in done


def on_dead(runtime: Runtime, session: Session, job: Job) -> None:
    """A dead job's work shows it where its users look: a request whose execution is dead
    is failed with the reason `retries_exhausted`, its due date still ticking."""
    if job.kind != str(JobKind.REQUEST_EXECUTE) or not job.target_id:
        return
    from governance.requests.failures import FailureReason
    from governance.requests.models import DsrRequest, RequestStatus
    from governance.requests.services import audit_request

    request = session.get(DsrRequest, job.target_id)
    if request is None or request.status in (RequestStatus.COMPLETED.value,
                                             RequestStatus.REJECTED.value):
        return
    request.status = RequestStatus.FAILED.value
    request.error = str(FailureReason.RETRIES_EXHAUSTED)
    audit_request(runtime, session, Actor(id="system", role="system"),
                  AuditAction.REQUEST_FAILED, request,
                  {"reason_code": str(FailureReason.RETRIES_EXHAUSTED)}, outcome=Outcome.FAILED,
                  request_id=job.trace_id)
