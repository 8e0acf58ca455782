"""What the rate limits cost a request on the embedded default (issue 27 item 2): no thread.

The `limits` library's memory storage starts a 10 ms ``threading.Timer`` to sweep expired
counters whenever the previous one has ended, so that a steady stream of requests started
a thread for most of them (about 1,000 per 1,500 reads). Every thread start in the process
is counted while a client reads: there must be none.
"""

from __future__ import annotations

import threading

import pytest

from tests.conftest import bearer

READS = 150


@pytest.fixture
def thread_starts(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    started: list[threading.Thread] = []
    start = threading.Thread.start

    def counted(self: threading.Thread) -> None:
        started.append(self)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)
    return started


def test_rate_limited_requests_start_no_thread(http, app, issue_key, thread_starts) -> None:  # noqa: ANN001
    assert app.extensions["rate_limiters"], "the default settings limit every request"
    key = bearer(issue_key("admin"))
    http.get("/v1/me", headers=key)  # warm: whatever starts once has started
    thread_starts.clear()

    statuses = {http.get("/v1/me", headers=key).status_code for _ in range(READS)}
    unauthenticated = {http.get("/v1/me").status_code for _ in range(READS)}

    assert statuses == {200} and unauthenticated <= {401, 429}
    assert thread_starts == []
