"""Every endpoint refuses a query parameter it does not declare, and names it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api import create_app  # noqa: F401 - the app fixture builds it

UNKNOWN = "zz_not_a_parameter"


def _routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("console."):
            continue  # the browser console's pages (tests/functional/console), not the API
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_every_endpoint_refuses_an_unknown_query_parameter_with_a_422_naming_it(app, http) -> None:  # noqa: ANN001
    routes = _routes(app)
    assert len(routes) > 25
    answered = {}
    for method, path in routes:
        response = http.open(f"{path}?{UNKNOWN}=1", method=method)
        answered[(method, path)] = response.status_code
        assert response.status_code == 422, (method, path, response.status_code)
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert UNKNOWN in body["errors"], (method, path)


def test_a_declared_filter_is_still_accepted(http, issue_key) -> None:  # noqa: ANN001
    key = issue_key("compliance_officer")
    response = http.get(
        "/v1/requests?status=received&limit=5", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/requests?email=a@b.example", "/v1/audit/events?purpose=analytics&offset=3"]
)
def test_a_filter_the_endpoint_lacks_is_refused_not_ignored(http, issue_key, path) -> None:  # noqa: ANN001
    key = issue_key("admin") if "audit" in path else issue_key("compliance_officer")
    response = http.get(path, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422
    assert "a@b.example" not in response.get_data(as_text=True)
