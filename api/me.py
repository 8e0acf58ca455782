"""``GET /v1/me``: who this key is and what it may do, from the evaluator's own decisions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import read_only, requires
from api.context import client, runtime
from api.schemas.me import MeSchema
from governance.audit_actions import AuditAction
from governance.authz import ROLE_PERMISSIONS, Permission, Role
from policies.rights import purpose_rights

blp = Blueprint("me", __name__, url_prefix="/v1", description="The calling client")


@blp.route("/me")
class Me(MethodView):
    @requires(Permission.SELF_READ, AuditAction.SELF_READ)
    @read_only
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """The client's role and permissions and, for each purpose it holds, what it may
        read (fields and masks), write, and filter on."""
        caller, policy = client(), runtime().policy
        purposes = []
        for purpose_id in caller.purposes:
            spec = policy.purposes.get(purpose_id)
            grants = policy.access.purposes.get(purpose_id)
            if spec is None or grants is None:
                continue
            purposes.append(
                {
                    "id": purpose_id,
                    "legal_basis": str(spec.legal_basis),
                    "requires_consent": spec.requires_consent,
                    "free_text_pii": str(grants.free_text_pii),
                    "collections": [asdict(r) for r in purpose_rights(policy.access, purpose_id)],
                }
            )
        return {
            "id": caller.id,
            "name": caller.name,
            "role": caller.role,
            "permissions": sorted(ROLE_PERMISSIONS[Role(caller.role)]),
            "purposes": purposes,
        }
