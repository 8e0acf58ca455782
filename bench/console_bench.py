"""Console benchmark: the officer's queue page listing 50 requests, in server time, on the
demo store, beside the API's list of the same 50 requests.

The store is the demo's (``governance demo --no-serve``: the embedded SQLite default with
2,000 customers, 400 with ``--quick``), in a temporary folder, with open requests added for
further demo customers until the queue holds more than one page. The app is the real one
(``api.create_app`` on ``open_runtime``): a console page passes the session cookie's check
(the user's session row is read and touched), renders the queue with its counts and writes
the list's audit event; the API's list authenticates a bearer key and writes its event.

Server time is measured inside the WSGI call, from the request's arrival to the last byte
of the body (the commit and the audit write included), so the test client's own work is
not counted. The two pages are requested in alternation, so that a change of load falls
on both. Target (the issue): the console page under 50 ms p50.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from audit.events import Actor
from bench.harness import Row, benchmark_table
from demo.generator import DemoGenerator
from demo.world import DEFAULT_SEED
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.requests.models import DsrRequest
from governance.requests.services import OPEN_STATUSES, RequestService
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from governance.users.services import UserService

NAME = "console"
TARGET_MS = 50.0
PAGE = 50
OPEN_WANTED = 60  # more than one page
FULL_CUSTOMERS, QUICK_CUSTOMERS = 2000, 400
FULL_ROUNDS, QUICK_ROUNDS = 300, 80
WARM_UP = 20
ACTOR = Actor(id="bench-officer", role="compliance_officer")
PASSWORD = "console bench password"  # noqa: S105 - a throwaway store's
ROOT = Path(__file__).resolve().parents[1]
_ROW = re.compile(r'<tr class="(?:overdue|soon|on-time|closed)">')


class ServerTimer:
    """WSGI middleware: the seconds each request spent in the app, body included."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.last = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.last = time.perf_counter() - started
        return [body]


def demo_store(directory: Path, customers: int) -> dict[str, str]:
    """The environment of a demo store made by the CLI, as an operator makes one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GOVERNANCE_") or k == "GOVERNANCE_PII_MODEL"
    }
    env.update(
        {
            "GOVERNANCE_VAR_DIR": str(directory),
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            "GOVERNANCE_TASK_RUNNER": "inline",
            "PYTHONPATH": str(ROOT),
        }
    )
    subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "demo", "--no-serve", "--customers", str(customers)],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return env


def add_open_requests(rt: Runtime, customers: int) -> int:
    """Open requests for further demo customers until the queue holds ``OPEN_WANTED``."""
    generator = DemoGenerator(rt.policy.datamap, DEFAULT_SEED)
    kinds = (
        ("access", "gdpr"),
        ("erasure", "gdpr"),
        ("access", "ccpa"),
        ("restriction", "gdpr"),
        ("portability", "gdpr"),
    )
    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as session:
        service = RequestService(session, rt, ACTOR)
        existing, _ = service.list(_open_filter(), limit=OPEN_WANTED)
        n = 20  # the demo's own requests use the first dozen customers
        for i in range(len(existing), OPEN_WANTED):
            kind, law = kinds[i % len(kinds)]
            service.create(
                kind,
                law,
                {"subject_id": generator.customer_id(n + i)},
                received_at=now - timedelta(days=i % 50, hours=i),
            )
        return int(
            session.scalar(
                select(func.count())
                .select_from(DsrRequest)
                .where(DsrRequest.status.in_(OPEN_STATUSES))
            )
            or 0
        )


def _open_filter() -> Any:
    from governance.requests.services import QueueFilter

    return QueueFilter(statuses=tuple(OPEN_STATUSES))


def _credentials(rt: Runtime) -> tuple[str, str]:
    with unit_of_work(rt.sessions) as session:
        key = ClientService(session).create("bench-console-officer", "compliance_officer", ()).key
        users = UserService(session, rt.audit, ACTOR, rt.policy.version)
        name = "bench-officer"
        users.create(name, "compliance_officer", PASSWORD)
    return name, key


def _sign_in(http: Any, name: str) -> None:
    page = http.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token, "the sign-in page has no CSRF token"
    response = http.post(
        "/console/login", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302, response.status_code


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(rt: Runtime, rounds: int) -> dict[str, list[float]]:
    from api import create_app

    name, key = _credentials(rt)
    app = create_app(runtime=rt, background_integrator=False)
    timer = ServerTimer(app.wsgi_app)
    app.wsgi_app = timer  # type: ignore[method-assign]
    console, api = app.test_client(), app.test_client()
    _sign_in(console, name)
    headers = {"Authorization": f"Bearer {key}"}

    def console_page() -> float:
        response = console.get("/console/requests")
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and len(_ROW.findall(html)) == PAGE, (
            "the queue page does not list 50 requests"
        )
        return timer.last

    def api_page() -> float:
        response = api.get(f"/v1/requests?limit={PAGE}", headers=headers)
        assert response.status_code == 200 and len(response.get_json()["items"]) == PAGE
        return timer.last

    shown = re.findall(
        r'<a href="/console/requests/([0-9a-f]{32})"',
        console.get("/console/requests").get_data(as_text=True),
    )
    listed = [
        r["id"] for r in api.get(f"/v1/requests?limit={PAGE}", headers=headers).get_json()["items"]
    ]
    assert list(dict.fromkeys(shown)) == listed, "the two pages list different requests"

    times: dict[str, list[float]] = {"console": [], "api": []}
    for n in range(WARM_UP + rounds):
        pair = (("console", console_page), ("api", api_page))
        for label, fn in pair if n % 2 == 0 else pair[::-1]:
            seconds = fn()
            if n >= WARM_UP:
                times[label].append(seconds * 1000)
    return times


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    customers = QUICK_CUSTOMERS if quick else FULL_CUSTOMERS
    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    column = f"SQLite demo, {customers:,} customers"
    with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
        say(f"console: a demo store of {customers:,} customers")
        env = demo_store(Path(folder), customers)
        rt = open_runtime(Settings.from_env(env))
        try:
            open_count = add_open_requests(rt, customers)
            say(f"console: {open_count} open requests; {rounds} rounds of both pages")
            times = measure(rt, rounds)
        finally:
            rt.dispose()
    load = os.getloadavg()[0]
    p50 = {k: statistics.median(v) for k, v in times.items()}
    rows = [
        Row(
            f"console queue page of {PAGE} requests, server time p50 / p90",
            {column: f"{p50['console']:.1f} / {_percentile(times['console'], 0.9):.1f} ms"},
            target=f"< {TARGET_MS:g} ms p50",
        ),
        Row(
            f"  API list of the same {PAGE} (/v1/requests), p50 / p90",
            {column: f"{p50['api']:.1f} / {_percentile(times['api'], 0.9):.1f} ms"},
            target="for comparison",
        ),
        Row(
            "  console / API, p50",
            {column: f"{p50['console'] / p50['api']:.2f}x (load {load:.1f})"},
            target="-",
        ),
    ]
    return rows


if __name__ == "__main__":  # pragma: no cover
    print(benchmark_table(run(quick="--quick" in sys.argv)))
