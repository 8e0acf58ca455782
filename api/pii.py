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
from api.context import actor, db, deliver_after_commit, record, runtime
from api.inflight import expensive
from api.schemas.pii import (
    AnalyzeRequestSchema,
    AnalyzeResponseSchema,
    ScanCreatedSchema,
    ScanReportSchema,
    ScanRequestSchema,
)
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.jobs.service import JobKind, Jobs
from governance.pii.models import PiiScan

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
        record(AuditEvent(
            action=str(AuditAction.PII_ANALYZED), actor=actor(),
            policy_version=runtime().policy.version,
            details={"count": len(entities), "entity_types": sorted({e.type for e in entities})},
        ))
        return {"entities": [e.as_json() for e in entities]}


@blp.route("/scans")
class Scans(MethodView):
    @requires(Permission.PII_ANALYZE, AuditAction.PII_SCAN_REQUESTED)
    @blp.arguments(ScanRequestSchema)
    @blp.response(202, ScanCreatedSchema, description="a new scan, queued")
    @blp.alt_response(200, schema=ScanCreatedSchema,
                      description="a scan was already queued or running: that scan, unchanged "
                                  "(its own sample size; no second scan is started)")
    def post(self, body: dict[str, Any]) -> Any:
        """Queue a scan of every field of every collection; poll the scan for results.

        One scan runs at a time: while one is queued or running, the answer is 200 with
        that scan, and nothing new is queued.
        """
        scan, created = request_scan(body["sample"])
        progress = {"fields_done": scan.fields_done, "fields_total": scan.fields_total}
        return {"id": scan.id, "state": scan.state, "progress": progress}, (
            202 if created else 200)


def request_scan(sample: int | None) -> tuple[PiiScan, bool]:
    """The scan to follow, and whether it is new: one queued or running is returned as it
    is (one scan at a time); else a new one is queued with its job, delivered after this
    request's commit. Audited with the caller as the actor. The API and the console both
    start scans here."""
    rt = runtime()
    scan, created = rt.pii_scans().request(db(), sample=sample or rt.settings.pii_scan_sample,
                                           requested_by=actor().id)
    record(AuditEvent(
        action=str(AuditAction.PII_SCAN_REQUESTED), actor=actor(),
        target=Target(record_id=scan.id), policy_version=rt.policy.version,
        details={"count": scan.fields_total, "status": "queued" if created else scan.state},
    ))
    if created:
        # One job per scan (a second delivery runs nothing); it starts after the commit.
        job, _ = Jobs(db()).enqueue(JobKind.PII_SCAN, scan.id, actor=actor(),
                                    exclusive=f"pii.scan:{scan.id}", trace_id=g.request_id)
        deliver_after_commit(job.id)
    return scan, created


@blp.route("/scans/<scan_id>")
class ScanReport(MethodView):
    @requires(Permission.PII_ANALYZE, AuditAction.PII_SCAN_READ)
    @blp.response(200, ScanReportSchema)
    def get(self, scan_id: str) -> dict[str, Any]:
        """The scan's state, progress, per-field entity types and findings."""
        report = runtime().pii_scans().report(db(), scan_id)
        return report
