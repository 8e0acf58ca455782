"""Personal data is never cached, never sniffed, and /docs runs under a strict CSP."""

from __future__ import annotations

from tests.conftest import bearer


def test_a_response_with_personal_data_is_not_stored(http, issue_key) -> None:  # noqa: ANN001
    response = http.get("/v1/requests", headers=bearer(issue_key("compliance_officer")))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_answer_carrying_a_new_api_key_is_not_stored(http, issue_key) -> None:  # noqa: ANN001
    response = http.post(
        "/v1/clients",
        headers=bearer(issue_key("admin")),
        json={"name": "cache-check", "role": "auditor"},
    )
    assert response.status_code == 201 and "key" in response.get_json()
    assert response.headers["Cache-Control"] == "no-store"


def test_an_error_is_not_stored_either(http) -> None:  # noqa: ANN001
    response = http.get("/v1/datamap")
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_allow_only_their_own_stylesheet(http) -> None:  # noqa: ANN001
    response = http.get("/docs")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "style-src 'sha256-" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp


def test_json_answers_may_load_nothing(http) -> None:  # noqa: ANN001
    assert http.get("/healthz").headers["Content-Security-Policy"].startswith("default-src 'none'")
