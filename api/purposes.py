"""GET /v1/purposes: what the CRM processes personal data for, and on which legal basis."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import runtime
from api.schemas.consent import PurposeListSchema
from governance.audit_actions import AuditAction
from governance.authz import Permission

blp = Blueprint("purposes", __name__, url_prefix="/v1", description="Processing purposes")


@blp.route("/purposes")
class Purposes(MethodView):
    @requires(Permission.CONSENT_READ, AuditAction.PURPOSES_READ)
    @blp.response(200, PurposeListSchema)
    def get(self) -> dict[str, Any]:
        """Every purpose of purposes.yaml with its legal basis, fideslang data use, whether it
        sells or shares (CCPA), may use special categories, needs consent, can be objected to,
        and whether it continues while processing is restricted."""
        return {
            "items": [
                {
                    "id": p.id,
                    "description": p.description,
                    "legal_basis": str(p.legal_basis),
                    "data_use": p.data_use,
                    "sells_or_shares": p.sells_or_shares,
                    "sensitive": p.sensitive,
                    "requires_consent": p.requires_consent,
                    "objectable": p.objectable,
                    "restriction_exemption": (
                        str(p.restriction_exemption) if p.restriction_exemption else None
                    ),
                }
                for p in runtime().policy.purposes
            ]
        }
