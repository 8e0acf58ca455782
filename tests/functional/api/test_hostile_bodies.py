"""Hostile request bodies are refused with a 4xx problem and change nothing (issue 14 item 12):
a lone UTF-16 surrogate in any JSON string, JSON nested past any sane depth, and a body
over the size limit sent chunked (no Content-Length, as gunicorn hands it to the app)."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import bearer
from tests.functional.api.test_errors import assert_problem


def _client_names(http, admin: dict[str, str]) -> set[str]:  # noqa: ANN001
    return {c["name"] for c in http.get("/v1/clients", headers=admin).get_json()["items"]}


def _post_raw(http, path: str, body: str, admin: dict[str, str]):  # noqa: ANN001, ANN202
    return http.post(path, data=body, content_type="application/json", headers=admin)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"name": "surrogate-app\\ud800", "role": "admin"}', id="in-a-value"),
        pytest.param('{"name": "surrogate-app", "role": "admin", "\\udc00x": 1}', id="in-a-key"),
        pytest.param(
            '{"name": "surrogate-app", "role": "application", '
            '"purposes": ["customer_support", "\\udfff"]}',
            id="in-a-list",
        ),
        pytest.param(
            '{"name": "surrogate-app", "role": "admin", "x": {"y": ["\\ud83d"]}}',
            id="nested-high-without-low",
        ),
    ],
)
def test_a_lone_surrogate_in_any_json_string_is_a_400_problem_and_creates_nothing(
    http, issue_key, body: str
) -> None:  # noqa: ANN001
    admin = bearer(issue_key("admin"))

    response = _post_raw(http, "/v1/clients", body, admin)

    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/invalid-json")
    assert "surrogate-app" not in _client_names(http, admin)


def test_a_lone_surrogate_in_text_to_analyse_is_a_400_problem(http, issue_key) -> None:  # noqa: ANN001
    response = _post_raw(
        http, "/v1/pii/analyze", '{"text": "call me \\udbff"}', bearer(issue_key("admin"))
    )

    assert assert_problem(response, 400)["type"].endswith("/invalid-json")


def test_a_surrogate_pair_is_an_ordinary_character_and_accepted(http, issue_key) -> None:  # noqa: ANN001
    analysed = _post_raw(
        http,
        "/v1/pii/analyze",
        '{"text": "smile \\ud83d\\ude00 please"}',
        bearer(issue_key("admin")),
    )

    assert analysed.status_code == 200, analysed.get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="arrays-100000-deep"),
        pytest.param('{"a":' * 100_000 + "1" + "}" * 100_000, id="objects-100000-deep"),
        pytest.param(
            '{"name": "deep-app", "role": "admin", "x": ' + "[" * 200 + "]" * 200 + "}",
            id="200-deep-inside-a-valid-body",
        ),
    ],
)
def test_json_nested_too_deep_is_a_400_problem_and_creates_nothing(
    http, issue_key, body: str
) -> None:  # noqa: ANN001
    admin = bearer(issue_key("admin"))

    response = _post_raw(http, "/v1/clients", body, admin)

    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/invalid-json")
    assert "nested" in problem["detail"]
    assert "deep-app" not in _client_names(http, admin)


def _chunked(http, admin: dict[str, str], payload: bytes):  # noqa: ANN001, ANN202
    # As gunicorn hands a chunked body to the app: no CONTENT_LENGTH, the stream ends
    # where the body ends (wsgi.input_terminated).
    return http.post(
        "/v1/clients",
        input_stream=io.BytesIO(payload),
        content_type="application/json",
        headers={**admin, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_a_413_problem_and_creates_nothing(
    http, issue_key, settings
) -> None:  # noqa: ANN001
    admin = bearer(issue_key("admin"))
    payload = json.dumps(
        {"name": "chunked-app", "role": "admin", "padding": "x" * settings.max_request_bytes}
    ).encode()

    response = _chunked(http, admin, payload)

    problem = assert_problem(response, 413)
    assert problem["type"].endswith("/payload-too-large")
    assert "chunked-app" not in _client_names(http, admin)


def test_a_chunked_body_within_the_limit_is_served(http, issue_key) -> None:  # noqa: ANN001
    admin = bearer(issue_key("admin"))

    response = _chunked(
        http, admin, json.dumps({"name": "small-chunked-app", "role": "admin"}).encode()
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert "small-chunked-app" in _client_names(http, admin)
