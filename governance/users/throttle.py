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

from limits import RateLimitItem, parse

from governance.rate_counter import RateCounter

PER_NAME_AND_NETWORK = "5 per 15 minutes"
PER_NETWORK = "50 per 15 minutes"


class SignInThrottle:
    """Counts failed sign-ins by source; says how long a source must wait, if at all."""

    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        key_prefix: str = "console-sign-in",
        per_name_and_network: str = PER_NAME_AND_NETWORK,
        per_network: str = PER_NETWORK,
    ) -> None:
        self._counts = RateCounter(storage_uri)
        self._prefix = key_prefix
        self._per_pair: RateLimitItem = parse(per_name_and_network)
        self._per_network: RateLimitItem = parse(per_network)

    def retry_after(self, name: str, network: str) -> int | None:
        """Seconds the source must wait before it may try ``name`` again; None when it may."""
        waits = [
            self._counts.retry_after(item, *keys)
            for item, keys in (
                (self._per_pair, self._pair(name, network)),
                (self._per_network, (self._prefix, network)),
            )
            if not self._counts.test(item, *keys)
        ]
        return max(waits) if waits else None

    def failed(self, name: str, network: str) -> None:
        """Count a failed sign-in from ``network`` for ``name`` (known or not)."""
        self._counts.hit(self._per_pair, *self._pair(name, network))
        self._counts.hit(self._per_network, self._prefix, network)

    def succeeded(self, name: str, network: str) -> None:
        """The right password: forget this name's failures from this network."""
        self._counts.clear(self._per_pair, *self._pair(name, network))

    def _pair(self, name: str, network: str) -> tuple[str, str, str]:
        digest = hashlib.blake2b(
            name.strip().lower().encode(), digest_size=16, key=self._prefix.encode()[:64]
        ).hexdigest()
        return self._prefix, network, digest
