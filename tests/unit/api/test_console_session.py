"""The console's session interface (api.console._SessionInterface) opens a session exactly as
Flask's signed-cookie interface does: no cookie, a valid one, a forged one, no secret key."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from api.console import _SessionInterface

_SECRET = "a-test-signing-value"  # noqa: S105 - a test value, signs nothing real


def _app(secret: str | None = _SECRET) -> Flask:
    app = Flask("session-test")
    app.secret_key = secret
    return app


def _opened(app: Flask, cookie: str | None) -> dict[str, object]:
    headers = {"Cookie": f"session={cookie}"} if cookie is not None else {}
    answers: dict[str, object] = {}
    for name, interface in (
        ("ours", _SessionInterface()),
        ("flask", SecureCookieSessionInterface()),
    ):
        with app.test_request_context("/", headers=headers) as ctx:
            session = interface.open_session(app, ctx.request)
            answers[name] = (
                None
                if session is None
                else (type(session), dict(session), session.modified, session.new)
            )
    return answers


def _signed(app: Flask, data: dict[str, str]) -> str:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer.dumps(data)


def test_without_a_cookie_the_session_is_flasks_empty_one() -> None:
    answers = _opened(_app(), None)
    assert answers["ours"] == answers["flask"]
    assert answers["ours"] is not None


def test_a_signed_cookie_opens_the_same_session() -> None:
    app = _app()
    answers = _opened(app, _signed(app, {"user": "u-1"}))
    assert answers["ours"] == answers["flask"]
    assert answers["ours"] is not None and answers["ours"][1] == {"user": "u-1"}


def test_a_forged_cookie_opens_an_empty_session() -> None:
    answers = _opened(_app(), _signed(_app("another-secret"), {"user": "u-1"}))
    assert answers["ours"] == answers["flask"]
    assert answers["ours"] is not None and answers["ours"][1] == {}


def test_without_a_secret_key_there_is_no_session() -> None:
    answers = _opened(_app(None), None)
    assert answers["ours"] is None and answers["flask"] is None
