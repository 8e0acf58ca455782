"""The keys page (admins): KEK versions with the data keys each wraps, the rotation's
progress, and a rotation started from the page.

The status is ``governance.keys.status.key_status``, as ``GET /v1/keys``; the rotation is
``governance.keys.rotation.start_rotation``, as ``POST /v1/keys/rotate``: an exclusive job
(a second start resumes the unfinished rotation), delivered after the commit, audited by
the key events with the admin as the actor. A refusal (a key provider that cannot create a
key here) is shown on the page; nothing changed.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from api.console.access import page
from api.console.forms import ActionForm
from api.context import actor, db, delivered, runtime
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.errors import GovernanceError
from governance.keys.events import KeyEvents
from governance.keys.rotation import start_rotation
from governance.keys.status import key_status

ROTATE = Permission.KEYS_ROTATE
REFRESH_SECONDS = 5


def _page(problem: str | None = None, status: int = 200) -> tuple[str, int]:
    shown = key_status(runtime().keys)
    running = (shown["rotation"] or {}).get("state") == "running"
    return render_template(
        "console/keys.html",
        keys=shown,
        action=ActionForm(),
        problem=problem,
        refresh=REFRESH_SECONDS if running else None,
    ), status


def status() -> tuple[str, int]:
    return _page()


def rotate() -> ResponseReturnValue:
    rt = runtime()
    events = KeyEvents(rt.sessions, rt.audit, actor(), rt.policy.version, request_id=g.request_id)
    try:
        delivered(start_rotation(db(), rt.keys, events, actor(), trace_id=g.request_id))
    except GovernanceError as refused:
        if refused.status >= 500:
            raise
        g.session.rollback()
        return _page(refused.detail, refused.status)
    return redirect(url_for("console.keys"), code=303)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/keys", "keys", page(ROTATE, AuditAction.KEY_STATUS_READ)(status))
    blp.add_url_rule(
        "/keys/rotate",
        "keys_rotate",
        page(ROTATE, AuditAction.KEY_ROTATION_STARTED)(rotate),
        methods=["POST"],
    )
