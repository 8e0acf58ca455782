"""Rate limits (issue 14 item 14): failed authentications per address, requests per
authenticated client and per address, each answered 429 problem+json with Retry-After once
spent; in memory by default and shared through Redis when a setting names it."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from typing import Any

import pytest

from api import create_app
from governance.runtime import Runtime
from tests.conftest import bearer
from tests.functional.api.test_errors import assert_problem

REDIS_URL = os.environ.get("GOVERNANCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ATTACKER = {"REMOTE_ADDR": "203.0.113.7"}
NEIGHBOUR = {"REMOTE_ADDR": "198.51.100.20"}


def _limited_app(runtime: Runtime, **limits: str) -> Any:
    settings = replace(runtime.settings, **limits)
    return create_app(runtime=replace(runtime, settings=settings), background_integrator=False)


def assert_too_many(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 429)
    assert body["type"].endswith("/too-many-requests")
    retry_after = int(response.headers["Retry-After"])
    # A sliding window: the earliest a spent per-minute limit frees a slot is within two.
    assert 1 <= retry_after <= 120
    return body


def test_700_bad_keys_from_one_address_are_stopped_after_the_limit(runtime, issue_key) -> None:  # noqa: ANN001
    http = _limited_app(runtime, rate_limit_auth_failures="5 per minute").test_client()
    good = bearer(issue_key("admin"))

    statuses = [
        http.get("/v1/datamap", headers=bearer(f"gk_{i:043d}"), environ_base=ATTACKER).status_code
        for i in range(700)
    ]

    assert statuses.count(401) == 5
    assert statuses.count(429) == 695
    refused = http.get("/v1/datamap", headers=bearer("gk_" + "Z" * 43), environ_base=ATTACKER)
    body = assert_too_many(refused)
    assert "gk_" not in str(body)
    # The address is locked out, even with a good key; another address is not.
    assert_too_many(http.get("/v1/datamap", headers=good, environ_base=ATTACKER))
    assert http.get("/v1/datamap", headers=good, environ_base=NEIGHBOUR).status_code == 200


def test_good_keys_do_not_count_as_failed_authentications(runtime, issue_key) -> None:  # noqa: ANN001
    http = _limited_app(runtime, rate_limit_auth_failures="2 per minute").test_client()
    good = bearer(issue_key("admin"))

    statuses = [
        http.get("/v1/datamap", headers=good, environ_base=ATTACKER).status_code for _ in range(10)
    ]

    assert statuses == [200] * 10


def test_a_client_over_its_limit_gets_429_while_another_client_is_served(
    runtime, issue_key
) -> None:  # noqa: ANN001
    http = _limited_app(runtime, rate_limit_per_client="3 per minute").test_client()
    greedy, modest = bearer(issue_key("admin")), bearer(issue_key("admin"))

    served = [http.get("/v1/datamap", headers=greedy).status_code for _ in range(3)]
    refused = http.get("/v1/datamap", headers=greedy)

    assert served == [200, 200, 200]
    assert_too_many(refused)
    assert http.get("/v1/datamap", headers=modest).status_code == 200


def test_a_write_over_the_limit_is_refused_and_creates_nothing(runtime, issue_key) -> None:  # noqa: ANN001
    http = _limited_app(runtime, rate_limit_per_client="1 per minute").test_client()
    admin = bearer(issue_key("admin"))
    assert http.get("/v1/clients", headers=admin).status_code == 200

    refused = http.post(
        "/v1/clients", json={"name": "over-limit-app", "role": "admin"}, headers=admin
    )

    assert_too_many(refused)
    other = bearer(issue_key("admin"))
    names = {c["name"] for c in http.get("/v1/clients", headers=other).get_json()["items"]}
    assert "over-limit-app" not in names


def test_an_address_over_its_limit_gets_429_while_another_address_is_served(
    runtime, issue_key
) -> None:  # noqa: ANN001
    http = _limited_app(runtime, rate_limit_per_address="4 per minute").test_client()
    keys = [bearer(issue_key("admin")) for _ in range(5)]

    statuses = [
        http.get("/v1/datamap", headers=key, environ_base=ATTACKER).status_code for key in keys
    ]

    assert statuses == [200, 200, 200, 200, 429]
    assert http.get("/v1/datamap", headers=keys[0], environ_base=NEIGHBOUR).status_code == 200


def test_health_probes_are_never_limited(runtime) -> None:  # noqa: ANN001
    http = _limited_app(
        runtime, rate_limit_per_address="1 per minute", rate_limit_auth_failures="1 per minute"
    ).test_client()

    statuses = {http.get(path).status_code for path in ["/healthz", "/readyz"] * 5}

    assert statuses == {200}


def test_the_default_limits_let_a_busy_client_through(http, issue_key) -> None:  # noqa: ANN001
    key = bearer(issue_key("admin"))

    statuses = {http.get("/v1/datamap", headers=key).status_code for _ in range(300)}

    assert statuses == {200}


# -- Redis ---------------------------------------------------------------------------------


@pytest.fixture
def redis_limits() -> dict[str, str]:
    """A Redis storage with a key prefix of this test's own, so no run sees another's counts."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis does not answer at {REDIS_URL} (set GOVERNANCE_TEST_REDIS_URL)")
    return {
        "rate_limit_storage": REDIS_URL,
        "rate_limit_key_prefix": f"gateway-test-{uuid.uuid4().hex}",
    }


