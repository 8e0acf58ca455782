"""Background jobs, for admins and compliance officers: what runs, what failed and why, and
a retry of a dead or failed job."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import read_only, requires
from api.context import actor, db, delivered, record, runtime
from api.openapi import answers
from api.pagination import InvalidCursor, decode_cursor, encode_cursor
from api.schemas.jobs import JobPageSchema, JobSchema, JobsQuery
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.jobs.models import Job
from governance.jobs.service import Jobs, RetryPolicy
from governance.timestamps import as_utc

blp = Blueprint("jobs", __name__, url_prefix="/v1", description="Background jobs")
_LIST = "jobs"
_FIELDS = (
    "id",
    "kind",
    "target_id",
    "queue",
    "state",
    "attempts",
    "max_attempts",
    "not_before",
    "lease_until",
    "worker",
    "error_code",
    "error_message",
    "waiting_on",
    "waiting_since",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
)


def job_view(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in _FIELDS}


@blp.route("/jobs")
class JobList(MethodView):
    @read_only
    @requires(Permission.JOBS_MANAGE, AuditAction.JOB_READ)
    @blp.arguments(JobsQuery, location="query")
    @blp.response(200, JobPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Jobs, newest first; `kind=` and `state=` filter them."""
        after = decode_cursor(query["cursor"], list, scope=_LIST)
        if after is not None and (len(after) != 2 or not all(isinstance(a, str) for a in after)):
            raise InvalidCursor()
        try:
            jobs = Jobs(db()).list(
                kind=query["kind"],
                states=(query["state"],) if query["state"] else (),
                after=(after[0], after[1]) if after else None,
                limit=query["limit"] + 1,
            )
        except ValueError:
            raise InvalidCursor() from None
        page = jobs[: query["limit"]]
        record(
            AuditEvent(
                action=str(AuditAction.JOB_READ),
                actor=actor(),
                policy_version=runtime().policy.version,
                details={"count": len(page)},
            )
        )
        last = page[-1] if page else None
        cursor = (
            [as_utc(last.created_at).isoformat(), last.id]
            if last is not None and len(jobs) > len(page)
            else None
        )
        return {
            "items": [job_view(j) for j in page],
            "next_cursor": encode_cursor(cursor, scope=_LIST) if cursor else None,
        }


@blp.route("/jobs/<job_id>")
class JobItem(MethodView):
    @read_only
    @requires(Permission.JOBS_MANAGE, AuditAction.JOB_READ)
    @blp.response(200, JobSchema)
    def get(self, job_id: str) -> dict[str, Any]:
        """One job: its state, attempts, lease and last error."""
        job = Jobs(db()).get(job_id)
        record(
            AuditEvent(
                action=str(AuditAction.JOB_READ),
                actor=actor(),
                target=Target(record_id=job.id),
                policy_version=runtime().policy.version,
            )
        )
        return job_view(job)


@blp.route("/jobs/<job_id>/retry")
class JobRetry(MethodView):
    @answers(409, "only a dead or failed job is retried")
    @requires(Permission.JOBS_MANAGE, AuditAction.JOB_RETRIED)
    @blp.response(202, JobSchema)
    def post(self, job_id: str) -> dict[str, Any]:
        """Queue a dead or failed job again, with a fresh allowance of attempts."""
        rt = runtime()
        job = delivered(
            Jobs(db(), RetryPolicy.of(rt.settings)).retry_for(
                job_id,
                actor=actor(),
                audit=rt.audit,
                policy_version=rt.policy.version,
                request_id=g.request_id,
            )
        )
        return job_view(job)
