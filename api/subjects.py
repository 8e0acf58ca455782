"""The compliance officer's subject lookup: find a person by e-mail or id without an
application key, and see where their records are, their consent and their requests."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import read_only, requires
from api.context import actor, db, record, runtime
from api.requests import view as request_view
from api.schemas.subjects import SubjectLookupQuery, SubjectLookupSchema
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.consent.services import ConsentService
from governance.subjects.services import SubjectDirectory

blp = Blueprint("subjects", __name__, url_prefix="/v1",
                description="Data subjects, for compliance officers")


@blp.route("/subjects")
class Subjects(MethodView):
    @requires(Permission.REQUESTS_MANAGE, AuditAction.SUBJECT_LOOKED_UP)
    @read_only
    @blp.arguments(SubjectLookupQuery, location="query")
    @blp.response(200, SubjectLookupSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Find a subject by `email=` (blind index) or `id=`: the collections holding their
        records, their consent per purpose, and their open and past requests. An e-mail
        no subject has answers an empty list, not an error."""
        consent = ConsentService(db(), runtime(), actor(), request_id=g.request_id)
        found = SubjectDirectory(db(), runtime(), consent).find(
            email=query["email"], subject_id=query["id"])
        record(AuditEvent(action=str(AuditAction.SUBJECT_LOOKED_UP), actor=actor(),
                          target=Target(subject_id=found.subject_id if found else None),
                          policy_version=runtime().policy.version,
                          details={"method": "email" if query["email"] else "id",
                                   "subject_found": found is not None}))
        if found is None:
            return {"items": [], "next_cursor": None}
        return {"items": [{
            "subject_id": found.subject_id, "records": found.records,
            "consent": found.consent, "restricted": found.restricted,
            "open_requests": [request_view(r) for r in found.open_requests],
            "past_requests": [request_view(r) for r in found.past_requests],
        }], "next_cursor": None}
