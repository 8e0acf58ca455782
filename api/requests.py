"""Data-subject requests for compliance officers: intake, workflow, execution, export.

A handler parses, calls :class:`governance.requests.services.RequestService` (which writes
and audits in the request's transaction) and serialises. ``/execute`` records the plan and
answers 202 at once; the steps run on the runtime's task runner after this request commits
(in-process thread on the embedded default), and ``GET /v1/requests/{id}`` shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, audited_by_service, db, delivered, record, runtime
from api.openapi import answers
from api.pagination import InvalidCursor, decode_cursor, encode_cursor
from api.schemas.requests import (
    ExtensionSchema,
    ReasonSchema,
    RequestCreateSchema,
    RequestPageSchema,
    RequestSchema,
    RequestsQuery,
    VerificationSchema,
)
from audit.events import AuditEvent
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.jobs.service import JobKind, Jobs
from governance.requests import failures
from governance.requests.deadlines import extension_explanation
from governance.requests.models import DsrRequest
from governance.requests.services import (
    QueueFilter,
    RequestService,
    statuses_named,
)

blp = Blueprint(
    "requests",
    __name__,
    url_prefix="/v1/requests",
    description="Data-subject requests (GDPR, CCPA)",
)


def _service() -> RequestService:
    return RequestService(db(), runtime(), actor(), request_id=g.request_id)


_QUEUE = "requests"


_NO_JOB = object()


def view(
    request: DsrRequest,
    *,
    steps: bool = False,
    export_available: bool | None = None,
    job: Any = _NO_JOB,
) -> dict[str, Any]:
    """The request as the API shows it. ``export_available`` and ``job`` may be given by a
    caller that looked them up for a whole page in one query."""
    body: dict[str, Any] = {
        c: getattr(request, c)
        for c in (
            "id",
            "type",
            "regulation",
            "status",
            "subject_id",
            "subject_found",
            "extended",
            "extension_reason",
            "verification_method",
            "rejection_reason",
            "details",
            "result",
            "error",
            "hold_id",
            "created_by",
            "received_at",
            "due_at",
            "verified_at",
            "started_at",
            "finished_at",
            "created_at",
        )
    }
    body["overdue"] = request.is_overdue(datetime.now(UTC))
    body["extension_explanation"] = extension_explanation(request.extension_reason)
    body["error_explanation"] = failures.explanation(request.error)
    if job is _NO_JOB:
        job = Jobs(db()).latest_for(JobKind.REQUEST_EXECUTE, request.id)
    body["job"] = (
        None
        if job is None
        else {
            "id": job.id,
            "state": job.state,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "not_before": job.not_before,
            "error_code": job.error_code,
            "waiting_on": job.waiting_on,
        }
    )
    if request.subject_note is not None:
        body["subject_note"] = request.subject_note
    if request.type in ("access", "portability"):
        body["export_available"] = (
            export_available
            if export_available is not None
            else _service().exports_available([request.id]) != set()
        )
    if steps:
        body["steps"] = [
            {
                "position": s.position,
                "name": s.name,
                "state": s.state,
                "attempts": s.attempts,
                "finished_at": s.finished_at,
                "result": s.result,
            }
            for s in _service().steps(request.id)
        ]
    return body


@blp.route("")
class Requests(MethodView):
    @answers(
        409,
        "an open request of this type for this subject exists (`existing_request_id`); "
        "or the e-mail is held by several subjects (`ambiguous-subject`, with their "
        "`subject_ids`: take the request in by `subject_id`)",
    )
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_CREATED)
    @blp.arguments(RequestCreateSchema)
    @blp.response(201, RequestSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a request. The subject is found by email (blind index) or id; an unknown
        subject is accepted and completes with "no data held". A second open request of the
        same type for the same subject is refused (409, `existing_request_id`)."""
        created = _service().create(
            body["type"],
            body["regulation"],
            body["subject"],
            body.get("details"),
            body.get("received_at"),
        )
        audited_by_service()
        return view(created)

    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_LISTED)
    @blp.arguments(RequestsQuery, location="query")
    @blp.response(200, RequestPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The queue, by due time: open requests unless `status=` names others (`open`,
        `closed`, or statuses separated by commas); `overdue=true`, `due_within_days=7`."""
        after = decode_cursor(query["cursor"], list, scope=_QUEUE)
        if after is not None and (len(after) != 2 or not all(isinstance(a, str) for a in after)):
            raise InvalidCursor()
        try:
            items, cursor = _service().list(
                QueueFilter(
                    statuses=statuses_named(query["status"]),
                    overdue=query["overdue"],
                    due_within_days=query["due_within_days"],
                ),
                after=tuple(after) if after else None,
                limit=query["limit"],
            )
        except ValueError:
            raise InvalidCursor() from None
        record(
            AuditEvent(
                action=str(AuditAction.REQUEST_LISTED),
                actor=actor(),
                policy_version=runtime().policy.version,
                details={"count": len(items)},
            )
        )
        exported = _service().exports_available([r.id for r in items])
        jobs = Jobs(db()).latest_for_each(JobKind.REQUEST_EXECUTE, [r.id for r in items])
        return {
            "items": [
                view(r, export_available=r.id in exported, job=jobs.get(r.id)) for r in items
            ],
            "next_cursor": encode_cursor(list(cursor), scope=_QUEUE) if cursor else None,
        }


@blp.route("/<request_id>")
class RequestItem(MethodView):
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_READ)
    @blp.response(200, RequestSchema)
    def get(self, request_id: str) -> dict[str, Any]:
        """The request with its recorded steps."""
        return view(_service().get(request_id), steps=True)


@blp.route("/<request_id>/verify")
class Verify(MethodView):
    @answers(409, "this request's status does not allow the step (`type` says why)")
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_VERIFIED)
    @blp.arguments(VerificationSchema)
    @blp.response(200, RequestSchema)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Record that the subject's identity was verified, and how."""
        done = _service().verify(request_id, body["method"])
        audited_by_service()
        return view(done)


@blp.route("/<request_id>/reject")
class Reject(MethodView):
    @answers(409, "this request's status does not allow the step (`type` says why)")
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_REJECTED)
    @blp.arguments(ReasonSchema)
    @blp.response(200, RequestSchema)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Reject a received, verified or failed request, with the reason given to the
        subject (a failed request that cannot succeed as it stands is closed this way)."""
        done = _service().reject(request_id, body["reason"])
        audited_by_service()
        return view(done)


@blp.route("/<request_id>/extend")
class Extend(MethodView):
    @answers(
        409,
        "the request was extended already, cannot be, or its original due date "
        "has passed (`extension-too-late`)",
    )
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_EXTENDED)
    @blp.arguments(ExtensionSchema)
    @blp.response(200, RequestSchema)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Extend the deadline once, with a reason code, before the original due date:
        GDPR by two months, CCPA by 45 days (a CCPA opt-out cannot be extended). 409
        `extension-too-late` once the original due date has passed."""
        done = _service().extend(request_id, body["reason"])
        audited_by_service()
        return view(done)


