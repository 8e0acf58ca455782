"""Who may open which console page: the session cookie, the CSRF token, the permission.

Each console view declares itself with ``@page(Permission.X, AuditAction.Y)`` (or
``@page(public=True)`` for sign-in): the same permissions as the API's roles, and the same
audit actions as the API view that does the same thing. ``check_pages`` refuses to start if
a console route declares neither. ``before_console_request`` runs after the app's own hooks
(``api.create_app``): it checks the CSRF token of every POST, finds the signed-in person
from the session, makes them the request's actor (``user:<id>``, so the audit log names the
officer), and checks the permission.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response as AnyResponse  # what redirect() returns

from api.auth import console, method_of
from api.context import runtime
from governance.audit_actions import AuditAction
from governance.authz import Permission, role_allows
from governance.clients.services import AuthenticatedClient
from governance.errors import Forbidden
from governance.settings import Settings
from governance.users.models import ConsoleUser
from governance.users.services import Timeouts, UserService
from governance.users.throttle import SignInThrottle

F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()
TOKEN_KEY = "console_token"  # noqa: S105 - a session key name, not a secret
THROTTLE_EXTENSION = "console_sign_in_throttle"
# Pages a user whose password is a one-time password may still open.
_BEFORE_NEW_PASSWORD = {"console.password", "console.logout"}


def page(
    permission: Permission | None = None, action: AuditAction | None = None, *, public: bool = False
) -> Callable[[F], F]:
    def mark(func: F) -> F:
        func._console_permission = permission  # type: ignore[attr-defined]
        func._console_action = action  # type: ignore[attr-defined]
        func._console_public = public  # type: ignore[attr-defined]
        return console(func)

    return mark


def check_pages(app: Flask) -> None:
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint == "console.static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            target = method_of(view, method)
            if not (
                getattr(target, "_console_public", False)
                or getattr(target, "_console_permission", None)
                or getattr(target, "_console_signed_in", False)
            ):
                missing.append(f"{method} {rule.rule}")
    if missing:
        raise RuntimeError(f"console routes without a declared permission: {', '.join(missing)}")


def signed_in(func: F) -> F:
    """Any signed-in person may open it (their own password, sign-out, the home page)."""
    func._console_signed_in = True  # type: ignore[attr-defined]
    return page()(func)


def timeouts() -> Timeouts:
    settings = runtime().settings
    return Timeouts(
        idle=timedelta(minutes=settings.console_idle_minutes),
        absolute=timedelta(hours=settings.console_session_hours),
    )


def users() -> UserService:
    from api.context import actor

    return UserService(
        g.session,
        runtime().audit,
        actor(),
        runtime().policy.version,
        request_id=g.request_id,
        throttle=current_app.extensions.get(THROTTLE_EXTENSION),
    )


def current_user() -> ConsoleUser | None:
    return getattr(g, "console_user", None)


def may(permission: Permission) -> bool:
    """For templates: whether the signed-in person's role has the permission."""
    user = current_user()
    return user is not None and role_allows(user.role_enum, permission)


def before_console_request() -> AnyResponse | None:
    target = getattr(g, "declaration", None)
    if request.endpoint == "console.static" or target is None:
        return None
    if request.method == "POST":
        csrf.protect()  # CSRFError (400) before anything is read or changed
    if getattr(target, "_console_public", False):
        return None
    user = users().session_user(session.get(TOKEN_KEY, ""), timeouts())
    if user is None:
        session.pop(TOKEN_KEY, None)
        if request.method == "GET":
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("console.login"))
    g.console_user = user
    # The person is the request's actor: api.context.actor() and the audit log name them.
    g.client = AuthenticatedClient(id=user.actor_id, name=user.name, role=user.role, purposes=())
    if user.must_change_password and request.endpoint not in _BEFORE_NEW_PASSWORD:
        return redirect(url_for("console.password"))
    permission: Permission | None = target._console_permission
    g.audit_action = target._console_action
    if permission is not None and not role_allows(user.role_enum, permission):
        raise Forbidden(
            f"role {user.role} does not have the permission {permission}", reason="role"
        )
    return None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of ours, never another site. Anything
    else, a control character above all (a CR/LF cannot go into a ``Location`` header), is
    ignored for the home page."""
    if (
        target
        and target.startswith("/console/")
        and not target.startswith("//")
        and ("\\" not in target)
        and target.isprintable()
        and " " not in target
    ):
        return target
    return url_for("console.home")


def init_throttle(app: Flask, settings: Settings) -> None:
    """The sign-in throttle (``governance.users.throttle``), one per app, counting in the
    rate limits' storage."""
    app.extensions[THROTTLE_EXTENSION] = SignInThrottle(
        settings.rate_limit_storage, key_prefix=f"{settings.rate_limit_key_prefix}:sign-in"
    )


def init_csrf(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked for console POSTs only
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    app.config.setdefault("WTF_CSRF_SSL_STRICT", True)
    csrf.init_app(app)
