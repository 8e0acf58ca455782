"""Liveness and readiness, unauthenticated, for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import public
from api.context import runtime
from api.schemas.common import ReadinessSchema, StatusSchema
from governance.errors import Unavailable
from governance.readiness import not_ready

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz")
class Healthz(MethodView):
    @public
    @blp.response(200, StatusSchema)
    def get(self) -> dict[str, str]:
        """The process is up (says nothing about the database)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @public
    @blp.response(200, ReadinessSchema)
    def get(self) -> dict[str, str]:
        """The service can take traffic: both its databases (CRM store and key store)
        commit a write (a full disk fails every request's audit event), its key files are
        there, and its key-encryption key opens a stored data key (a worker holding another
        one fails every encrypted field). 503 names the reason (`governance.readiness`). With a
        job queue configured, a queue that does not answer makes the service `degraded`
        (200: it still serves; jobs are recorded and delivered once the queue is back)."""
        current = runtime()
        reason = not_ready(current)
        if reason is not None:
            log.warning("not ready: %s", reason)
            raise Unavailable(f"not ready: {reason}")
        if current.settings.task_runner == "celery":
            from governance.jobs.broker import broker_reachable

            if not broker_reachable(current.settings):
                return {"status": "degraded", "broker": "unreachable"}
            return {"status": "ready", "broker": "ok"}
        return {"status": "ready"}
