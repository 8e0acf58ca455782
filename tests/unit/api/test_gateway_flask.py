"""GatewayFlask (api.GatewayFlask) remembers only plain functions as synchronous: an
``async def`` is still handed to Flask's own ``ensure_sync``, and what it remembers does
not grow with the requests it serves."""

from __future__ import annotations

from flask.views import MethodView

from api import GatewayFlask


def _app() -> GatewayFlask:
    app = GatewayFlask("gateway-test")

    @app.before_request
    def plain_hook() -> None:
        return None

    class Thing(MethodView):
        def get(self) -> str:
            return "ok"

    app.add_url_rule("/thing", view_func=Thing.as_view("thing"))
    return app


def test_a_plain_function_is_returned_as_it_is() -> None:
    app = _app()

    def plain() -> str:
        return "ok"

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(plain) is plain


def test_a_coroutine_function_is_never_taken_for_a_plain_one() -> None:
    app = _app()

    async def coroutine() -> str:
        return "ok"

    try:
        wrapped = app.ensure_sync(coroutine)
    except RuntimeError as missing_async_extra:  # Flask without asgiref says so
        assert "async" in str(missing_async_extra)
    else:
        assert wrapped is not coroutine
    assert coroutine not in app._plain_functions


def test_what_is_remembered_does_not_grow_with_requests() -> None:
    app = _app()
    client = app.test_client()
    assert client.get("/thing").text == "ok"
    remembered = len(app._plain_functions)
    for _ in range(5):
        assert client.get("/thing").text == "ok"
    assert len(app._plain_functions) == remembered
