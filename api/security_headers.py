"""Response headers that keep personal data out of caches and browsers' guesses, set once.

- ``Cache-Control: no-store`` on every ``/v1`` answer: records, consent histories, exports,
  audit events and new API keys must not be kept by a proxy or a browser cache.
- ``X-Content-Type-Options: nosniff`` everywhere, so a JSON body is never run as a script.
- A Content-Security-Policy on everything: JSON answers may load nothing; ``/docs`` may
  use only its own inline stylesheet, named by hash (the one place that builds the policy).
- The access log gets the route template and our request id (via the WSGI environ), never
  the raw path, which can carry an e-mail address as a path segment.
"""

from __future__ import annotations

import base64
import hashlib

from flask import Response, g, request

#: Environ keys the access log format reads (api.serving.gunicorn_options).
ROUTE_ENVIRON_KEY = "gateway.route"
REQUEST_ID_ENVIRON_KEY = "gateway.request_id"

_LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def content_security_policy(*, inline_styles: tuple[str, ...] = ()) -> str:
    if not inline_styles:
        return _LOCKED_DOWN
    hashes = " ".join(style_hash(css) for css in inline_styles)
    return f"{_LOCKED_DOWN}; style-src {hashes}"


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/v1/"):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    rule = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    request.environ[ROUTE_ENVIRON_KEY] = rule
    request.environ[REQUEST_ID_ENVIRON_KEY] = getattr(g, "request_id", "-")
    return response
