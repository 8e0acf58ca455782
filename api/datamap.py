"""GET /v1/datamap: what the store holds, where, how protected, kept and erased."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import runtime
from api.schemas.datamap import DataMapSchema
from governance.audit_actions import AuditAction
from governance.authz import Permission

blp = Blueprint("datamap", __name__, url_prefix="/v1", description="The data map")


@blp.route("/datamap")
class DataMapView(MethodView):
    @requires(Permission.DATAMAP_READ, AuditAction.DATAMAP_READ)
    @blp.response(200, DataMapSchema)
    def get(self) -> dict[str, Any]:
        """Collections and fields with category, encryption, lookup, retention and erasure."""
        policy = runtime().policy
        datamap = policy.datamap
        return {
            "policy_version": policy.version,
            "subject_collection": datamap.subject_collection,
            "custom_categories": datamap.custom_categories,
            "collections": [
                {
                    "name": c.name,
                    "description": c.description,
                    "relation": str(c.relation),
                    "retention": {
                        "period": c.retention.period.text,
                        "counted_from": c.retention.counted_from,
                        "basis": c.retention.basis,
                    },
                    "erasure": {
                        "strategy": str(c.erasure.strategy),
                        "legal_obligation": c.erasure.legal_obligation,
                    },
                    "fields_": [
                        {
                            **vars(f),
                            "type": str(f.type),
                            "on_erasure": str(f.on_erasure),
                            "choices": list(f.choices),
                            "retention": None
                            if f.retention is None
                            else {
                                "period": f.retention.period.text,
                                "counted_from": f.retention.counted_from,
                                "basis": f.retention.basis,
                            },
                        }
                        for f in c.fields.values()
                    ],
                }
                for c in datamap.collections.values()
            ],
        }
