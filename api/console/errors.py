"""Error pages: every console error is a page with the same layout, never a stack trace or a
problem+json body; a 500 shows the trace id the log line also carries."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from api.errors import from_http_exception
from governance.db import UNAVAILABLE_ERRORS
from governance.errors import GovernanceError

log = logging.getLogger("api.console")

_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Not possible now",
    410: "Gone",
    413: "Too large",
    422: "Not valid",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Unavailable",
}


def error_page(status: int, detail: str, *, title: str | None = None) -> Response:
    body = render_template(
        "console/error.html",
        status=status,
        title=title or _TITLES.get(status, "Error"),
        detail=detail,
        trace_id=getattr(g, "request_id", None),
    )
    return Response(body, status=status, mimetype="text/html")


def register(blp: Blueprint, app: Flask) -> None:
    def on_csrf(error: CSRFError) -> Response:
        return error_page(
            400,
            "The form was sent without a valid security token, so nothing "
            "was changed. Go back, reload the page and try again.",
            title="Form refused",
        )

    def on_governance(error: GovernanceError) -> Response:
        audit_event = getattr(error, "audit_event", None)
        if audit_event is not None:
            g.denial_event = audit_event
        return error_page(error.status, error.detail)

    def on_http(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 429:
            g.audit_action = None  # as the API: a refused flood is not audited
            response = error_page(
                429, "Too many attempts from this address. Wait a minute and try again."
            )
            response.headers["Retry-After"] = str(getattr(g, "retry_after", 60))
            return response
        detail = {404: "There is no such page.", 405: "This page does not take that action."}.get(
            status, error.description or ""
        )
        return error_page(status, detail)

    def on_unexpected(error: Exception) -> Response:
        log.error(
            "unhandled %s in console request %s",
            type(error).__name__,
            getattr(g, "request_id", "-"),
        )
        return error_page(500, "The console failed to answer. Quote the trace id to the operator.")

    def on_unavailable(error: Exception) -> Response:
        log.error(
            "database unavailable (%s) in console request %s",
            type(error).__name__,
            getattr(g, "request_id", "-"),
        )
        return error_page(503, "A database the service depends on did not answer; try again later.")

    blp.register_error_handler(CSRFError, on_csrf)
    blp.register_error_handler(GovernanceError, on_governance)
    blp.register_error_handler(429, on_http)
    blp.register_error_handler(HTTPException, on_http)
    for unavailable in UNAVAILABLE_ERRORS:
        blp.register_error_handler(unavailable, on_unavailable)
    blp.register_error_handler(Exception, on_unexpected)

    # A URL under /console that matches no route belongs to no blueprint: answer it with a
    # console page too, and leave every other 404 to the API's problem+json.
    def on_not_found(error: HTTPException) -> Response:
        if request.path == "/console" or request.path.startswith("/console/"):
            return error_page(404, "There is no such page.")
        return from_http_exception(error)

    app.register_error_handler(404, on_not_found)
