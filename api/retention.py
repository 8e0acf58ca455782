"""Retention sweeps for compliance officers (and operators): the plan, runs and their progress.

``POST /v1/retention/runs`` records the run and its plan and answers 202 at once; the sweep
runs on the runtime's task runner after this request commits, in batches that each commit
their progress, so ``GET /v1/retention/runs/{id}`` shows it moving. A run a restart
interrupted is resumed by the next ``POST`` (which returns it) or by
``governance retention run``.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, audited_by_service, db, delivered, record, runtime
from api.schemas.retention import PlanSchema, RunListSchema, RunRequestSchema, RunSchema, RunsQuery
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.retention.models import RetentionRun
from governance.retention.sweep import RetentionSweep
from governance.timestamps import as_utc

blp = Blueprint(
    "retention",
    __name__,
    url_prefix="/v1/retention",
    description="Retention: what is due, and the sweeps that remove it",
)


def _sweep() -> RetentionSweep:
    return RetentionSweep(runtime(), actor(), request_id=g.request_id)


def run_view(run: RetentionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "dry_run": run.dry_run,
        "batch_size": run.batch_size,
        "as_of": as_utc(run.as_of),
        "requested_by": run.requested_by,
        "policy_version": run.policy_version,
        "created_at": as_utc(run.created_at),
        "started_at": as_utc(run.started_at),
        "finished_at": as_utc(run.finished_at),
        "plan": run.plan,
        "progress": {
            name: {k: v for k, v in p.items() if k not in ("pending", "after")}
            for name, p in (run.progress or {}).items()
        },
        "totals": run.totals,
        "error": run.error,
    }


@blp.route("/plan")
class Plan(MethodView):
    @requires(Permission.RETENTION_MANAGE, AuditAction.RETENTION_PLAN_READ)
    @blp.response(200, PlanSchema)
    def get(self) -> dict[str, Any]:
        """What is due now, per collection and field override: how many records, the
        oldest due date, and how many are held (no values, no ids)."""
        plan = _sweep().read_plan(db())
        audited_by_service()
        return plan


@blp.route("/runs")
class Runs(MethodView):
    @requires(Permission.RETENTION_MANAGE, AuditAction.RETENTION_RUN_REQUESTED)
    @blp.arguments(RunRequestSchema)
    @blp.response(202, RunSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a sweep (or, `dry_run`, only record its plan). Answers at once; the batches
        run in the background. If an earlier run is unfinished, it is resumed and returned
        instead of a new one."""
        run = delivered(
            _sweep().start(db(), dry_run=body["dry_run"], batch_size=body["batch_size"])
        )
        return run_view(run)

    @requires(Permission.RETENTION_MANAGE, AuditAction.RETENTION_RUN_READ)
    @blp.arguments(RunsQuery, location="query")
    @blp.response(200, RunListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Recent runs, the latest first."""
        runs = _sweep().recent(db(), query["limit"])
        record(
            AuditEvent(
                action=str(AuditAction.RETENTION_RUN_READ),
                actor=actor(),
                policy_version=runtime().policy.version,
                details={"count": len(runs)},
            )
        )
        return {"items": [run_view(r) for r in runs]}


@blp.route("/runs/<run_id>")
class RunItem(MethodView):
    @requires(Permission.RETENTION_MANAGE, AuditAction.RETENTION_RUN_READ)
    @blp.response(200, RunSchema)
    def get(self, run_id: str) -> dict[str, Any]:
        """The run: its plan, its progress per rule, its totals once finished."""
        run = _sweep().get(db(), run_id)
        record(
            AuditEvent(
                action=str(AuditAction.RETENTION_RUN_READ),
                actor=actor(),
                policy_version=runtime().policy.version,
                target=Target(record_id=run.id),
            )
        )
        return run_view(run)
