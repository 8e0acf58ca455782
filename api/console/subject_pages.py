"""The officer's subject pages: look a person up by e-mail (its blind index; the address is
posted, never put in a URL or shown again) or id, and see their consent per purpose with
its history, their restriction, their open and past requests, and who accessed their data
(the audit events about them), with the actions to record a withdrawal, an objection or a
restriction on their behalf (source ``officer``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as AnyResponse  # what redirect() returns
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from api.audit import _integrate
from api.console.access import page, users
from api.console.forms import ActionForm, options
from api.context import actor, record, runtime
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.consent.services import ConsentAction, ConsentService, ConsentSource
from governance.errors import GovernanceError
from governance.subjects.services import SubjectDirectory

MANAGE = Permission.REQUESTS_MANAGE
WRITE = Permission.CONSENT_WRITE
_EVENTS_SHOWN = 500
# What tells that someone used the subject's data, and how the page names it.
_ACCESS_KINDS = {
    "data.read": "read",
    "data.updated": "write",
    "data.created": "write",
    "request.export.downloaded": "export downloaded",
    "request.record.rectified": "write (rectification)",
}


class LookupForm(FlaskForm):
    email = StringField("E-mail", validators=[Optional(), Length(max=254)])
    subject_id = StringField("or subject id", validators=[Optional(), Length(max=32)])


class ConsentActionForm(FlaskForm):
    purpose = SelectField("Purpose")


def _consent() -> ConsentService:
    return ConsentService(g.session, runtime(), actor(), request_id=g.request_id)


def lookup() -> tuple[str, int] | AnyResponse:
    form = LookupForm()
    from flask import request

    if request.method == "GET":
        return render_template("console/subject_lookup.html", form=form), 200
    email = (form.email.data or "").strip()
    sid = (form.subject_id.data or "").strip()
    form.email.data = ""  # never echoed back
    if not form.validate() or bool(email) == bool(sid):
        form.email.errors = ["give an e-mail or an id (one of them)"]
        return render_template("console/subject_lookup.html", form=form), 422
    try:
        matches = SubjectDirectory(g.session, runtime(), _consent()).matches(
            email=email or None, subject_id=sid or None
        )
    except GovernanceError as invalid:
        form.email.errors = [invalid.detail]
        return render_template("console/subject_lookup.html", form=form), invalid.status
    details: dict[str, Any] = {"method": "email" if email else "id", "subject_found": bool(matches)}
    if len(matches) > 1:
        details.update(count=len(matches), subject_ids=[m.subject_id for m in matches])
    record(
        AuditEvent(
            action=str(AuditAction.SUBJECT_LOOKED_UP),
            actor=actor(),
            target=Target(subject_id=matches[0].subject_id if len(matches) == 1 else None),
            policy_version=runtime().policy.version,
            details=details,
        )
    )
    if not matches:
        return render_template("console/subject_lookup.html", form=form, not_found=True), 404
    if len(matches) > 1:  # an e-mail held twice (from before e-mails were unique): choose
        return render_template(
            "console/subject_lookup.html", form=form, several=[m.subject_id for m in matches]
        ), 200
    return redirect(url_for("console.subject_detail", subject_id=matches[0].subject_id), code=303)


def _accesses(subject_id: str) -> list[dict[str, Any]]:
    names = {u.actor_id: u.name for u in users().list()}
    events = runtime().audit.events(g.session, subject_id=subject_id, limit=_EVENTS_SHOWN)
    shown = []
    for e in reversed(events):  # newest first
        doc = e.document
        kind = _ACCESS_KINDS.get(doc["action"])
        if kind is None:
            continue
        who = doc["actor"]["id"]
        shown.append(
            {
                "time": doc["time"],
                "kind": kind,
                "outcome": doc["outcome"],
                "who": names.get(who, who),
                "role": doc["actor"]["role"],
                "purpose": doc.get("purpose"),
                "collection": doc.get("target", {}).get("collection"),
                "fields": doc.get("details", {}).get("fields", []),
            }
        )
    return shown


def _subject_page(
    subject_id: str, *, problem: str | None = None, status: int = 200
) -> tuple[str, int]:
    consent = _consent()
    found = SubjectDirectory(g.session, runtime(), consent).find(subject_id=subject_id)
    if found is None:
        return render_template(
            "console/subject_lookup.html", form=LookupForm(formdata=None), not_found=True
        ), 404
    purposes = runtime().policy.purposes
    withdraw = ConsentActionForm(formdata=None)
    withdraw.purpose.choices = options([(p.id, p.id) for p in purposes])
    objection = ConsentActionForm(formdata=None)
    objection.purpose.choices = options([(p.id, p.id) for p in purposes if p.objectable])
    return render_template(
        "console/subject.html",
        subject=found,
        history=consent.history(subject_id),
        accesses=_accesses(subject_id),
        withdraw=withdraw,
        objection=objection,
        action=ActionForm(),
        problem=problem,
        purposes={p.id: p for p in purposes},
    ), status


def detail(subject_id: str) -> tuple[str, int]:
    _integrate()
    record(
        AuditEvent(
            action=str(AuditAction.SUBJECT_LOOKED_UP),
            actor=actor(),
            target=Target(subject_id=subject_id) if len(subject_id) <= 32 else Target(),
            policy_version=runtime().policy.version,
            details={"method": "id"},
        )
    )
    return _subject_page(subject_id)


def _consent_act(subject_id: str, do: Any) -> AnyResponse | tuple[str, int]:
    try:
        do()
    except GovernanceError as refused:
        return _subject_page(subject_id, problem=refused.detail, status=refused.status)
    g.audited = True
    return redirect(url_for("console.subject_detail", subject_id=subject_id), code=303)


def withdraw(subject_id: str) -> AnyResponse | tuple[str, int]:
    from flask import request

    purpose = request.form.get("purpose", "")
    return _consent_act(
        subject_id,
        lambda: _consent().record_consent(
            subject_id,
            purpose,
            ConsentAction.WITHDRAW,
            ConsentSource.OFFICER,
            runtime().policy.version,
        ),
    )


def objection(subject_id: str) -> AnyResponse | tuple[str, int]:
    from flask import request

    purpose = request.form.get("purpose", "")
    return _consent_act(
        subject_id,
        lambda: _consent().object(
            subject_id, purpose, ConsentSource.OFFICER, runtime().policy.version
        ),
    )


def restriction(subject_id: str) -> AnyResponse | tuple[str, int]:
    return _consent_act(
        subject_id,
        lambda: _consent().restrict(subject_id, ConsentSource.OFFICER, runtime().policy.version),
    )


def register(blp: Blueprint) -> None:
    blp.add_url_rule(
        "/subjects",
        "subject_lookup",
        page(MANAGE, AuditAction.SUBJECT_LOOKED_UP)(lookup),
        methods=["GET", "POST"],
    )
    blp.add_url_rule(
        "/subjects/<subject_id>",
        "subject_detail",
        page(MANAGE, AuditAction.SUBJECT_LOOKED_UP)(detail),
    )
    blp.add_url_rule(
        "/subjects/<subject_id>/withdraw",
        "subject_withdraw",
        page(WRITE, AuditAction.CONSENT_WITHDRAWN)(withdraw),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/subjects/<subject_id>/objection",
        "subject_objection",
        page(WRITE, AuditAction.CONSENT_OBJECTED)(objection),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/subjects/<subject_id>/restriction",
        "subject_restriction",
        page(MANAGE, AuditAction.CONSENT_RESTRICTED)(restriction),
        methods=["POST"],
    )
