"""Key administration (role admin): KEK status and rotation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import actor, record, runtime
from api.openapi import answers
from api.schemas.keys import KeyStatusSchema, RotateRequestSchema, RotationStartedSchema
from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.keys.events import KeyAuditor
from governance.keys.rotation import begin_rotation
from governance.keys.runner import RotationRunner
from governance.keys.status import job_view, key_status

blp = Blueprint("keys", __name__, url_prefix="/v1", description="Key administration")
RUNNER_KEY = "key_rotation_runner"


class _RequestAuditor(KeyAuditor):
    """Key events of a request ride in the request's own transaction."""

    def record(self, action: AuditAction, details: Mapping[str, Any], *,
               subject_id: str | None = None) -> None:
        record(AuditEvent(action=str(action), actor=actor(), target=Target(subject_id=subject_id),
                          policy_version=runtime().policy.version, details=dict(details)))


@blp.route("/keys")
class Keys(MethodView):
    @requires(Permission.KEYS_ROTATE, AuditAction.KEY_STATUS_READ)
    @blp.response(200, KeyStatusSchema)
    def get(self) -> dict[str, Any]:
        """KEK versions with the number of data keys each wraps, and the latest rotation."""
        return key_status(runtime().keys)


@blp.route("/keys/rotate")
class KeyRotation(MethodView):
    @answers(409, 'the key provider cannot create a key here, or another rotation is running')
    @requires(Permission.KEYS_ROTATE, AuditAction.KEY_ROTATION_STARTED)
    @blp.arguments(RotateRequestSchema)
    @blp.response(202, RotationStartedSchema)
    def post(self, _body: dict[str, Any]) -> dict[str, Any]:
        """Create a new KEK version and rewrap every data key under it in the background.

        An unfinished rotation is resumed instead of starting another; `GET /v1/keys` shows
        its progress. Data keys stay readable throughout: each is wrapped by exactly one
        live version at any moment.
        """
        job, resumed = begin_rotation(runtime().keys, _RequestAuditor())
        runner: RotationRunner = current_app.extensions[RUNNER_KEY]
        runner.start(job, resumed=resumed)
        return {"kek_version": job.target_version, "job": job_view(job), "resumed": resumed}
