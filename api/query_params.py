"""Refuse a query parameter no endpoint declared, instead of silently ignoring it.

A client that sends ``GET /v1/requests?email=...`` believes it filtered; answering every
request would be a quiet lie. The allowed names are read from the query schemas the views
declare with ``@blp.arguments(..., location="query")``, so the OpenAPI document and this
check cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app, g, request
from marshmallow import Schema
from werkzeug.exceptions import UnprocessableEntity


def refuse_unknown_query_parameters() -> None:
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy look-up
    if not req.args or req.endpoint is None:
        return
    if getattr(getattr(g, "declaration", None), "_console", False):
        return  # the console's pages read their own filters (api.console.forms)
    allowed = _declared_query_names(req.endpoint, req.method)
    unknown = sorted(set(req.args) - allowed)
    if unknown:
        # smorest's error handler reads the field errors from ``data``, as webargs sets them
        error: Any = UnprocessableEntity(
            "this endpoint does not take the query parameter"
            f"{'s' if len(unknown) > 1 else ''} " + ", ".join(_shown(name) for name in unknown)
        )
        error.data = {
            "messages": {"query": {_shown(name): ["Unknown query parameter."] for name in unknown}}
        }
        raise error


def _shown(name: str) -> str:
    """A parameter name is echoed only when it looks like one: never a value sent as a name."""
    return name if name.isidentifier() and len(name) <= 40 else "(unprintable name)"


@cache
def _declared_query_names(endpoint: str, method: str) -> frozenset[str]:
    view = current_app.view_functions[endpoint]
    handler: Any = getattr(getattr(view, "view_class", None), method.lower(), None) or view
    parameters = getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    names: set[str] = set()
    for parameter in parameters:
        if parameter.get("in") != "query":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) and issubclass(schema, Schema) else schema
        names.update(f.data_key or name for name, f in schema.fields.items())
    return frozenset(names)
