"""Key administration (role admin): KEK status and rotation."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, db, delivered, runtime
from api.openapi import answers
from api.schemas.keys import KeyStatusSchema, RotateRequestSchema, RotationStartedSchema
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.keys.events import KeyEvents
from governance.keys.rotation import start_rotation
from governance.keys.status import job_view, key_status

blp = Blueprint("keys", __name__, url_prefix="/v1", description="Key administration")


@blp.route("/keys")
class Keys(MethodView):
    @requires(Permission.KEYS_ROTATE, AuditAction.KEY_STATUS_READ)
    @blp.response(200, KeyStatusSchema)
    def get(self) -> dict[str, Any]:
        """KEK versions with the number of data keys each wraps, and the latest rotation."""
        return key_status(runtime().keys)


@blp.route("/keys/rotate")
class KeyRotation(MethodView):
    @answers(409, "the key provider cannot create a key here, or another rotation is running")
    @requires(Permission.KEYS_ROTATE, AuditAction.KEY_ROTATION_STARTED)
    @blp.arguments(RotateRequestSchema)
    @blp.response(202, RotationStartedSchema)
    def post(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Create a new KEK version and rewrap every data key under it in the background.

        An unfinished rotation is resumed instead of starting another; `GET /v1/keys` shows
        its progress. Data keys stay readable throughout: each is wrapped by exactly one
        live version at any moment.
        """
        rt = runtime()
        events = KeyEvents(
            rt.sessions, rt.audit, actor(), rt.policy.version, request_id=g.request_id
        )
        job, resumed = delivered(
            start_rotation(db(), rt.keys, events, actor(), trace_id=g.request_id)
        )
        return {"kek_version": job.target_version, "job": job_view(job), "resumed": resumed}
