"""The console benchmark's server timer: it times the whole WSGI call, body included, hands
the body on unchanged and closes the app's iterable (no timed asserts: figures are the
bench's to print)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.console_bench import ServerTimer


class _Body:
    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"<p>one</p>"
        yield b"<p>two</p>"

    def close(self) -> None:
        self.closed = True


def test_the_timer_hands_on_the_body_closes_it_and_records_a_time() -> None:
    body = _Body()

    def app(environ: dict[str, Any], start_response: Any) -> _Body:
        start_response("200 OK", [("Content-Type", "text/html")])
        return body

    timer = ServerTimer(app)
    started: list[str] = []
    result = timer({}, lambda status, headers: started.append(status))
    assert result == [b"<p>one</p><p>two</p>"] and started == ["200 OK"]
    assert body.closed and timer.last > 0
