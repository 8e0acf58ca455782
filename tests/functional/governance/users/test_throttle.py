"""The sign-in throttle on a real Redis (counts shared by every worker) and with a Redis that
does not answer (counts kept in memory rather than refusing or waving everyone through)."""

from __future__ import annotations

import uuid

from governance.users.throttle import SignInThrottle


def _spend(throttle: SignInThrottle, name: str, network: str) -> None:
    for _ in range(5):
        assert throttle.retry_after(name, network) is None
        throttle.failed(name, network)


def test_two_workers_sharing_redis_share_the_count_and_other_networks_are_untouched() -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    one = SignInThrottle("redis://127.0.0.1:6379", key_prefix=prefix)
    other = SignInThrottle("redis://127.0.0.1:6379", key_prefix=prefix)
    _spend(one, "demo-admin", "203.0.113.0/24")
    assert (other.retry_after("demo-admin", "203.0.113.0/24") or 0) > 0
    assert other.retry_after("demo-admin", "198.51.100.0/24") is None
    assert other.retry_after("another-name", "203.0.113.0/24") is None


def test_many_names_from_one_network_are_throttled_together() -> None:
    throttle = SignInThrottle()
    for index in range(50):
        throttle.failed(f"name-{index}", "203.0.113.0/24")
    assert (throttle.retry_after("a-fresh-name", "203.0.113.0/24") or 0) > 0
    assert throttle.retry_after("a-fresh-name", "198.51.100.0/24") is None


def test_a_success_forgets_the_names_failures_from_that_network() -> None:
    throttle = SignInThrottle()
    for _ in range(4):
        throttle.failed("demo-admin", "203.0.113.0/24")
    throttle.succeeded("demo-admin", "203.0.113.0/24")
    _spend(throttle, "demo-admin", "203.0.113.0/24")


def test_an_unreachable_redis_falls_back_to_counting_in_memory() -> None:
    throttle = SignInThrottle("redis://127.0.0.1:1", key_prefix=f"test-{uuid.uuid4().hex}")
    _spend(throttle, "demo-admin", "203.0.113.0/24")
    assert (throttle.retry_after("demo-admin", "203.0.113.0/24") or 0) > 0
