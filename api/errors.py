"""Every error the service returns is an RFC 9457 problem (``application/problem+json``).

One place maps domain errors (:class:`governance.errors.GovernanceError`), werkzeug/smorest
HTTP errors and unexpected exceptions. A 500 never echoes exception text: it carries the
trace id (``X-Trace-Id``), which the log line of the failure also carries.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, g, json
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from audit.log import ProofRangeError
from governance.db import UNAVAILABLE_ERRORS, failure_cause
from governance.errors import GovernanceError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://crm-privacy-gateway.example/problems/"
log = logging.getLogger("api.errors")


def problem(status: int, title: str, detail: str, type_slug: str, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    trace_id = getattr(g, "request_id", None)
    if trace_id:
        # `trace_id`, not `request_id`: this service also handles data-subject *requests*,
        # whose ids an officer must never confuse with the id of one HTTP exchange.
        body["trace_id"] = trace_id
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    if trace_id:  # also a problem made after the request's own answer (a failed commit)
        response.headers["X-Trace-Id"] = trace_id
    return response


def from_governance_error(error: GovernanceError) -> Response:
    # A refusal that knows what it refused (a policy denial) brings its own audit event;
    # the request records it after rolling back, in place of the generic one.
    audit_event = getattr(error, "audit_event", None)
    if audit_event is not None:
        g.denial_event = audit_event
    return problem(error.status, error.title, error.detail, error.type, **error.extra)


_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "too-many-requests",
}


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    detail = error.description or ""
    extra: dict[str, Any] = {}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs nests messages by location ({"json": {...}, "query": {...}}); flatten it.
        errors: dict[str, Any] = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                for name, msgs in fields.items():
                    errors[str(name)] = msgs
            else:
                errors[str(location)] = fields
        extra["errors"] = _scrub(errors)
        detail = "the request does not match the expected input (see errors)"
    if status == 405:
        detail = "this resource does not accept that HTTP method"
    response = problem(status, error.name, detail, _HTTP_SLUGS.get(status, "http-error"), **extra)
    valid_methods = getattr(error, "valid_methods", None)
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


_ERROR_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _key(key: Any) -> str:
    text = str(key)
    return text if _ERROR_KEY.match(text) else "(a name that is not an identifier)"


def _scrub(errors: Any) -> Any:
    """marshmallow messages describe the rule broken, not the value; keep only strings/lists."""
    if isinstance(errors, dict):
        # Keys can be a client's own JSON keys ("Unknown field."): echo identifiers only.
        return {_key(k): _scrub(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [_scrub(v) for v in errors]
    return str(errors)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(GovernanceError, from_governance_error)
    app.register_error_handler(HTTPException, from_http_exception)

    def on_validation_error(error: ValidationError) -> Response:
        return problem(
            422,
            "Invalid input",
            "the input is not valid (see errors)",
            "validation",
            errors=_scrub(error.normalized_messages()),
        )

    def on_unexpected(error: Exception) -> Response:
        # Log the type and where it happened; exception text can carry values, so it stays
        # out of both the response and the log line's message.
        log.error(
            "unhandled %s in request %s",
            type(error).__name__,
            getattr(g, "request_id", "-"),
            exc_info=app.debug,
        )
        return problem(
            500,
            "Internal error",
            "the service failed to answer; quote the trace id to the operator",
            "internal",
        )

    def on_proof_range(error: ProofRangeError) -> Response:
        return problem(
            422, "Invalid input", str(error), "validation", errors={"tree_size": [str(error)]}
        )

    def on_database_unreachable(error: Exception) -> Response:
        # The CRM store or the key store cannot answer (down, locked past the busy timeout,
        # connection lost): a retryable 503, the same for either store and for reads and
        # writes alike. The driver's text can name hosts and users, so it stays out.
        log.error(
            "database unavailable in request %s: %s (%s)",
            getattr(g, "request_id", "-"),
            failure_cause(error),
            type(error).__name__,
        )
        return problem(
            503,
            "Service unavailable",
            "a database the service depends on did not answer; try again later",
            "unavailable",
        )

    for unavailable in UNAVAILABLE_ERRORS:
        app.register_error_handler(unavailable, on_database_unreachable)
    app.register_error_handler(ValidationError, on_validation_error)
    app.register_error_handler(ProofRangeError, on_proof_range)
    app.register_error_handler(Exception, on_unexpected)
