"""GET /docs: the OpenAPI document rendered as one self-contained HTML page.

Swagger UI and ReDoc load their scripts from a CDN, which an offline or locked-down host
cannot reach; this page needs nothing but the service itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template_string
from markupsafe import Markup

from api.auth import public
from api.security_headers import content_security_policy

blp = Blueprint("docs", __name__)

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.who{color:#444;font-style:italic}"""
_CSP = content_security_policy(inline_styles=(_STYLE,))

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} API</title>
<style>{{ style }}</style></head><body>
<h1>{{ title }} {{ version }}</h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;api key&gt;</code>.
Errors are <code>application/problem+json</code> (RFC 9457): <code>type</code>,
<code>title</code>, <code>status</code>, <code>detail</code>, <code>trace_id</code> and, for
bad input, <code>errors</code> per field.</p>
{% for path, operations in paths %}<h2><code>{{ path }}</code></h2>
{% for op in operations %}<h3><span class="m">{{ op.method }}</span> {{ op.summary }}</h3>
<p class="who">{{ op.access }}</p>{% for para in op.description %}<p>{{ para }}</p>{% endfor %}
{% if op.parameters %}<h4>Parameters</h4><ul>{% for p in op.parameters %}
<li><code>{{ p.name }}</code> ({{ p.where }}{% if p.required %}, required{% endif %})
{%- if p.description %}: {{ p.description }}{% endif %}</li>{% endfor %}</ul>{% endif %}
{% if op.body %}<h4>Body ({{ op.body.media }})</h4><ul>{% for f in op.body.fields %}
<li><code>{{ f.name }}</code> {{ f.type }}{% if f.required %}, required{% endif %}
{%- if f.description %}: {{ f.description }}{% endif %}</li>{% endfor %}</ul>{% endif %}
<h4>Responses</h4><ul>{% for r in op.responses %}<li><code>{{ r.status }}</code>
{{ r.description }}{% if r.media %} <small>({{ r.media }})</small>{% endif %}</li>{% endfor %}</ul>
{% endfor %}{% endfor %}</body></html>"""

_VERBS = ("get", "post", "put", "patch", "delete")


@blp.route("/docs")
@public
def docs() -> Response:
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    page = render_template_string(
        _PAGE,
        title=spec["info"]["title"],
        version=spec["info"]["version"],
        paths=[(path, _operations(spec, item)) for path, item in spec["paths"].items()],
        style=Markup(_STYLE),  # noqa: S704 - our own constant, not input
    )
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": _CSP})


def _operations(spec: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    shared = item.get("parameters", [])
    operations = []
    for method in _VERBS:
        op = item.get(method)
        if op is None:
            continue
        description = [p for p in op.get("description", "").split("\n\n") if p]
        access = description.pop(0) if description else ""
        operations.append(
            {
                "method": method.upper(),
                "summary": op.get("summary", ""),
                "access": access,
                "description": description,
                "parameters": [
                    {
                        "name": p["name"],
                        "where": p["in"],
                        "required": p.get("required"),
                        "description": p.get("description", ""),
                    }
                    for p in [*shared, *op.get("parameters", [])]
                ],
                "body": _body(spec, op.get("requestBody")),
                "responses": [
                    _response(spec, status, r) for status, r in op.get("responses", {}).items()
                ],
            }
        )
    return operations


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = spec["components"][section][name]
    return node


def _body(spec: dict[str, Any], body: dict[str, Any] | None) -> dict[str, Any] | None:
    if not body:
        return None
    contents: dict[str, dict[str, Any]] = body.get("content", {})
    media, content = next(iter(contents.items()), ("", {}))
    schema = _resolve(spec, content.get("schema", {}))
    required = set(schema.get("required", []))
    fields = [
        {
            "name": name,
            "required": name in required,
            "type": _resolve(spec, prop).get("type", "object"),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]
    return {"media": media, "fields": fields}


def _response(spec: dict[str, Any], status: str, response: dict[str, Any]) -> dict[str, str]:
    response = _resolve(spec, response)
    return {
        "status": status,
        "description": response.get("description", ""),
        "media": ", ".join(response.get("content", {})),
    }
