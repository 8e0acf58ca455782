"""The per-client bound on expensive requests in flight (api.inflight), across threads."""

from __future__ import annotations

import threading

from api.inflight import InFlight


def test_a_client_past_its_share_is_refused_and_admitted_again_once_one_ends() -> None:
    bound = InFlight(per_client=2, total=6)

    assert bound.enter("greedy") is None
    assert bound.enter("greedy") is None
    assert bound.enter("greedy") == "client"
    assert bound.enter("other") is None  # another client keeps its own share
    bound.leave("greedy")
    assert bound.enter("greedy") is None


def test_all_clients_together_leave_threads_for_cheap_requests() -> None:
    bound = InFlight.for_threads(8)

    admitted = [bound.enter(f"app-{n}") for n in range(8)]

    assert (bound.per_client, bound.total) == (2, 6)
    assert admitted == [None] * 6 + ["worker", "worker"]


def test_counts_stay_exact_under_many_threads() -> None:
    bound = InFlight(per_client=1_000_000, total=1_000_000)

    def churn() -> None:
        for _ in range(2_000):
            assert bound.enter("app") is None
            bound.leave("app")

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    bound.per_client, bound.total = 1, 1  # nothing left counted: exactly one more fits
    assert bound.enter("app") is None
    assert bound.enter("app") == "client"
    assert bound.enter("other") == "worker"
