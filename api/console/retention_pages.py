"""Retention (officers and admins): what is due now, the recent sweeps, and a form to start
one.

The plan is ``RetentionSweep.read_plan`` and a start is ``RetentionSweep.start``, as the
API's (``GET /v1/retention/plan``, ``POST /v1/retention/runs``): counts per rule and
never a record id, a run recorded with its ``retention.sweep`` job delivered after the
commit, audited with the person as the actor. An unfinished run is resumed, not doubled.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import NumberRange, Optional

from api.console.access import page
from api.context import actor, audited_by_service, db, delivered, runtime
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.errors import GovernanceError
from governance.retention.sweep import RetentionSweep

MANAGE = Permission.RETENTION_MANAGE
RECENT_RUNS = 20


class RunForm(FlaskForm):
    dry_run = BooleanField("Dry run: record the plan, change nothing")
    batch_size = IntegerField(
        "Records per committed batch",
        validators=[
            Optional(),
            NumberRange(min=1, max=10_000, message="a whole number from 1 to 10,000"),
        ],
    )


def _sweep() -> RetentionSweep:
    return RetentionSweep(runtime(), actor(), request_id=g.request_id)


def _page(
    form: RunForm | None = None, problem: str | None = None, status: int = 200
) -> tuple[str, int]:
    sweep = _sweep()
    plan = sweep.read_plan(db())
    audited_by_service()
    runs = sweep.recent(db(), RECENT_RUNS)
    return render_template(
        "console/retention.html",
        plan=plan,
        runs=runs,
        form=form or RunForm(formdata=None),
        problem=problem,
    ), status


def overview() -> tuple[str, int]:
    return _page()


def start() -> ResponseReturnValue:
    form = RunForm()
    if not form.validate():
        return _page(form, status=422)
    try:
        delivered(
            _sweep().start(db(), dry_run=bool(form.dry_run.data), batch_size=form.batch_size.data)
        )
    except GovernanceError as refused:
        if refused.status == 404 or refused.status >= 500:
            raise
        return _page(form, refused.detail, refused.status)
    return redirect(url_for("console.retention"), code=303)


def register(blp: Blueprint) -> None:
    blp.add_url_rule(
        "/retention", "retention", page(MANAGE, AuditAction.RETENTION_PLAN_READ)(overview)
    )
    blp.add_url_rule(
        "/retention/runs",
        "retention_run_start",
        page(MANAGE, AuditAction.RETENTION_RUN_REQUESTED)(start),
        methods=["POST"],
    )
