"""Liveness and readiness, unauthenticated, for load balancers and orchestrators."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import public
from api.context import runtime
from api.schemas.common import StatusSchema
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
    @blp.response(200, StatusSchema)
    def get(self) -> dict[str, str]:
        """The service can reach its database and take traffic."""
        try:
            ping(runtime().engine)
        except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
            raise Unavailable("the database is not reachable") from None
        return {"status": "ready"}
