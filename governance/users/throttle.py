"""Slowing down password guessing without handing anyone a lock-out of someone else's account.

An account is never locked: a lock that five wrong passwords from anywhere set would let
any visitor shut ``demo-admin`` out with five requests. Instead failed sign-ins are counted
by where they come from (the client network, ``api.security_headers.client_network``):

- per (name typed, network): ``PER_NAME_AND_NETWORK`` failures, then that name is refused
  *from that network* until the window moves on; the person, from their own network, still
  signs in;
- per network: ``PER_NETWORK`` failures over every name, so one source cannot try a
  dictionary of names either.

The name typed is counted whether or not an account has it, so a refusal says nothing
about which names exist; it is stored only as a keyed hash (it may be someone's e-mail
address typed in the wrong box). A success clears its (name, network) count.

Counts live in the rate limits' storage (``GOVERNANCE_RATE_LIMIT_STORAGE``): in memory per
worker, or in Redis shared by all; if Redis stops answering the throttle counts in memory
rather than refusing everyone or letting everyone through.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)

PER_NAME_AND_NETWORK = "5 per 15 minutes"
PER_NETWORK = "50 per 15 minutes"
# After the shared storage failed, how long to count in memory before asking it again.
STORAGE_RETRY_SECONDS = 30


class SignInThrottle:
    """Counts failed sign-ins by source; says how long a source must wait, if at all."""

    def __init__(self, storage_uri: str = "memory://", *, key_prefix: str = "console-sign-in",
                 per_name_and_network: str = PER_NAME_AND_NETWORK,
                 per_network: str = PER_NETWORK) -> None:
        self._memory = MemoryStorage()
        shared = (None if storage_uri == "memory://"
                  else storage_from_string(storage_uri, wrap_exceptions=True))
        # a synchronous storage (storage_from_string gives an async one only for async URIs)
        self._shared: Storage | None = shared if isinstance(shared, Storage) else None
        self._shared_down_until = 0.0
        self._prefix = key_prefix
        self._per_pair: RateLimitItem = parse(per_name_and_network)
        self._per_network: RateLimitItem = parse(per_network)

    def retry_after(self, name: str, network: str) -> int | None:
        """Seconds the source must wait before it may try ``name`` again; None when it may."""
        limiter = self._limiter()
        try:
            return self._wait(limiter, name, network)
        except StorageError:
            self._storage_failed()
            return self._wait(self._limiter(), name, network)

    def failed(self, name: str, network: str) -> None:
        """Count a failed sign-in from ``network`` for ``name`` (known or not)."""
        try:
            self._hit(self._limiter(), name, network)
        except StorageError:
            self._storage_failed()
            self._hit(self._limiter(), name, network)

    def succeeded(self, name: str, network: str) -> None:
        """The right password: forget this name's failures from this network."""
        try:
            self._limiter().clear(self._per_pair, *self._pair(name, network))
        except StorageError:
            self._storage_failed()

    # -- internals ------------------------------------------------------------------------
    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        shared = self._shared is not None and time.monotonic() >= self._shared_down_until
        return SlidingWindowCounterRateLimiter(self._shared if shared and self._shared
                                               else self._memory)

    def _storage_failed(self) -> None:
        log.warning("sign-in throttle: the shared rate-limit storage did not answer; "
                    "counting in this worker's memory for %d s", STORAGE_RETRY_SECONDS)
        self._shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS

    def _pair(self, name: str, network: str) -> tuple[str, str, str]:
        digest = hashlib.blake2b(name.strip().lower().encode(), digest_size=16,
                                 key=self._prefix.encode()[:64]).hexdigest()
        return self._prefix, network, digest

    def _wait(self, limiter: SlidingWindowCounterRateLimiter, name: str,
              network: str) -> int | None:
        waits = []
        for item, keys in ((self._per_pair, self._pair(name, network)),
                           (self._per_network, (self._prefix, network))):
            if not limiter.test(item, *keys):
                reset_at = limiter.get_window_stats(item, *keys).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
        return max(waits) if waits else None

    def _hit(self, limiter: SlidingWindowCounterRateLimiter, name: str, network: str) -> None:
        limiter.hit(self._per_pair, *self._pair(name, network))
        limiter.hit(self._per_network, self._prefix, network)
