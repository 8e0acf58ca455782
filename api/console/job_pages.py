"""Background jobs (admins and officers): the list with kind and state filters, one job's
page, and a retry of a dead or failed job.

The list and the job are ``governance.jobs.service.Jobs``, as ``/v1/jobs``; the retry is
``Jobs.retry_for``, as ``POST /v1/jobs/{id}/retry``: queued again with a fresh allowance of
attempts, delivered after the commit, audited with the person as the actor.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import SelectField

from api.console.access import page
from api.console.forms import ActionForm, options
from api.context import actor, db, delivered, record, runtime
from api.pagination import InvalidCursor, decode_cursor, encode_cursor
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.errors import GovernanceError
from governance.jobs.models import Job, JobState
from governance.jobs.service import JobKind, Jobs, RetryPolicy
from governance.timestamps import as_utc

MANAGE = Permission.JOBS_MANAGE
PAGE_SIZE = 50
_SCOPE = "console/jobs"
RETRYABLE = (JobState.DEAD.value, JobState.FAILED.value)


class JobFilterForm(FlaskForm):
    """From the query string (a GET form: no token, it changes nothing)."""

    class Meta:
        csrf = False

    kind = SelectField(
        "Kind", default="", choices=options([("", "any"), *((k.value, k.value) for k in JobKind)])
    )
    state = SelectField(
        "State", default="", choices=options([("", "any"), *((s.value, s.value) for s in JobState)])
    )


def _after() -> tuple[str, str] | None:
    raw = request.args.get("after")
    if not raw:
        return None
    after = decode_cursor(raw, list, scope=_SCOPE)
    if not (isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) for a in after)):
        raise InvalidCursor()
    return after[0], after[1]


def listing() -> tuple[str, int]:
    form = JobFilterForm(request.args)
    problem = None
    jobs: list[Job] = []
    after = None
    if not form.validate():
        problem = "Some filters are not valid; they are shown next to the field."
    else:
        try:
            after = _after()
            jobs = Jobs(db()).list(
                kind=form.kind.data or None,
                states=(form.state.data,) if form.state.data else (),
                after=after,
                limit=PAGE_SIZE + 1,
            )
        except (InvalidCursor, ValueError):
            problem = "The page link is out of date or not ours; start from the first page."
    shown = jobs[:PAGE_SIZE]
    record(
        AuditEvent(
            action=str(AuditAction.JOB_READ),
            actor=actor(),
            policy_version=runtime().policy.version,
            details={"count": len(shown)},
        )
    )
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after" and v}
    next_url = None
    if len(jobs) > len(shown):
        last = shown[-1]
        cursor = encode_cursor([as_utc(last.created_at).isoformat(), last.id], scope=_SCOPE)
        next_url = url_for("console.jobs", **args, after=cursor)
    return render_template(
        "console/jobs.html",
        form=form,
        jobs=shown,
        problem=problem,
        next_url=next_url,
        first_url=url_for("console.jobs", **args) if after is not None else None,
    ), 422 if problem else 200


def _target_url(job: Job) -> str | None:
    """The page of what the job works on, where the console has one."""
    if job.target_id and job.kind == JobKind.REQUEST_EXECUTE.value:
        return url_for("console.request_detail", request_id=job.target_id)
    if job.target_id and job.kind == JobKind.PII_SCAN.value:
        return url_for("console.pii_scan", scan_id=job.target_id)
    if job.kind == JobKind.KEYS_ROTATE.value:
        return url_for("console.keys")
    return None


def _job_page(job_id: str, problem: str | None = None, status: int = 200) -> tuple[str, int]:
    job = Jobs(db()).get(job_id)
    return render_template(
        "console/job.html",
        job=job,
        target_url=_target_url(job),
        retryable=job.state in RETRYABLE,
        action=ActionForm(),
        problem=problem,
    ), status


def detail(job_id: str) -> tuple[str, int]:
    shown = _job_page(job_id)
    record(
        AuditEvent(
            action=str(AuditAction.JOB_READ),
            actor=actor(),
            target=Target(record_id=job_id),
            policy_version=runtime().policy.version,
        )
    )
    return shown


def retry(job_id: str) -> ResponseReturnValue:
    rt = runtime()
    try:
        delivered(
            Jobs(db(), RetryPolicy.of(rt.settings)).retry_for(
                job_id,
                actor=actor(),
                audit=rt.audit,
                policy_version=rt.policy.version,
                request_id=g.request_id,
            )
        )
    except GovernanceError as refused:
        if refused.status == 404 or refused.status >= 500:
            raise
        return _job_page(job_id, refused.detail, refused.status)
    return redirect(url_for("console.job_detail", job_id=job_id), code=303)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/jobs", "jobs", page(MANAGE, AuditAction.JOB_READ)(listing))
    blp.add_url_rule("/jobs/<job_id>", "job_detail", page(MANAGE, AuditAction.JOB_READ)(detail))
    blp.add_url_rule(
        "/jobs/<job_id>/retry",
        "job_retry",
        page(MANAGE, AuditAction.JOB_RETRIED)(retry),
        methods=["POST"],
    )
