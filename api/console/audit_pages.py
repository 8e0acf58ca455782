"""The auditor's pages: events with filters, each with its decoded content and leaf bytes;
the latest signed checkpoint and its key's fingerprint; ``audit verify`` run from the page;
and the JSON the in-browser verifier (``static/verify.js``) fetches: the checkpoint, an
inclusion proof and a consistency proof, the same answers as ``/v1/audit/...``.

The server's own verification is one opinion; the browser's is the auditor's: the script
checks the signature against a key the auditor pinned and the proofs against the signed
root, so a server that lies about either is caught without trusting its code.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from api.audit import _integrate, checkpoint_body
from api.console.access import page
from api.console.forms import ActionForm, options
from api.context import db, runtime
from api.pagination import InvalidCursor, decode_cursor, encode_cursor
from audit.events import Outcome
from audit.log import ProofRangeError
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.errors import BadRequest

READ = Permission.AUDIT_READ
PAGE_SIZE = 50
SCAN_BATCH = 500
SCAN_LIMIT = 20_000  # events examined per page when filtering by purpose or outcome
_SCOPE = "console/audit"


class EventFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = StringField(
        "Action (e.g. data.read or request.*)",
        validators=[
            Optional(),
            Regexp(r"^[a-z][a-z_.]*(\.\*)?$", message="a dotted action, or family.*"),
        ],
    )
    actor = StringField(
        "Actor (client id, user:<id>, system)", validators=[Optional(), Length(max=128)]
    )
    subject_id = StringField("Subject id", validators=[Optional(), Length(max=128)])
    purpose = StringField("Purpose", validators=[Optional(), Length(max=64)])
    outcome = SelectField(
        "Outcome",
        choices=options([("", "any"), *((o.value, o.value) for o in Outcome)]),
        default="",
    )
    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("Until (UTC, inclusive)", validators=[Optional()])


def _fingerprint(public_key: bytes) -> str:
    digest = hashlib.sha256(public_key).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def _page_of_events(form: EventFilterForm, after: int | None) -> tuple[list[Any], int | None]:
    """One page of matching events and the index to continue after (None at the end)."""
    column_filters: dict[str, Any] = {
        "actor": (form.actor.data or "").strip() or None,
        "action": (form.action.data or "").strip() or None,
        "subject_id": (form.subject_id.data or "").strip() or None,
        "since": datetime.combine(form.since.data, time(0), UTC) if form.since.data else None,
        "until": (
            datetime.combine(form.until.data, time(0), UTC) + timedelta(days=1)
            if form.until.data
            else None
        ),
    }
    purpose = (form.purpose.data or "").strip() or None
    outcome = form.outcome.data or None
    found: list[Any] = []
    scanned = 0
    position = after
    while scanned < SCAN_LIMIT:
        batch = runtime().audit.events(
            db(), after_index=position, limit=SCAN_BATCH, **column_filters
        )
        for event in batch:
            position = event.index
            scanned += 1
            doc = event.document
            if (purpose and doc.get("purpose") != purpose) or (
                outcome and doc.get("outcome") != outcome
            ):
                continue
            found.append(event)
            if len(found) == PAGE_SIZE:
                return found, position
        if len(batch) < SCAN_BATCH:
            return found, None  # the end of the log
    return found, position  # scanned enough for one page: the next page continues here


def events() -> tuple[str, int]:
    _integrate(checkpoint=True)
    form = EventFilterForm(request.args)
    valid = form.validate()
    after = None
    if request.args.get("after"):
        try:
            after = decode_cursor(request.args["after"], int, scope=_SCOPE)
        except InvalidCursor:
            after = None
    items, more = _page_of_events(form, after) if valid else ([], None)
    rt = runtime()
    cp = rt.audit.latest_checkpoint(db())
    checkpoint = checkpoint_body(cp) if cp is not None else None
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    from flask import url_for

    rows = [
        {
            "index": e.index,
            "leaf_b64": base64.b64encode(e.leaf).decode(),
            "leaf_text": e.leaf.decode("utf-8"),
            "doc": e.document,
        }
        for e in items
    ]
    return render_template(
        "console/audit.html",
        form=form,
        rows=rows,
        checkpoint=checkpoint,
        fingerprint=_fingerprint(rt.audit.signer.public_key_bytes),
        action=ActionForm(),
        next_url=(
            url_for("console.audit_events", **args, after=encode_cursor(more, scope=_SCOPE))
            if more is not None
            else None
        ),
        first_url=url_for("console.audit_events", **args) if after is not None else None,
        report=None,
    ), 200 if valid else 422


def verify() -> tuple[str, int]:
    _integrate(checkpoint=True)
    report = runtime().audit.verify(db())
    form = EventFilterForm(formdata=None)
    cp = runtime().audit.latest_checkpoint(db())
    return render_template(
        "console/audit.html",
        form=form,
        rows=[],
        checkpoint=checkpoint_body(cp) if cp else None,
        fingerprint=_fingerprint(runtime().audit.signer.public_key_bytes),
        action=ActionForm(),
        next_url=None,
        first_url=None,
        report={
            "ok": report.ok,
            "tree_size": report.tree_size,
            "root_hash": report.root_hash.hex(),
            "problems": report.problems,
            "checkpoints_checked": report.checkpoints_checked,
            "pending": report.pending,
        },
    ), 200


# -- what the in-browser verifier fetches ----------------------------------------------------
def checkpoint_json() -> Response:
    _integrate(checkpoint=True)
    cp = runtime().audit.latest_checkpoint(db())
    assert cp is not None
    return jsonify(checkpoint_body(cp))


def _int_arg(name: str) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 19:
        raise BadRequest(f"{name} must be a whole number")
    return int(raw)


def inclusion_json() -> Response:
    _integrate()
    index, size = _int_arg("index"), _int_arg("tree_size")
    try:
        leaf, path = runtime().audit.inclusion_proof(db(), index, size)
    except ProofRangeError as error:
        raise BadRequest(str(error)) from None
    return jsonify(
        {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": leaf.hex(),
            "audit_path": [h.hex() for h in path],
        }
    )


def consistency_json() -> Response:
    _integrate()
    first, second = _int_arg("first"), _int_arg("second")
    try:
        proof = runtime().audit.consistency_proof(db(), first, second)
    except ProofRangeError as error:
        raise BadRequest(str(error)) from None
    return jsonify({"first": first, "second": second, "proof": [h.hex() for h in proof]})


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/audit", "audit_events", page(READ, AuditAction.AUDIT_EVENTS_READ)(events))
    blp.add_url_rule(
        "/audit/verify",
        "audit_verify",
        page(READ, AuditAction.AUDIT_VERIFIED)(verify),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/audit/checkpoint.json",
        "audit_checkpoint",
        page(READ, AuditAction.AUDIT_CHECKPOINT_READ)(checkpoint_json),
    )
    blp.add_url_rule(
        "/audit/inclusion.json",
        "audit_inclusion",
        page(READ, AuditAction.AUDIT_PROOF_READ)(inclusion_json),
    )
    blp.add_url_rule(
        "/audit/consistency.json",
        "audit_consistency",
        page(READ, AuditAction.AUDIT_PROOF_READ)(consistency_json),
    )
