"""Administration of API clients (role admin). Keys are shown once, at creation."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, audited_by_service, db, runtime
from api.openapi import answers
from api.schemas.clients import ClientCreateSchema, ClientListSchema, IssuedClientSchema
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.clients.admin import ClientAdmin
from governance.clients.models import ApiClient
from governance.clients.services import ClientService

blp = Blueprint("clients", __name__, url_prefix="/v1", description="API clients")


def _view(client: ApiClient) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "role": client.role,
        "purposes": client.purposes,
        "key_prefix": client.key_prefix,
        "created_at": client.created_at,
        "revoked": client.revoked_at is not None,
    }


@blp.route("/clients")
class Clients(MethodView):
    @requires(Permission.CLIENTS_MANAGE, AuditAction.CLIENT_LISTED)
    @blp.response(200, ClientListSchema)
    def get(self) -> dict[str, Any]:
        """Every client with its role, purposes and key prefix (never the key)."""
        return {"items": [_view(c) for c in ClientService(db()).list()]}

    @answers(409, "a client of this name exists")
    @requires(Permission.CLIENTS_MANAGE, AuditAction.CLIENT_CREATED)
    @blp.arguments(ClientCreateSchema)
    @blp.response(201, IssuedClientSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a client; the response carries its key, which is never shown again."""
        rt = runtime()
        issued = ClientAdmin(
            db(),
            rt.audit,
            actor(),
            policy_version=rt.policy.version,
            known_purposes=rt.policy.purposes.ids(),
            request_id=g.request_id,
        ).create(body["name"], body["role"], body["purposes"])
        audited_by_service()
        return {**_view(issued.client), "key": issued.key}
