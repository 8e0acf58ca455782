"""Response headers a client library expects of an HTTP API, set in one place.

- ``Location`` on every 201: the created resource when it has a URL of its own, else the
  collection it was added to (a consent event is read back through the subject's consents).
- ``WWW-Authenticate: Bearer`` on every 401 (RFC 6750 section 3), with
  ``error="invalid_token"`` when a key was sent but not accepted.
"""

from __future__ import annotations

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

REALM = "crm-privacy-gateway"


def add_conventional_headers(response: Response) -> Response:
    if response.status_code == 201 and "Location" not in response.headers:
        response.headers["Location"] = _created_location(response)
    if response.status_code == 401:
        challenge = f'Bearer realm="{REALM}"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def _created_location(response: Response) -> str:
    collection = request.path.rstrip("/")
    body = response.get_json(silent=True) if response.is_json else None
    created_id = body.get("id") if isinstance(body, dict) else None
    if isinstance(created_id, str) and created_id:
        candidate = f"{collection}/{created_id}"
        if _has_get_route(candidate):
            return candidate
    return collection


def _has_get_route(path: str) -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except HTTPException:
        return False
    return True
