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

blp = Blueprint(
    "subjects", __name__, url_prefix="/v1", description="Data subjects, for compliance officers"
)


@blp.route("/subjects")
class Subjects(MethodView):
    @requires(Permission.REQUESTS_MANAGE, AuditAction.SUBJECT_LOOKED_UP)
    @read_only
    @blp.arguments(SubjectLookupQuery, location="query")
    @blp.response(200, SubjectLookupSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Find a subject by `email=` (blind index) or `id=`: the collections holding their
        records, their consent per purpose, and their open and past requests. An e-mail
        no subject has answers an empty list, not an error; one that several subjects hold
        (a store with duplicates from before e-mails were unique) lists every one of them."""
        consent = ConsentService(db(), runtime(), actor(), request_id=g.request_id)
        found = SubjectDirectory(db(), runtime(), consent).matches(
            email=query["email"], subject_id=query["id"]
        )
        details: dict[str, Any] = {
            "method": "email" if query["email"] else "id",
            "subject_found": bool(found),
        }
        if len(found) > 1:  # an e-mail held twice: every match is on record
            details.update(count=len(found), subject_ids=[s.subject_id for s in found])
        record(
            AuditEvent(
                action=str(AuditAction.SUBJECT_LOOKED_UP),
                actor=actor(),
                target=Target(subject_id=found[0].subject_id if len(found) == 1 else None),
                policy_version=runtime().policy.version,
                details=details,
            )
        )
        return {
            "items": [
                {
                    "subject_id": s.subject_id,
                    "records": s.records,
                    "consent": s.consent,
                    "restricted": s.restricted,
                    "open_requests": [request_view(r) for r in s.open_requests],
                    "past_requests": [request_view(r) for r in s.past_requests],
                    "matches_erased_subject": s.matches_erased_subject,
                }
                for s in found
            ],
            "next_cursor": None,
        }
