"""Liveness and readiness, unauthenticated, for load balancers and orchestrators."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import public
from api.context import runtime
from api.schemas.common import ReadinessSchema, StatusSchema
from governance.db import ping
from governance.errors import Unavailable

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
        """The service can reach both its databases (CRM store and key store) and take
        traffic: without the key store no encrypted field can be read or written. With a
        job queue configured, a queue that does not answer makes the service `degraded`
        (200: it still serves; jobs are recorded and delivered once the queue is back)."""
        current = runtime()
        for name, engine in (("the CRM database", current.engine),
                             ("the key store", current.keys.keystore.engine)):
            try:
                ping(engine)
            except Exception:  # noqa: BLE001 - any failure to reach a database means not ready
                raise Unavailable(f"{name} is not reachable") from None
        if current.settings.task_runner == "celery":
            from governance.jobs.celery_app import broker_reachable

            if not broker_reachable(current.settings):
                return {"status": "degraded", "broker": "unreachable"}
            return {"status": "ready", "broker": "ok"}
        return {"status": "ready"}
