"""Bearer-key authentication and permission checks, declared on each view method.

``@requires(Permission.X, AuditAction.Y)`` is how a view says what it needs and what the
audit log calls it. ``check_declarations`` runs at app creation and refuses to start if any
route is neither ``@public`` nor ``@requires(...)``, so an endpoint cannot be added without
the permission it needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from governance.audit_actions import AuditAction
from governance.authz import Permission, role_allows
from governance.clients.services import ClientService
from governance.errors import Forbidden, Unauthenticated

F = TypeVar("F", bound=Callable[..., Any])
_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


def requires(permission: Permission, action: AuditAction) -> Callable[[F], F]:
    def mark(func: F) -> F:
        func._permission = permission  # type: ignore[attr-defined]
        func._audit_action = action  # type: ignore[attr-defined]
        return func

    return mark


def read_only(func: F) -> F:
    """The view only reads. Its transaction then takes no write lock while it reads (on
    SQLite, a deferred transaction: workers read side by side), and its audit events are
    written in a short transaction of their own after the read, before the response leaves:
    nothing is served unless its audit event is stored."""
    func._read_only = True  # type: ignore[attr-defined]
    return func


def public(func: F) -> F:
    func._public = True  # type: ignore[attr-defined]
    return func


def console(func: F) -> F:
    """The view belongs to the browser console (``api.console``): it is authenticated by the
    console's session cookie and checked by its own declaration (``api.console.access``),
    not by a bearer key, and it reads forms rather than JSON."""
    func._console = True  # type: ignore[attr-defined]
    return func


def is_console(target: Callable[..., Any] | None) -> bool:
    return bool(getattr(target, "_console", False))


def method_of(view: Callable[..., Any], method: str) -> Callable[..., Any] | None:
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    name = "get" if method == "HEAD" else method.lower()
    return getattr(view_class, name, None)


def declaration(endpoint: str | None, method: str) -> Callable[..., Any] | None:
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    return None if view is None else method_of(view, method)


def check_declarations(app: Flask) -> None:
    missing = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or rule.endpoint in app.extensions.get("public_endpoints", ()):
            continue
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            target = method_of(view, method)
            if target is None or getattr(view, "_public", False):
                continue
            if not (
                getattr(target, "_public", False)
                or getattr(target, "_permission", None)
                or is_console(target)
            ):
                missing.append(f"{method} {rule.rule}")
    if missing:
        raise RuntimeError(f"routes without a declared permission: {', '.join(missing)}")


def _authenticate(key: str) -> Any:
    """The key's client. A read-only view reads it in its own transaction. A writing view
    reads it in a short read transaction of its own, so that the request's transaction
    (which on SQLite takes the write lock at BEGIN) starts only when the view first uses
    the store: work the view does first, such as the PII check of a write's free text or
    ``/v1/pii/analyze``, holds no lock (issue 14 item 5)."""
    if g.read_only:
        return ClientService(g.session).authenticate(key)
    from api.context import runtime

    with runtime().read_sessions() as session:  # type: ignore[misc]
        return ClientService(session).authenticate(key)


def authenticate_request() -> None:
    """before_request (after ``api._begin``, which looked up the view's declaration):
    resolve the client and check the view's permission."""
    ctx_g = g._get_current_object()  # one look-up of the proxy
    target = ctx_g.declaration
    if (
        target is None
        or getattr(target, "_public", False)
        or request.endpoint in current_app.extensions.get("public_endpoints", ())
        or is_console(target)
    ):
        return
    ctx_g.audit_action = getattr(target, "_audit_action", None)
    header = request.headers.get("Authorization", "")
    match = _BEARER.match(header)
    if not match:
        raise Unauthenticated("send 'Authorization: Bearer <api key>'")
    client = ctx_g.client = _authenticate(match.group(1))
    permission: Permission = target._permission
    if not role_allows(client.role_enum, permission):
        raise Forbidden(
            f"role {client.role} does not have the permission {permission}", reason="role"
        )
