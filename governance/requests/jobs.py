"""The requests package's jobs: executing a request's steps and purging old exports, and
what a dead execution means for its request. Registered where the process is put together
(``governance.runtime``); the jobs package runs them without knowing them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor, Outcome
from governance.audit_actions import AuditAction
from governance.db import unit_of_work
from governance.jobs.handlers import JobHandlers
from governance.jobs.models import Job
from governance.jobs.service import JobKind
from governance.jobs.work import JobFailed
from governance.requests.deadlines import RequestType
from governance.requests.failures import EXPLANATIONS, RETRYABLE, FailureReason, StepFailed
from governance.requests.models import DsrRequest, DsrStep, RequestStatus, StepState
from governance.requests.services import RequestExecutor, RequestService, audit_request
from governance.shared import Shared


def register(handlers: JobHandlers) -> None:
    handlers.register(
        JobKind.REQUEST_EXECUTE, execute_request, must_finish=must_finish, on_dead=on_dead
    )
    handlers.register(JobKind.EXPORTS_PURGE, purge_exports)


def _actor(job: Job) -> Actor:
    return Actor(id=job.requested_by, role=job.requested_role)


def execute_request(runtime: Shared, job: Job) -> None:
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
        final = RequestExecutor(
            runtime, actor, http_request_id=job.trace_id, fail_on_outage=False
        ).run(request_id)
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


def _reason(code: str | None) -> FailureReason | None:
    try:
        return FailureReason(code) if code else None
    except ValueError:
        return FailureReason.UNEXPECTED


def purge_exports(runtime: Shared, job: Job) -> None:
    with unit_of_work(runtime.sessions) as session:
        RequestService(session, runtime, _actor(job)).purge_exports()


def must_finish(runtime: Shared, job: Job) -> bool:
    """An erasure whose rows are deleted (or anonymised) and whose key is not yet shredded
    waits out any outage, however long, rather than end with the subject's data key still
    live."""
    if not job.target_id:
        return False
    with runtime.sessions() as session:
        request = session.get(DsrRequest, job.target_id)
        if request is None or request.type != RequestType.ERASURE.value:
            return False
        done = set(
            session.scalars(
                select(DsrStep.name).where(
                    DsrStep.request_id == job.target_id, DsrStep.state == StepState.DONE.value
                )
            )
        )
    destructive = any(name.partition(":")[0] in ("delete", "anonymize") for name in done)
    return destructive and "shred" not in done


def on_dead(runtime: Shared, session: Session, job: Job) -> None:
    """A request whose execution is dead is failed with the reason `retries_exhausted`, its
    due date still ticking."""
    if not job.target_id:
        return
    request = session.get(DsrRequest, job.target_id)
    if request is None or request.status in (
        RequestStatus.COMPLETED.value,
        RequestStatus.REJECTED.value,
    ):
        return
    request.status = RequestStatus.FAILED.value
    request.error = str(FailureReason.RETRIES_EXHAUSTED)
    audit_request(
        runtime,
        session,
        Actor(id="system", role="system"),
        AuditAction.REQUEST_FAILED,
        request,
        {"reason_code": str(FailureReason.RETRIES_EXHAUSTED)},
        outcome=Outcome.FAILED,
        request_id=job.trace_id,
    )
