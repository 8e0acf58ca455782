"""Rate limits: a key-guessing address and a greedy client are stopped with a 429 problem
and ``Retry-After`` before they cost the stores anything.

Three limits, each a setting (``governance.settings``, docs/operations.md):

- **failed authentications per address** (``GOVERNANCE_RATE_LIMIT_AUTH_FAILURES``): only
  401 answers count; once spent, *every* request from that address is refused until the
  window moves on, so guessing keys stops after a handful, good key or not;
- **requests per address** (``GOVERNANCE_RATE_LIMIT_PER_ADDRESS``), whoever sends them;
- **requests per authenticated client** (``GOVERNANCE_RATE_LIMIT_PER_CLIENT``), by client id,
  so one application cannot take the service from the others at the same address.

The address limits are checked before the body is read and before the key is looked up;
the client limit needs the client, so it is checked right after authentication
(``install_address_limits`` and ``install_client_limits`` are called at those points of
``api.create_app``). Health probes are never limited. A 429 is not audited: writing an
event per refused request would give a flood the cost the limit saves.

The counting is the `limits` library's sliding-window counter, in memory per worker or in
Redis (``governance.rate_counter``, which also keeps counting in memory while Redis does not
answer). Until issue 27 the checks went through Flask-Limiter, the Flask extension over the
same library: it works out per request, for each of its instances, which application,
default, blueprint and decorated limits and which exemptions apply, and builds its runtime
limits again, about 60 us per instance per request even with those answers cached, for a
configuration that here is three fixed settings. These hooks parse the settings once and
make one storage call per limit: a few microseconds on the embedded default.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response, g, request
from limits import RateLimitItem, parse_many

from api.errors import problem
from governance.rate_counter import RateCounter
from governance.settings import Settings

#: Routes no limit applies to: load balancers and orchestrators poll them.
_UNLIMITED_ROUTES = frozenset({"/healthz", "/readyz"})
_EXTENSION_KEY = "rate_limiters"


class TooManyRequests(Exception):
    """A limit is spent; answered 429 with ``Retry-After`` (never audited)."""

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Limit:
    """One setting's limits (``10/second;500/minute`` is two), parsed once."""

    items: tuple[RateLimitItem, ...]
    scope: str
    refusal: str


class RequestLimits:
    """The three limits of one app (one gunicorn worker), over one counter."""

    def __init__(self, settings: Settings) -> None:
        self.counter = RateCounter(settings.rate_limit_storage)
        self.prefix = settings.rate_limit_key_prefix
        self.auth_failures = _limit(
            settings.rate_limit_auth_failures,
            "auth-failures",
            "too many failed authentications from this address",
        )
        self.per_address = _limit(
            settings.rate_limit_per_address, "address", "too many requests from this address"
        )
        self.per_client = _limit(
            settings.rate_limit_per_client, "client", "too many requests from this client"
        )

    def check_address(self) -> None:
        """before_request, ahead of the body and the key: the address's limits."""
        if self.auth_failures is None and self.per_address is None:
            return
        req = request._get_current_object()  # type: ignore[attr-defined]
        rule = req.url_rule
        if rule is not None and rule.rule in _UNLIMITED_ROUTES:
            return
        address = req.remote_addr or "unknown"  # the TCP peer; behind a proxy, the proxy
        if self.auth_failures is not None:
            self._refuse_if_spent(self.auth_failures, address)
        if self.per_address is not None:
            self._count(self.per_address, address)

    def check_client(self) -> None:
        """before_request, right after authentication: the client's limit."""
        client = getattr(g, "client", None)
        if self.per_client is None or client is None:
            return
        self._count(self.per_client, str(client.id))

    def count_failed_authentication(self, response: Response) -> Response:
        """after_request: a 401 spends one of the address's failed authentications."""
        if response.status_code == 401 and self.auth_failures is not None:
            address = request.remote_addr or "unknown"
            for item in self.auth_failures.items:
                self.counter.hit(item, self.prefix, self.auth_failures.scope, address)
        return response

    def _count(self, limit: _Limit, key: str) -> None:
        waits = [
            self.counter.retry_after(item, self.prefix, limit.scope, key)
            for item in limit.items
            if not self.counter.hit(item, self.prefix, limit.scope, key)
        ]
        if waits:
            raise TooManyRequests(limit.refusal, max(waits))

    def _refuse_if_spent(self, limit: _Limit, key: str) -> None:
        waits = [
            self.counter.retry_after(item, self.prefix, limit.scope, key)
            for item in limit.items
            if not self.counter.test(item, self.prefix, limit.scope, key)
        ]
        if waits:
            raise TooManyRequests(limit.refusal, max(waits))


def _limit(setting: str, scope: str, refusal: str) -> _Limit | None:
    """None for a limit set ``off`` (the settings keep "" for it)."""
    return _Limit(tuple(parse_many(setting)), scope, refusal) if setting else None


def _limits(app: Flask, settings: Settings) -> RequestLimits:
    found = app.extensions.get(_EXTENSION_KEY)
    if found is None:
        found = app.extensions[_EXTENSION_KEY] = RequestLimits(settings)
        app.register_error_handler(TooManyRequests, _too_many_requests)
    return found


def install_address_limits(app: Flask, settings: Settings) -> None:
    """The per-address limits; call where they must run (before the body and the key)."""
    limits = _limits(app, settings)
    if limits.auth_failures is not None or limits.per_address is not None:
        app.before_request(limits.check_address)
    if limits.auth_failures is not None:
        app.after_request(limits.count_failed_authentication)


def install_client_limits(app: Flask, settings: Settings) -> None:
    """The per-client limit; call after authentication has set ``g.client``."""
    limits = _limits(app, settings)
    if limits.per_client is not None:
        app.before_request(limits.check_client)


def _too_many_requests(error: TooManyRequests) -> Response:
    # Not audited (see the module docstring): the request's audit action is dropped.
    g.audit_action = None
    response = problem(
        429,
        "Too many requests",
        f"{error.description}; retry after {error.retry_after} s",
        "too-many-requests",
    )
    response.headers["Retry-After"] = str(error.retry_after)
    return response
