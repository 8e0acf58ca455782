"""The OpenAPI document tells a client what the service really answers.

flask-smorest documents the bodies and success responses the views declare; what every
request goes through before and after the view (authentication, the permission check, the
unknown-parameter refusal, the size and type checks, a database that cannot answer) is not
in any view, so :func:`document_operations` adds it to each operation from the same markers
the request pipeline obeys (``api.auth.requires`` and ``public``). A route's role list is
therefore derived from ``governance.authz``, never written twice.
"""

from __future__ import annotations

import http
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response
from flask_smorest import Api
from flask_smorest.spec.plugins import FlaskPlugin
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from api.auth import method_of
from api.errors import PROBLEM_JSON, from_http_exception
from api.schemas.common import ProblemSchema
from governance.authz import ROLE_PERMISSIONS, Permission

F = TypeVar("F", bound=Callable[..., Any])
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_SENTENCE_END = re.compile(r"(?<=[.:])\s+(?=[A-Z`(])")
_BODY_METHODS = {"post", "put", "patch"}

# What each status means here, whatever the operation: the sentence a client reads first.
_COMMON_ERRORS: dict[int, str] = {
    400: "The body is not JSON this service reads (malformed, nested too deep, a lone "
    "surrogate), or a cursor is not one it issued for this list.",
    401: "No API key, or one that is unknown or revoked (`WWW-Authenticate: Bearer`).",
    403: "The client's role lacks this operation's permission, or a policy refused it.",
    404: "No such resource, or one this client may not know exists.",
    413: "The body is larger than the service accepts.",
    415: "The body is not `application/json`.",
    422: "A query parameter, path parameter or body field is unknown or invalid "
    "(`errors` names each).",
    429: "Too many requests from this client or address, or too many failed "
    "authentications; retry after `Retry-After` seconds.",
    503: "A database the service depends on did not answer; retry later.",
}

_PATH_PARAMETERS: dict[str, str] = {
    "collection": "a collection of the data map (`GET /v1/datamap`)",
    "record_id": "the record's id, in the form the purpose is shown",
    "subject_id": "the data subject's id (the id of their `customers` record)",
    "request_id": "the data-subject request's id",
    "scan_id": "the PII scan's id",
    "job_id": "the background job's id",
    "hold_id": "the legal hold's id",
    "run_id": "the retention run's id",
}


def answers(status: int, why: str) -> Callable[[F], F]:
    """Document an error the operation's own service can answer (a conflict, a gone
    export), beside the ones every request can meet, which are added for all."""

    def mark(func: F) -> F:
        func._answers = {**getattr(func, "_answers", {}), status: why}  # type: ignore[attr-defined]
        return func

    return mark


class ProblemApi(Api):
    """flask-smorest's Api with RFC 9457 problems as its error schema and media type."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return from_http_exception(error)

    def _register_responses(self) -> None:
        # smorest registers its error responses as application/json with {code, message};
        # every error this service sends is a problem document.
        self.spec.components.schema("Problem", schema=ProblemSchema)
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {
            "description": "Any other error, as a problem document.",
            "schema": ProblemSchema,
        }
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)


def roles_with(permission: Permission) -> list[str]:
    return sorted(role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


def document_operations(api: Api, app: Flask) -> None:
    """Add to every documented operation who may call it and the errors every request can
    meet on the way, each as a problem document."""
    paths = api.spec.to_dict()["paths"]
    public_endpoints = app.extensions.get("public_endpoints", set())
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in public_endpoints:
            continue
        path = FlaskPlugin.flaskpath2openapi(rule.rule)
        documented = paths.get(path)
        if documented is None:
            continue  # a page, not part of the API (/docs)
        view = app.view_functions[rule.endpoint]
        operations: dict[str, Any] = {}
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            target = method_of(view, method)
            operation = documented.get(method.lower())
            if target is None or operation is None:
                continue
            operations[method.lower()] = _with_access(
                dict(operation),
                method.lower(),
                target,
                has_path_parameters=bool(rule.arguments),
                versioned=path.startswith("/v1/"),
            )
        parameters = [_described(p) for p in documented.get("parameters", [])]
        api.spec.path(rule=rule, operations=operations, parameters=parameters)


def _with_access(
    operation: dict[str, Any],
    method: str,
    target: Any,
    *,
    has_path_parameters: bool,
    versioned: bool,
) -> dict[str, Any]:
    responses = dict(operation.get("responses", {}))
    permission: Permission | None = getattr(target, "_permission", None)
    statuses = [422]
    if permission is None:
        operation["security"] = []
        access = "No authentication."
    else:
        roles = roles_with(permission)
        operation["x-permission"] = permission.value
        operation["x-roles"] = roles
        holders = (
            f"the role `{roles[0]}` holds"
            if len(roles) == 1
            else f"the roles {', '.join(f'`{r}`' for r in roles)} hold"
        )
        access = f"Requires the permission `{permission.value}`, which {holders}."
        statuses += [401, 403]
    if has_path_parameters:
        statuses.append(404)
    if method in _BODY_METHODS and "requestBody" in operation:
        statuses += [413, 415]
    if versioned or permission is None:
        statuses.append(503)
    if method in _BODY_METHODS or any(
        p.get("name") == "cursor" for p in operation.get("parameters", [])
    ):
        statuses.append(400)
    if versioned:
        statuses.append(429)  # the health probes are never limited
    for status in sorted(statuses):
        if status == 422 or str(status) not in responses:
            responses[str(status)] = _problem_response(_COMMON_ERRORS[status], status)
    for status, why in getattr(target, "_answers", {}).items():
        responses[str(status)] = _problem_response(why, status)
    operation["responses"] = dict(sorted(responses.items()))
    summary, rest = _split_summary(operation.get("summary", ""))
    operation["summary"] = summary
    description = "\n\n".join(p for p in (rest, operation.get("description", "")) if p)
    operation["description"] = f"{access}\n\n{description}".strip()
    return operation


def _split_summary(docstring: str) -> tuple[str, str]:
    """A docstring paragraph becomes a one-sentence summary (what /docs lists) and the rest
    of it, which goes to the description."""
    text = " ".join(docstring.split())
    parts = _SENTENCE_END.split(text, maxsplit=1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _problem_response(description: str, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "`Bearer`: send the client's API key as a bearer token",
                "schema": {"type": "string"},
            }
        }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "seconds until the limit lets this caller through again",
                "schema": {"type": "integer"},
            }
        }
    return response


def _described(parameter: dict[str, Any]) -> dict[str, Any]:
    if parameter.get("in") == "path" and not parameter.get("description"):
        return {**parameter, "description": _PATH_PARAMETERS.get(parameter["name"], "")}
    return parameter
