"""Counting requests in sliding windows, in Redis shared by every worker or in a worker's
memory, for the API's rate limits (``api.rate_limits``) and the console's sign-in throttle
(``governance.users.throttle``).

The counting itself is the `limits` library's (its sliding-window-counter strategy and its
storages, through their public API): this module adds what both users need around it.

- **A shared storage that fails does not stop or open the door.** When Redis stops
  answering, counts go to this worker's memory for ``STORAGE_RETRY_SECONDS``, then Redis is
  asked again (one warning each time it is given up).
- **No thread per count.** The library's memory storage sweeps expired counters from a
  10 ms ``threading.Timer`` that it starts again on a hit whenever the last one has ended:
  a thread start for most requests (about 1,000 per 1,500 reads, issue 27).
  :class:`SweptMemoryStorage` sweeps on the counting thread instead, at most once a second
  (a read expires a counter that is due in any case; the sweep only frees the memory of
  keys no one reads again).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)

#: After the shared storage failed, how long to count in memory before asking it again.
STORAGE_RETRY_SECONDS = 30
_SWEEP_EVERY_S = 1.0


class SweptMemoryStorage(MemoryStorage):
    """The library's memory storage without a thread per hit (see the module docstring)."""

    STORAGE_SCHEME = ["swept-memory"]  # the library's registry of storages by URI scheme

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: str
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the base's private hook
        # Replaces the base class's own (name-mangled) scheduling, which started a Timer.
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateCounter:
    """Sliding-window counts under keys, in the storage ``storage_uri`` names
    (``memory://`` for this worker's memory, ``redis://...`` for Redis), falling back to
    memory while a shared storage does not answer."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._memory = SlidingWindowCounterRateLimiter(SweptMemoryStorage())
        shared = (
            None
            if storage_uri == "memory://"
            else storage_from_string(storage_uri, wrap_exceptions=True)
        )
        # a synchronous storage (storage_from_string gives an async one only for async URIs)
        self._shared = (
            SlidingWindowCounterRateLimiter(shared) if isinstance(shared, Storage) else None
        )
        self._shared_down_until = 0.0

    def hit(self, item: RateLimitItem, *keys: str) -> bool:
        """Count one under ``keys``; False when ``item`` was already spent (not counted)."""
        try:
            return self._limiter().hit(item, *keys)
        except StorageError:
            self._storage_failed()
            return self._memory.hit(item, *keys)

    def test(self, item: RateLimitItem, *keys: str) -> bool:
        """Whether one more would be within ``item``, counting nothing."""
        try:
            return self._limiter().test(item, *keys)
        except StorageError:
            self._storage_failed()
            return self._memory.test(item, *keys)

    def clear(self, item: RateLimitItem, *keys: str) -> None:
        try:
            self._limiter().clear(item, *keys)
        except StorageError:
            self._storage_failed()
        self._memory.clear(item, *keys)

    def retry_after(self, item: RateLimitItem, *keys: str) -> int:
        """Whole seconds (at least 1) until ``item`` under ``keys`` frees a slot."""
        try:
            reset_at = self._limiter().get_window_stats(item, *keys).reset_time
        except StorageError:
            self._storage_failed()
            reset_at = self._memory.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            return self._shared
        return self._memory

    def _storage_failed(self) -> None:
        if time.monotonic() >= self._shared_down_until:
            log.warning(
                "the shared rate-limit storage did not answer; counting in this "
                "worker's memory for %d s",
                STORAGE_RETRY_SECONDS,
            )
        self._shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
