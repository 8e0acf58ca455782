"""The limit manager that remembers which limits apply (api.rate_limits) answers as
Flask-Limiter's own does, also when a limit or an exemption is declared after requests."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter

from api.rate_limits import SettledLimitManager


def _app() -> tuple[Flask, Limiter]:
    app = Flask("settled")
    limiter = Limiter(lambda: "one-key", application_limits=["2 per minute"],
                      storage_uri="memory://")
    limiter.limit_manager = SettledLimitManager(limiter.limit_manager)
    limiter.init_app(app)

    @app.get("/open")
    def open_view() -> str:
        return "ok"

    @app.get("/other")
    def other_view() -> str:
        return "ok"

    return app, limiter


def test_the_application_limit_applies_on_every_request_after_the_first() -> None:
    app, _ = _app()
    client = app.test_client()
    assert [client.get("/open").status_code for _ in range(3)] == [200, 200, 429]


def test_an_exemption_declared_after_requests_applies_at_once() -> None:
    app, limiter = _app()
    client = app.test_client()
    assert [client.get("/open").status_code for _ in range(3)] == [200, 200, 429]
    limiter.exempt(app.view_functions["open_view"])
    assert client.get("/open").status_code == 200
    assert client.get("/other").status_code == 429  # the exemption is that route's only