def test_two_workers_share_a_clients_limit_through_redis(runtime, issue_key, redis_limits) -> None:  # noqa: ANN001
    # Two apps are two gunicorn workers: with memory storage each would count on its own.
    first, second = (
        _limited_app(runtime, rate_limit_per_client="3 per minute", **redis_limits).test_client()
        for _ in range(2)
    )
    key = bearer(issue_key("admin"))

    served = [
        first.get("/v1/datamap", headers=key).status_code,
        second.get("/v1/datamap", headers=key).status_code,
        first.get("/v1/datamap", headers=key).status_code,
    ]

    assert served == [200, 200, 200]
    assert_too_many(second.get("/v1/datamap", headers=key))
    assert_too_many(first.get("/v1/datamap", headers=key))


def test_bad_keys_are_counted_across_workers_through_redis(runtime, redis_limits) -> None:  # noqa: ANN001
    first, second = (
        _limited_app(runtime, rate_limit_auth_failures="4 per minute", **redis_limits).test_client()
        for _ in range(2)
    )

    statuses = [
        (first if i % 2 else second)
        .get("/v1/datamap", headers=bearer("gk_" + "Q" * 43), environ_base=ATTACKER)
        .status_code
        for i in range(10)
    ]

    assert statuses == [401] * 4 + [429] * 6


def test_with_memory_storage_each_app_counts_on_its_own(runtime, issue_key) -> None:  # noqa: ANN001
    first, second = (
        _limited_app(runtime, rate_limit_per_client="1 per minute").test_client() for _ in range(2)
    )
    key = bearer(issue_key("admin"))

    assert first.get("/v1/datamap", headers=key).status_code == 200
    assert second.get("/v1/datamap", headers=key).status_code == 200


def test_a_refusal_for_the_rate_is_not_audited(runtime, issue_key, sessions) -> None:  # noqa: ANN001
    http = _limited_app(runtime, rate_limit_per_client="1 per minute").test_client()
    key = bearer(issue_key("admin"))
    http.get("/v1/datamap", headers=key)

    refused = http.get("/v1/datamap", headers=key)

    assert_too_many(refused)
    with sessions() as s:
        runtime.audit.integrate(s)
        s.commit()
        events = runtime.audit.events(s, limit=500)
    assert all(e.document.get("request_id") != refused.headers["X-Trace-Id"] for e in events)


def test_with_redis_down_each_app_still_limits_in_memory(runtime, issue_key) -> None:  # noqa: ANN001
    http = _limited_app(
        runtime, rate_limit_per_client="2 per minute", rate_limit_storage="redis://127.0.0.1:1/0"
    ).test_client()
    key = bearer(issue_key("admin"))

    statuses = [http.get("/v1/datamap", headers=key).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert_too_many(http.get("/v1/datamap", headers=key))
