"""Legal holds (officers): the list, a form to place one, and a release with a reason code.

Placing is ``HoldService.place`` and releasing is ``governance.requests.holds.release_hold``, as
``POST /v1/holds`` and ``POST /v1/holds/{id}/release``: the hold's event and state and the
audit event in the request's transaction with the person as the actor, and on release the
erasures that waited on the hold resumed as ``request.execute`` jobs after the commit. A
hold carries codes and ids only (a reason from the closed list, a matter reference), so a
refused field is shown with the service's message, never an echo of personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from api.console.access import page
from api.console.forms import options, show_errors
from api.context import actor, audited_by_service, db, delivered, record, runtime
from audit.events import AuditEvent
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.errors import GovernanceError
from governance.requests.holds import release_hold
from governance.retention.errors import InvalidHold
from governance.retention.holds import (
    HoldReason,
    HoldScope,
    HoldService,
    ReleaseReason,
    hold_view,
)

MANAGE = Permission.HOLDS_MANAGE
SHOWN = 100


def _words(value: str) -> str:
    return value.replace("_", " ")


class PlaceForm(FlaskForm):
    scope = SelectField("Scope", choices=options([(s.value, s.value) for s in HoldScope]))
    subject_id = StringField("Subject id (scope subject)", validators=[Optional(), Length(max=32)])
    collection = StringField(
        "Collection (scope collection)", validators=[Optional(), Length(max=64)]
    )
    reason = SelectField(
        "Reason", choices=options([(r.value, _words(r.value)) for r in HoldReason])
    )
    matter = StringField(
        "Matter reference (a case or inquiry number, no spaces)", validators=[Length(max=100)]
    )
    expires_at = DateField("Lapses after (optional)", validators=[Optional()])


class ReleaseForm(FlaskForm):
    reason = SelectField(
        "Release reason", choices=options([(r.value, _words(r.value)) for r in ReleaseReason])
    )


def _service() -> HoldService:
    return HoldService(db(), runtime(), actor(), request_id=g.request_id)


def _page(
    form: PlaceForm | None = None,
    released: tuple[str, ReleaseForm] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    holds = [hold_view(h) for h in _service().find(limit=SHOWN)]
    record(
        AuditEvent(
            action=str(AuditAction.HOLD_LISTED),
            actor=actor(),
            policy_version=runtime().policy.version,
            details={"count": len(holds)},
        )
    )
    releases = {h["id"]: ReleaseForm(formdata=None, prefix=h["id"]) for h in holds}
    if released is not None:
        releases[released[0]] = released[1]
    return render_template(
        "console/holds.html",
        holds=holds,
        form=form or PlaceForm(formdata=None),
        releases=releases,
        problem=problem,
    ), status


def listing() -> tuple[str, int]:
    return _page()


def _optional(value: str | None) -> str | None:
    return value.strip() or None if value else None


def place() -> ResponseReturnValue:
    form = PlaceForm()
    if not form.validate():
        return _page(form, status=422)
    expires = form.expires_at.data
    try:
        _service().place(
            form.scope.data,
            form.reason.data,
            (form.matter.data or "").strip(),
            subject_id=_optional(form.subject_id.data),
            collection=_optional(form.collection.data),
            # The hold lapses at the end of the chosen day (UTC).
            expires_at=(
                datetime.combine(expires, time.min, UTC) + timedelta(days=1) if expires else None
            ),
        )
    except InvalidHold as invalid:
        show_errors(form, invalid.extra.get("errors", {}))
        return _page(form, status=422)
    audited_by_service()
    return redirect(url_for("console.holds"), code=303)


def release(hold_id: str) -> ResponseReturnValue:
    form = ReleaseForm(prefix=hold_id)
    if not form.validate():
        return _page(released=(hold_id, form), status=422)
    try:
        delivered(
            release_hold(
                db(), runtime(), actor(), hold_id, form.reason.data, request_id=g.request_id
            )
        )
    except GovernanceError as refused:
        if refused.status == 404 or refused.status >= 500:
            raise
        return _page(released=(hold_id, form), problem=refused.detail, status=refused.status)
    return redirect(url_for("console.holds"), code=303)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/holds", "holds", page(MANAGE, AuditAction.HOLD_LISTED)(listing))
    blp.add_url_rule(
        "/holds", "hold_place", page(MANAGE, AuditAction.HOLD_PLACED)(place), methods=["POST"]
    )
    blp.add_url_rule(
        "/holds/<hold_id>/release",
        "hold_release",
        page(MANAGE, AuditAction.HOLD_RELEASED)(release),
        methods=["POST"],
    )
