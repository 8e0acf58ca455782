"""PII store scans (officers and admins): start one, follow its progress, read where the
data and the data map disagree.

A scan is started through ``ScanService.start``, as the API starts one: one scan at a
time (a second start shows the one queued or running), its job delivered after the commit,
audited with the person as the actor. The report is ``ScanService.report``; it holds entity
types, counts and scores, never a value. A page of an unfinished scan refreshes itself
(a meta refresh: no script needed).
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import NumberRange, Optional

from api.console.access import page
from api.context import actor, db, delivered, runtime
from governance.audit_actions import AuditAction
from governance.authz import Permission

ANALYZE = Permission.PII_ANALYZE
REFRESH_SECONDS = 5


class ScanForm(FlaskForm):
    sample = IntegerField(
        "Records sampled per collection",
        validators=[
            Optional(),
            NumberRange(min=1, max=100_000, message="a whole number from 1 to 100,000"),
        ],
    )


def _listing(form: ScanForm | None = None, status: int = 200) -> tuple[str, int]:
    scans = runtime().pii_scans()
    return render_template(
        "console/scans.html",
        form=form or ScanForm(formdata=None),
        active=scans.active(db()),
        scans=scans.recent(db()),
        default_sample=runtime().settings.pii_scan_sample,
    ), status


def listing() -> tuple[str, int]:
    return _listing()


def start() -> ResponseReturnValue:
    form = ScanForm()
    if not form.validate():
        return _listing(form, 422)
    rt = runtime()
    scan, _ = delivered(
        rt.pii_scans().start(
            db(),
            actor(),
            sample=form.sample.data or rt.settings.pii_scan_sample,
            request_id=g.request_id,
        )
    )
    return redirect(url_for("console.pii_scan", scan_id=scan.id), code=303)


def report(scan_id: str) -> tuple[str, int]:
    found = runtime().pii_scans().report(db(), scan_id)
    unfinished = found["state"] in ("queued", "running")
    return render_template(
        "console/scan.html", scan=found, refresh=REFRESH_SECONDS if unfinished else None
    ), 200


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/pii/scans", "pii_scans", page(ANALYZE, AuditAction.PII_SCAN_READ)(listing))
    blp.add_url_rule(
        "/pii/scans",
        "pii_scan_start",
        page(ANALYZE, AuditAction.PII_SCAN_REQUESTED)(start),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/pii/scans/<scan_id>", "pii_scan", page(ANALYZE, AuditAction.PII_SCAN_READ)(report)
    )
