"""The record of processing activities (GDPR Art. 30): ``GET /v1/ropa`` as JSON, CSV or
XLSX, generated on each request from the policy files and the store's retention state."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import requires
from api.context import actor, db, record, runtime
from api.openapi import answers
from audit.events import AuditEvent
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.ropa.formats import XLSX_MEDIA_TYPE, to_csv, to_xlsx
from governance.ropa.record import build_record

blp = Blueprint(
    "ropa",
    __name__,
    url_prefix="/v1/ropa",
    description="The record of processing activities (GDPR Art. 30, CCPA)",
)


class RopaQuery(Schema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "csv", "xlsx"]),
        metadata={
            "description": "json (default), csv (the Art. 30 table) "
            "or xlsx (the table, the CCPA view and "
            "the organisation, one sheet each)"
        },
    )


class RopaSchema(Schema):
    generated_at = fields.String(metadata={"format": "date-time"})
    policy_version = fields.String()
    fictional = fields.Boolean(
        metadata={"description": "the organisation file says it is fictional (the demo)"}
    )
    organisation = fields.Dict()
    security_measures = fields.List(fields.String())
    processing = fields.List(
        fields.Dict(),
        metadata={
            "description": "one row per purpose: every point of Art. 30(1)(a)-(g), lawful basis, "
            "legitimate interest, and whether retention is met"
        },
    )
    ccpa = fields.List(
        fields.Dict(),
        metadata={"description": "per category: collected, purposes, sold or shared, retention"},
    )


def read_record(form: str) -> dict[str, Any]:
    """The record, built now and audited (its row count and format) with the caller as the
    actor. The API and the console both read it here."""
    rt = runtime()
    document = build_record(db(), rt)
    record(
        AuditEvent(
            action=str(AuditAction.ROPA_READ),
            actor=actor(),
            policy_version=rt.policy.version,
            details={"count": len(document["processing"]), "type": form},
        )
    )
    return document


def download(document: dict[str, Any], form: str) -> Response:
    """The Art. 30 table as a CSV or XLSX attachment."""
    if form == "csv":
        return Response(
            to_csv(document),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="ropa.csv"'},
        )
    return Response(
        to_xlsx(document),
        mimetype=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="ropa.xlsx"'},
    )


@blp.route("")
class Ropa(MethodView):
    @answers(409, "the policy set has no organisation file (`ropa-unavailable`)")
    @requires(Permission.ROPA_READ, AuditAction.ROPA_READ)
    @blp.arguments(RopaQuery, location="query")
    @blp.response(200, RopaSchema)
    @blp.doc(
        responses={
            "200": {
                "description": "the record (JSON), or the Art. 30 table (CSV, XLSX)",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Ropa"}},
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    )
    def get(self, query: dict[str, Any]) -> Any:
        """The record of processing, per purpose, from the policy files: controller,
        purposes, categories of subjects and data, recipients, transfers, time limits,
        security measures, lawful basis, and whether retention is met now."""
        document = read_record(query["format"])
        if query["format"] in ("csv", "xlsx"):
            return download(document, query["format"])
        return document
