"""What a legal hold does to data-subject requests: the requests package owns it.

Retention answers whether a subject is held (``governance.retention.holds.blocking_hold``);
an erasure that meets an active hold stops ``on_hold`` with the hold's id
(``RequestExecutor``), and when the hold is released (or lapses) the erasures that waited
on it go back to ``in_progress``, audited, and run again as their ``request.execute`` jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.audit_actions import AuditAction
from governance.authz import Permission, require
from governance.jobs.after_commit import AfterCommit
from governance.jobs.service import JobKind, Jobs
from governance.requests.models import DsrRequest, RequestStatus
from governance.requests.services import audit_request
from governance.retention.holds import HoldService, blocking_hold
from governance.retention.models import LegalHold
from governance.shared import Shared


def release_hold(
    session: Session,
    runtime: Shared,
    actor: Actor,
    hold_id: str,
    reason: Any,
    *,
    request_id: str | None = None,
) -> AfterCommit[tuple[LegalHold, list[str]]]:
    """A hold released by ``actor`` (the API, the console): the hold's event, state and
    audit event (``HoldService.release``), then the erasures that waited on it resumed
    (:func:`resume_waiting`), each with its ``request.execute`` job, all in the caller's
    unit of work. Returns the hold and the resumed request ids; the jobs are the caller's
    to deliver once that commits."""
    require(actor.role, Permission.HOLDS_MANAGE)
    hold = HoldService(session, runtime, actor, request_id=request_id).release(hold_id, reason)
    resumed = resume_waiting(session, runtime, actor, request_id=request_id)
    jobs = Jobs(session)
    job_ids = []
    for waiting in resumed:
        job, _ = jobs.enqueue(
            JobKind.REQUEST_EXECUTE,
            waiting,
            actor=actor,
            exclusive=f"request.execute:{waiting}",
            trace_id=request_id,
        )
        job_ids.append(job.id)
    return AfterCommit((hold, resumed), tuple(job_ids))


def resume_waiting(
    session: Session, runtime: Shared, actor: Actor, *, request_id: str | None = None
) -> list[str]:
    """Erasure requests on hold whose hold no longer covers them (released, expired, or
    the subject's records left the held collection): back to ``in_progress``, audited.
    Returns their ids, for the caller to execute after its commit; an execution that meets
    another active hold stops on that one."""
    waiting = list(
        session.scalars(
            select(DsrRequest)
            .where(DsrRequest.status == RequestStatus.ON_HOLD.value)
            .order_by(DsrRequest.started_at)
            .with_for_update()
        )
    )
    resumed = []
    for request in waiting:
        if (
            blocking_hold(session, runtime.policy.datamap, runtime.tables, request.subject_id or "")
            is not None
        ):
            continue
        previous = request.hold_id
        request.status = RequestStatus.IN_PROGRESS.value
        request.hold_id = None
        request.updated_at = datetime.now(UTC)
        audit_request(
            runtime,
            session,
            actor,
            AuditAction.REQUEST_STARTED,
            request,
            {"resumed": True, "hold_id": previous} if previous else {"resumed": True},
            request_id=request_id,
        )
        resumed.append(request.id)
    session.flush()
    return resumed


def waiting_requests(session: Session, hold_id: str) -> list[DsrRequest]:
    """The erasure requests stopped on this hold."""
    return list(
        session.scalars(
            select(DsrRequest).where(
                DsrRequest.hold_id == hold_id, DsrRequest.status == RequestStatus.ON_HOLD.value
            )
        )
    )
