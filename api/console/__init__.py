"""The console: server-rendered pages where compliance officers run requests, auditors check
the log and admins manage users, in a browser.

One Flask blueprint under ``/console`` with Jinja2 templates and static files shipped in
this package (no CDN, no Node build). Views call the same domain services as the API, in
the same per-request unit of work (``api.create_app``), so a console action is committed
and audited exactly as its API twin, with the signed-in person as the actor. Every page is
``Cache-Control: no-store`` and served under a Content-Security-Policy that allows scripts,
styles and fetches from this origin only; everything but the in-browser audit verification
works without JavaScript.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from governance.runtime import Runtime

#: Scripts, styles, images and fetches from our origin only; forms post only to us.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SESSION_KEY_LABEL = "console/session-cookie"


class _SessionInterface(SecureCookieSessionInterface):
    """The signed session cookie, ``Secure`` whenever the page was served over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # An API request carries no session cookie: answer as the base class does (an empty
        # session) without building its signing serializer, which every request paid for.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def register_console(app: Flask, runtime: Runtime) -> None:
    from api.console import (
        access,
        audit_pages,
        auth_pages,
        errors,
        filters,
        hold_pages,
        job_pages,
        key_pages,
        policy_pages,
        request_pages,
        retention_pages,
        ropa_pages,
        scan_pages,
        subject_pages,
        user_pages,
    )

    # A blueprint per app: its routes are added here, and a registered blueprint takes none.
    blp = Blueprint(
        "console",
        __name__,
        url_prefix="/console",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    settings = runtime.settings
    # Derived from the KEK provider's index key: the same in every worker and after a
    # restart, and never stored on its own.
    app.secret_key = runtime.keys.derived_key(SESSION_KEY_LABEL)
    app.config.update(
        SESSION_COOKIE_NAME="gateway_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.console_session_hours),
    )
    app.session_interface = _SessionInterface()
    access.init_csrf(app)
    access.init_throttle(app, settings)
    for module in (
        auth_pages,
        user_pages,
        request_pages,
        subject_pages,
        audit_pages,
        policy_pages,
        scan_pages,
        key_pages,
        job_pages,
        retention_pages,
        hold_pages,
        ropa_pages,
    ):
        module.register(blp)
    filters.register(blp)
    blp.before_request(access.before_console_request)
    blp.after_request(_console_headers)
    blp.context_processor(lambda: {"may": access.may, "current_user": access.current_user()})
    errors.register(blp, app)
    app.register_blueprint(blp)
    access.check_pages(app)


def _console_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    # Every page may show personal data or a one-time password: nothing is kept.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["X-Frame-Options"] = "DENY"
    return response
