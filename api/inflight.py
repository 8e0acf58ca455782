"""A bound on the expensive requests a client has in flight in one worker.

A write's PII check (and ``/v1/pii/analyze``) can cost a second of CPU or more: six
parallel writes of 100,000 emoji by one application once took every thread of the
service and delayed another application's list read by 27.6 s (issue 26 item 12). A rate
limit counts requests per minute and cannot see this: what matters is how many such
requests run at the same time. So each worker counts, across its threads, the expensive
requests each client has in flight; one more than its share is answered at once with a
429 problem and ``Retry-After`` (it costs nothing yet: the body is not analysed), and the
worker as a whole keeps threads free for cheap requests (503 with ``Retry-After`` when all
clients together hold that many). A view opts in with :func:`expensive`.

The counts live in the worker process (each worker bounds its own threads); the bound is
set from the number of threads by ``api.serving``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g

from api.errors import problem
from api.openapi import answers

F = TypeVar("F", bound=Callable[..., Any])

EXTENSION_KEY = "inflight"
#: The share of one client, and of all clients together, with the default 8 threads.
DEFAULT_PER_CLIENT = 2
DEFAULT_TOTAL = 6
#: Seconds a refused client is told to wait: an expensive request takes about that long.
RETRY_AFTER_SECONDS = 1


def expensive(func: F) -> F:
    """Mark a view whose work is bounded per client (the PII check of a write)."""
    func._expensive = True  # type: ignore[attr-defined]
    func = answers(
        429,
        "Too many requests from this client, or this client already has its "
        "share of expensive requests (PII checks) in progress; retry after "
        "`Retry-After` seconds.",
    )(func)
    return answers(
        503,
        "A database the service depends on did not answer, or the service "
        "runs as many expensive requests as it can (`busy`); retry after "
        "`Retry-After` seconds.",
    )(func)


class InFlight:
    """Counts of expensive requests in flight, per client, shared by a worker's threads."""

    def __init__(self, per_client: int = DEFAULT_PER_CLIENT, total: int = DEFAULT_TOTAL) -> None:
        self.per_client = per_client
        self.total = total
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._running = 0

    @classmethod
    def for_threads(cls, threads: int) -> InFlight:
        """A quarter of the threads for one client, all but two for every client together:
        whatever the expensive requests, a worker keeps threads for the cheap ones."""
        return cls(per_client=max(1, threads // 4), total=max(1, threads - 2))

    def enter(self, client_id: str) -> str | None:
        """None if the client may start one more; else why not (``client`` or ``worker``)."""
        with self._lock:
            held = self._counts.get(client_id, 0)
            if held >= self.per_client:
                return "client"
            if self._running >= self.total:
                return "worker"
            self._counts[client_id] = held + 1
            self._running += 1
            return None

    def leave(self, client_id: str) -> None:
        with self._lock:
            held = self._counts.get(client_id, 0)
            if held <= 1:
                self._counts.pop(client_id, None)
            else:
                self._counts[client_id] = held - 1
            self._running = max(0, self._running - 1)


def install_inflight_bound(app: Flask, bound: InFlight | None = None) -> InFlight:
    """Register the check after authentication (it needs the client) and the release at
    the end of every request, whatever its outcome."""
    bound = bound or InFlight()
    app.extensions[EXTENSION_KEY] = bound

    def admit() -> Response | None:
        if not getattr(g.declaration, "_expensive", False):
            return None
        found = getattr(g, "client", None)
        if found is None:
            return None
        refused = bound.enter(found.id)
        if refused is None:
            g.inflight_client = found.id
            return None
        if refused == "client":
            response = problem(
                429,
                "Too many requests",
                f"this client already has {bound.per_client} such requests "
                f"in progress; retry after {RETRY_AFTER_SECONDS} s",
                "too-many-requests",
            )
        else:
            response = problem(
                503,
                "Service busy",
                "the service is running as many such requests as it can; "
                f"retry after {RETRY_AFTER_SECONDS} s",
                "busy",
            )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def release(_: BaseException | None) -> None:
        client_id = g.pop("inflight_client", None)
        if client_id is not None:
            bound.leave(client_id)

    app.before_request(admit)
    app.teardown_request(release)
    return bound