@blp.route("/<request_id>/execute")
class Execute(MethodView):
    @answers(
        409,
        "this request's status does not allow the step (`type` says why); or the "
        "e-mail it was taken in by is held by several subjects (`ambiguous-subject`, "
        "with their `subject_ids`)",
    )
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_STARTED)
    @blp.response(202, RequestSchema)
    def post(self, request_id: str) -> dict[str, Any]:
        """Execute (or resume) the request: 409 unless verified (a CCPA opt-out needs no
        verification). Answers at once; the steps run in the background."""
        # the steps run once the plan is committed
        started = delivered(_service().start_execution(request_id, trace_id=g.request_id))
        return view(started, steps=True)


@blp.route("/<request_id>/export")
class Export(MethodView):
    @answers(409, "the request has not completed, or has no export")
    @answers(
        410,
        "the export was deleted: its retention period ended, or the subject was "
        "erased (`erasure_request_id`)",
    )
    @requires(Permission.REQUESTS_MANAGE, AuditAction.REQUEST_EXPORT_DOWNLOADED)
    @blp.response(200, content_type="application/zip", description="the export ZIP")
    @blp.doc(
        responses={
            "200": {
                "description": "the export ZIP",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    def get(self, request_id: str) -> Response:
        """The access or portability export: a ZIP with `index.html` (a cover page a person
        can open), `data.json` (every record, decrypted, and each item GDPR Art. 15(1)
        lists: purposes, categories, recipients, storage, rights, complaint, sources,
        profiling; the consent history) and one CSV per collection. 409 until the request
        completed; 410 after the export's retention period (30 days) or an erasure."""
        content = _service().export(request_id)
        audited_by_service()
        return Response(
            content,
            mimetype="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="request-{request_id}.zip"',
                "Cache-Control": "no-store",
            },
        )
