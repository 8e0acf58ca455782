"""PII detection for compliance officers: analyse text, scan the store against the data map.

``POST /v1/pii/analyze`` answers entity types, spans and scores (never the matched text);
bodies over ``GOVERNANCE_PII_MAX_TEXT_CHARS`` characters get 413, an empty or non-string
text 400. ``POST /v1/pii/scans`` queues a store scan (202), run by the runtime's task runner
after this request's commit; while one is queued or running it answers 200 with that one
instead (one scan at a time). ``GET /v1/pii/scans/{id}`` reports progress and results.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, db, delivered, record, runtime
from api.inflight import expensive
from api.schemas.pii import (
    AnalyzeRequestSchema,
    AnalyzeResponseSchema,
    ScanCreatedSchema,
    ScanReportSchema,
    ScanRequestSchema,
)
from audit.events import AuditEvent
from governance.audit_actions import AuditAction
from governance.authz import Permission

blp = Blueprint("pii", __name__, url_prefix="/v1/pii", description="PII detection")


@blp.route("/analyze")
class Analyze(MethodView):
    @expensive
    @requires(Permission.PII_ANALYZE, AuditAction.PII_ANALYZED)
    @blp.arguments(AnalyzeRequestSchema)
    @blp.response(200, AnalyzeResponseSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Entity types, spans and scores found in the text."""
        entities = runtime().pii_analysis().analyze(body["text"], body["entities"])
        record(
            AuditEvent(
                action=str(AuditAction.PII_ANALYZED),
                actor=actor(),
                policy_version=runtime().policy.version,
                details={
                    "count": len(entities),
                    "entity_types": sorted({e.type for e in entities}),
                },
            )
        )
        return {"entities": [e.as_json() for e in entities]}


@blp.route("/scans")
class Scans(MethodView):
    @requires(Permission.PII_ANALYZE, AuditAction.PII_SCAN_REQUESTED)
    @blp.arguments(ScanRequestSchema)
    @blp.response(202, ScanCreatedSchema, description="a new scan, queued")
    @blp.alt_response(
        200,
        schema=ScanCreatedSchema,
        description="a scan was already queued or running: that scan, unchanged "
        "(its own sample size; no second scan is started)",
    )
    def post(self, body: dict[str, Any]) -> Any:
        """Queue a scan of every field of every collection; poll the scan for results.

        One scan runs at a time: while one is queued or running, the answer is 200 with
        that scan, and nothing new is queued.
        """
        rt = runtime()
        scan, created = delivered(
            rt.pii_scans().start(
                db(),
                actor(),
                sample=body["sample"] or rt.settings.pii_scan_sample,
                request_id=g.request_id,
            )
        )
        progress = {"fields_done": scan.fields_done, "fields_total": scan.fields_total}
        return {"id": scan.id, "state": scan.state, "progress": progress}, (202 if created else 200)


@blp.route("/scans/<scan_id>")
class ScanReport(MethodView):
    @requires(Permission.PII_ANALYZE, AuditAction.PII_SCAN_READ)
    @blp.response(200, ScanReportSchema)
    def get(self, scan_id: str) -> dict[str, Any]:
        """The scan's state, progress, per-field entity types and findings."""
        report = runtime().pii_scans().report(db(), scan_id)
        return report
