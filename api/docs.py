"""GET /docs: the OpenAPI document rendered as one self-contained HTML page.

Swagger UI and ReDoc load their scripts from a CDN, which an offline or locked-down host
cannot reach; this page needs nothing but the service itself.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template_string
from markupsafe import Markup

from api.auth import public
from api.security_headers import content_security_policy

blp = Blueprint("docs", __name__)

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}"""
_CSP = content_security_policy(inline_styles=(_STYLE,))

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ spec.info.title }} API</title>
<style>{{ style }}</style></head><body>
<h1>{{ spec.info.title }} {{ spec.info.version }}</h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;api key&gt;</code>.
Errors are <code>application/problem+json</code> (RFC 9457).</p>
{% for path, ops in spec.paths.items() %}<h2><code>{{ path }}</code></h2>
{% for method, op in ops.items() if method in verbs %}<p><span class="m">{{ method|upper }}</span>
{{ op.summary or '' }}</p>{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.parameters %}<ul>{% for p in op.parameters %}<li><code>{{ p.name }}</code>
({{ p['in'] }}{% if p.required %}, required{% endif %})</li>{% endfor %}</ul>{% endif %}
<p>Responses: {% for code in op.responses %}<code>{{ code }}</code> {% endfor %}</p>
{% endfor %}{% endfor %}</body></html>"""


@blp.route("/docs")
@public
def docs() -> Response:
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    page = render_template_string(
        _PAGE, spec=spec, style=Markup(_STYLE), verbs={"get", "post", "put", "patch", "delete"}
    )
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": _CSP})
