"""Consent, objection and restriction of one data subject: /v1/subjects/{subject_id}/...

A handler parses, calls :class:`governance.consent.services.ConsentService` (which validates,
judges an application's authority, writes the event, its state and its audit event in the
request's transaction) and serialises. ``Sec-GPC: 1`` on a consent write adds the CCPA
opt-outs. The source of an event comes from the caller's key
(:func:`governance.consent.authority.source_for`), never from the body.
"""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, audited_by_service, client, db, record, runtime
from api.openapi import answers
from api.schemas.consent import (
    ConsentWriteSchema,
    ObjectionWriteSchema,
    RecordedEventSchema,
    RestrictionWriteSchema,
    SubjectConsentSchema,
)
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission, Role
from governance.consent.authority import source_for
from governance.consent.models import ConsentEvent
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from policies.consent import may_process

blp = Blueprint(
    "consent",
    __name__,
    url_prefix="/v1",
    description="Consent, objection and restriction per data subject",
)

GPC_HEADER = {
    "in": "header",
    "name": "Sec-GPC",
    "required": False,
    "schema": {"type": "string", "enum": ["1"]},
    "description": "Global Privacy Control: `1` also records an opt-out (withdrawal, source "
    "gpc) of every purpose that sells or shares personal data, except one this "
    "request explicitly grants (CCPA regulations section 7025).",
}


def _service() -> ConsentService:
    caller = client()
    held = caller.purposes if caller.role == str(Role.APPLICATION) else None
    return ConsentService(db(), runtime(), actor(), request_id=g.request_id, held_purposes=held)


def _source(body: dict[str, Any]) -> ConsentSource:
    """The source this caller's events carry; a body's ``source`` may only repeat it."""
    return source_for(client().role, body.get("source"))


def _event(event: ConsentEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "subject_id": event.subject_id,
        "purpose": event.purpose,
        "action": event.action,
        "source": event.source,
        "policy_version": event.policy_version,
        "evidence": event.evidence,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor_id": event.actor_id,
    }


def _gpc() -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


@blp.route("/subjects/<subject_id>/consents")
class SubjectConsents(MethodView):
    @requires(Permission.CONSENT_READ, AuditAction.CONSENT_READ)
    @blp.response(200, SubjectConsentSchema)
    def get(self, subject_id: str) -> dict[str, Any]:
        """The subject's current state per purpose (latest event wins; a purpose based on
        consent without a grant is `none`) and whether each purpose may process the subject
        now and why. Compliance officers also get whether processing is restricted and the
        full history, oldest first; an application gets the current state of the purposes
        it holds and nothing else (no history, evidence or actors)."""
        service = _service()
        service.require_subject(subject_id)
        state = service.state(subject_id)
        caller = client()
        officer = caller.role != str(Role.APPLICATION)
        current = {}
        for purpose in runtime().policy.purposes:
            if not officer and purpose.id not in caller.purposes:
                continue
            mine = state.of(purpose.id)
            decision = may_process(purpose, state)
            current[purpose.id] = {
                "status": str(mine.status),
                "at": mine.at,
                "processable": decision.allowed,
                "reason": decision.reason,
            }
            if officer:
                current[purpose.id]["source"] = mine.source
        history = service.history(subject_id) if officer else []
        record(
            AuditEvent(
                action=str(AuditAction.CONSENT_READ),
                actor=actor(),
                target=Target(subject_id=subject_id),
                policy_version=runtime().policy.version,
                details={"count": len(history) if officer else len(current)},
            )
        )
        if not officer:
            return {"subject_id": subject_id, "current": current}
        return {
            "subject_id": subject_id,
            "current": current,
            "restricted": state.restricted,
            "restriction": (
                {"at": state.restricted_at, "source": state.restricted_source}
                if state.restricted
                else None
            ),
            "history": [_event(e) for e in history],
        }

    @requires(Permission.CONSENT_WRITE, AuditAction.CONSENT_RECORDED)
    @blp.arguments(ConsentWriteSchema)
    @blp.response(201, RecordedEventSchema)
    @blp.doc(parameters=[GPC_HEADER])
    def post(self, body: dict[str, Any], subject_id: str) -> dict[str, Any]:
        """Record a grant or withdrawal of consent to one purpose. Only purposes whose legal
        basis is consent can be granted or withdrawn; use /objections for the others.

        The gateway sets the event's `source` from the caller's key: `api` for an
        application, `officer` for a compliance officer (`source` in the body is deprecated:
        leave it out; naming any other source is 422). An application records events only
        for the purposes it holds (403 otherwise) and cannot grant where the latest
        withdrawal or objection recorded by an officer, a data-subject request or a GPC
        signal still stands, whatever it recorded itself since: only an officer reverses
        those (403 `consent-change-forbidden`)."""
        source = _source(body)
        written = _service().record_consent(
            subject_id,
            body["purpose"],
            ConsentAction(body["action"]),
            source,
            body["policy_version"],
            body.get("evidence"),
            gpc=_gpc(),
        )
        audited_by_service()
        return {**_event(written.event), "gpc_opt_outs": [_event(e) for e in written.gpc_opt_outs]}


@blp.route("/subjects/<subject_id>/objections")
class SubjectObjections(MethodView):
    @answers(409, "`lift` with no standing objection to lift")
    @requires(Permission.CONSENT_WRITE, AuditAction.CONSENT_RECORDED)
    @blp.arguments(ObjectionWriteSchema)
    @blp.response(201, RecordedEventSchema)
    def post(self, body: dict[str, Any], subject_id: str) -> dict[str, Any]:
        """Record an objection (GDPR Art. 21) to a purpose based on legitimate interests or
        public task, or to direct marketing (absolute), or lift a standing objection
        (`lift`: 409 if there is none). Purposes for legal claims cannot be objected to.

        The source is the caller's (`api` or `officer`, as for consents). An application
        objects or lifts only for the purposes it holds, and cannot lift where the latest
        withdrawal or objection recorded by an officer, a data-subject request or a GPC
        signal still stands (403 `consent-change-forbidden`)."""
        source = _source(body)
        service = _service()
        args = (
            subject_id,
            body["purpose"],
            source,
            body.get("policy_version"),
            body.get("evidence"),
        )
        write = service.object if body["action"] == "object" else service.lift_objection
        event = write(*args)
        audited_by_service()
        return {**_event(event), "gpc_opt_outs": []}


@blp.route("/subjects/<subject_id>/restriction")
class SubjectRestriction(MethodView):
    @answers(409, "`lift` while processing is not restricted")
    @requires(Permission.REQUESTS_MANAGE, AuditAction.CONSENT_RECORDED)
    @blp.arguments(RestrictionWriteSchema)
    @blp.response(201, RecordedEventSchema)
    def post(self, body: dict[str, Any], subject_id: str) -> dict[str, Any]:
        """Restrict the subject's processing (GDPR Art. 18): no purpose but those exempt for
        storage or legal claims processes the subject until it is lifted (`lift`: 409 if it
        is not restricted). Compliance officers only; the event's source is `officer`, set by
        the gateway (`source` in the body is deprecated, as for consents)."""
        service = _service()
        args = (subject_id, _source(body), body.get("policy_version"), body.get("evidence"))
        write = service.restrict if body["action"] == "restrict" else service.lift_restriction
        event = write(*args)
        audited_by_service()
        return {**_event(event), "gpc_opt_outs": []}
