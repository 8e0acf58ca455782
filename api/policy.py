"""GET /v1/policy: the loaded policy files and their version hash."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import runtime
from api.schemas.datamap import PolicySchema
from governance.audit_actions import AuditAction
from governance.authz import Permission

blp = Blueprint("policy", __name__, url_prefix="/v1", description="The loaded policy set")


@blp.route("/policy")
class PolicyView(MethodView):
    @requires(Permission.POLICY_READ, AuditAction.POLICY_READ)
    @blp.response(200, PolicySchema)
    def get(self) -> dict[str, Any]:
        """The policy files as loaded, and the version (SHA-256 over every file) they carry."""
        policy = runtime().policy
        return {"version": policy.version, "files": policy.sources}
