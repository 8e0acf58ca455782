"""Legal holds for compliance officers: place, list, read and release.

A handler parses, calls :class:`governance.retention.holds.HoldService` (which writes the
event, the hold's state and the audit event in the request's transaction) and serialises.
Releasing a hold is ``governance.requests.holds.release_hold``: the erasure requests that
waited on it go back to ``in_progress`` in this request's transaction and run on the task
runner after the commit.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, audited_by_service, db, delivered, record, runtime
from api.openapi import answers
from api.schemas.retention import (
    HoldCreateSchema,
    HoldListSchema,
    HoldReleaseSchema,
    HoldSchema,
    HoldsQuery,
)
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.requests.holds import release_hold, waiting_requests
from governance.retention.holds import HoldService, hold_view
from governance.retention.models import LegalHold

blp = Blueprint(
    "holds",
    __name__,
    url_prefix="/v1/holds",
    description="Legal holds: suspend retention and erasure for a matter",
)


def _service() -> HoldService:
    return HoldService(db(), runtime(), actor(), request_id=g.request_id)


def _view(hold: LegalHold, **extra: Any) -> dict[str, Any]:
    body = hold_view(hold)
    body["waiting_requests"] = [r.id for r in waiting_requests(db(), hold.id)]
    body.update(extra)
    return body


@blp.route("")
class Holds(MethodView):
    @requires(Permission.HOLDS_MANAGE, AuditAction.HOLD_PLACED)
    @blp.arguments(HoldCreateSchema)
    @blp.response(201, HoldSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Place a legal hold on a data subject or a collection. The retention sweep skips
        what it covers, and an erasure of a covered subject waits `on_hold`, until the hold
        is released or expires."""
        hold = _service().place(
            body["scope"],
            body["reason"],
            body["matter"],
            subject_id=body["subject_id"],
            collection=body["collection"],
            expires_at=body["expires_at"],
        )
        audited_by_service()
        return _view(hold)

    @requires(Permission.HOLDS_MANAGE, AuditAction.HOLD_LISTED)
    @blp.arguments(HoldsQuery, location="query")
    @blp.response(200, HoldListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Holds, the latest placed first: `active=true` for those in force,
        `subject_id=` or `collection=` for one scope."""
        items = _service().find(
            active=query["active"],
            subject_id=query["subject_id"],
            collection=query["collection"],
            limit=query["limit"],
        )
        record(
            AuditEvent(
                action=str(AuditAction.HOLD_LISTED),
                actor=actor(),
                policy_version=runtime().policy.version,
                details={"count": len(items)},
            )
        )
        return {"items": [_view(h) for h in items]}


@blp.route("/<hold_id>")
class HoldItem(MethodView):
    @requires(Permission.HOLDS_MANAGE, AuditAction.HOLD_READ)
    @blp.response(200, HoldSchema)
    def get(self, hold_id: str) -> dict[str, Any]:
        """The hold, and the erasure requests waiting on it."""
        hold = _service().get(hold_id)
        record(
            AuditEvent(
                action=str(AuditAction.HOLD_READ),
                actor=actor(),
                policy_version=runtime().policy.version,
                target=Target(
                    record_id=hold.id, subject_id=hold.subject_id, collection=hold.collection
                ),
            )
        )
        return _view(hold)


@blp.route("/<hold_id>/release")
class Release(MethodView):
    @answers(409, "the hold was released already (`hold-released`)")
    @requires(Permission.HOLDS_MANAGE, AuditAction.HOLD_RELEASED)
    @blp.arguments(HoldReleaseSchema)
    @blp.response(200, HoldSchema)
    def post(self, body: dict[str, Any], hold_id: str) -> dict[str, Any]:
        """Release the hold with a reason code. Erasure requests that waited on it resume
        (`resumed_requests`) and run in the background; one still covered by another hold
        stops on that one."""
        hold, resumed = delivered(
            release_hold(db(), runtime(), actor(), hold_id, body["reason"], request_id=g.request_id)
        )
        return _view(hold, resumed_requests=resumed)
