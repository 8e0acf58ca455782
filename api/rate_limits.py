"""Rate limits, with Flask-Limiter: a key-guessing address and a greedy client are stopped
with a 429 problem and ``Retry-After`` before they cost the stores anything.

Three limits, each a setting (``governance.settings``, docs/operations.md):

- **failed authentications per address** (``GOVERNANCE_RATE_LIMIT_AUTH_FAILURES``): only
  401 answers count; once spent, *every* request from that address is refused until the
  window moves on, so guessing keys stops after a handful, good key or not;
- **requests per address** (``GOVERNANCE_RATE_LIMIT_PER_ADDRESS``), whoever sends them;
- **requests per authenticated client** (``GOVERNANCE_RATE_LIMIT_PER_CLIENT``), by client id,
  so one application cannot take the service from the others at the same address.

The address limits are checked by one limiter before the body is read and before the key
is looked up; the client limit needs the client, so a second limiter checks it right after
authentication (``install_address_limits`` and ``install_client_limits`` are called at
those points of ``api.create_app``). Health probes are never limited.

Counts live in memory (each gunicorn worker counts on its own, so the service as a whole
allows up to workers x the limit) or, when ``GOVERNANCE_RATE_LIMIT_STORAGE`` names Redis, in
Redis, shared by all workers and hosts; if Redis stops answering, each worker falls back to
counting in memory rather than refusing or waving everything through. A 429 is not
audited: writing an event per refused request would give a flood the cost the limit saves.

The embedded default counts in :class:`SweptMemoryStorage`, the `limits` library's memory
storage registered under a scheme of its own (``swept-memory://``, the library's extension
point for storages): the library's sweeps expired counters from a 10 ms ``threading.Timer``
that it starts again on a hit whenever the last one has ended, which cost most requests a
thread start (about 1,000 per 1,500 reads, issue 27). Counters are expired when read in
either storage; this one sweeps the rest on the requesting thread, at most once a second.

Flask-Limiter works out, for every request and each limiter, which limits and exemptions
apply (application, default, blueprint and decorated limits, route and blueprint
exemptions): about 40% of its cost per request, for an answer that only changes when a
limit or an exemption is declared. Its ``LimitManager`` (the one place those declarations
are kept) is replaced by :class:`SettledLimitManager`, which remembers the answers until the
next declaration; the checks themselves (exemption and key functions, the storage's hit)
still run per request as the library makes them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from flask_limiter import (
    ApplicationLimit,
    ExemptionScope,
    Limiter,
    RateLimitExceeded,
    RequestLimit,
)
from flask_limiter._manager import LimitManager  # the library's registry of declared limits
from limits.storage import MemoryStorage

from api.errors import problem
from governance.settings import Settings

if TYPE_CHECKING:
    from flask_limiter._limits import RuntimeLimit  # what a limit yields, per Flask-Limiter

#: Routes no limit applies to: load balancers and orchestrators poll them.
_UNLIMITED_ROUTES = frozenset({"/healthz", "/readyz"})
_STRATEGY = "sliding-window-counter"  # constant storage per key, no burst at window edges
_SWEEP_EVERY_S = 1.0


class SweptMemoryStorage(MemoryStorage):
    """The library's memory storage without a thread per hit: its expiry sweep runs on the
    thread that counts, at most once every ``_SWEEP_EVERY_S`` (reads expire a counter that
    is due in any case, so the sweep only frees the memory of keys no one reads again)."""

    STORAGE_SCHEME = ["swept-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the base's private hook
        # Replaces the base class's own (name-mangled) scheduling, which started a Timer.
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class ParsedLimit(ApplicationLimit):
    """An application limit whose limit string is parsed once: Flask-Limiter's own parses
    it, and builds its runtime limits, again on every request (a third of the limiter's
    cost per request). The limits are fixed settings; the key, scope and exemption
    functions still run per request as the library calls them."""

    def __iter__(self) -> Iterator[RuntimeLimit]:
        built: list[RuntimeLimit] | None = self.__dict__.get("_built")
        if built is None:  # after init_app has bound the limiter (its key function)
            built = self.__dict__["_built"] = list(super().__iter__())
        return iter(built)


class SettledLimitManager(LimitManager):
    """Flask-Limiter's limit manager, remembering which limits and exemptions apply to an
    endpoint and blueprint. Every declaration (a limit, an exemption, an endpoint hint; all
    of them go through this manager's ``add_*`` and ``set_*`` methods) forgets what was
    remembered, so the answers are always the base class's for the declarations made."""

    def __init__(self, manager: LimitManager) -> None:
        # The declarations the limiter's own manager holds (the same dicts, shared with the
        # limiter, which declares through the manager's methods).
        super().__init__(
            application_limits=manager._application_limits,
            default_limits=manager._default_limits,
            decorated_limits=manager._decorated_limits,
            blueprint_limits=manager._blueprint_limits,
            route_exemptions=manager._route_exemptions,
            blueprint_exemptions=manager._blueprint_exemptions,
        )
        self._endpoint_hints = manager._endpoint_hints
        self._resolved: dict[tuple[Any, ...], tuple[list[RuntimeLimit], ...]] = {}
        self._exemptions: dict[tuple[Any, ...], ExemptionScope] = {}

    def resolve_limits(self, app: Flask, endpoint: str | None = None,
                       blueprint: str | None = None, callable_name: str | None = None,
                       in_middleware: bool = False, marked_for_limiting: bool = False,
                       ) -> tuple[list[RuntimeLimit], ...]:
        key = (app, endpoint, blueprint, callable_name, in_middleware, marked_for_limiting)
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = self._resolved[key] = super().resolve_limits(
                app, endpoint, blueprint, callable_name, in_middleware, marked_for_limiting)
        # Fresh lists: the limiter's callers may extend what they are given.
        return tuple(list(limits) for limits in resolved)

    def exemption_scope(self, app: Flask, endpoint: str | None,
                        blueprint: str | None) -> ExemptionScope:
        key = (app, endpoint, blueprint)
        scope = self._exemptions.get(key)
        if scope is None:
            scope = self._exemptions[key] = super().exemption_scope(app, endpoint, blueprint)
        return scope

    def _forget(self) -> None:
        self._resolved.clear()
        self._exemptions.clear()

    def set_application_limits(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().set_application_limits(*args, **kwargs)

    def set_default_limits(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().set_default_limits(*args, **kwargs)

    def add_decorated_limit(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().add_decorated_limit(*args, **kwargs)

    def add_blueprint_limit(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().add_blueprint_limit(*args, **kwargs)

    def add_route_exemption(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().add_route_exemption(*args, **kwargs)

    def add_blueprint_exemption(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().add_blueprint_exemption(*args, **kwargs)

    def add_endpoint_hint(self, *args: Any, **kwargs: Any) -> None:
        self._forget()
        super().add_endpoint_hint(*args, **kwargs)


def _storage_uri(settings: Settings) -> str:
    """The storage the settings name; the embedded default's memory is the swept one."""
    return ("swept-memory://" if settings.rate_limit_storage == "memory://"
            else settings.rate_limit_storage)


def install_address_limits(app: Flask, settings: Settings) -> None:
    """The per-address limits; call where they must run (before the body and the key)."""
    limits: list[ApplicationLimit] = []
    if settings.rate_limit_auth_failures:
        limits.append(ParsedLimit(
            settings.rate_limit_auth_failures, scope="auth-failures",
            deduct_when=lambda response: response.status_code == 401,
            error_message="too many failed authentications from this address"))
    if settings.rate_limit_per_address:
        limits.append(ParsedLimit(
            settings.rate_limit_per_address, scope="address",
            error_message="too many requests from this address"))
    _install(app, settings, limits, _remote_address, "address")


def install_client_limits(app: Flask, settings: Settings) -> None:
    """The per-client limit; call after authentication has set ``g.client``."""
    limits: list[ApplicationLimit] = []
    if settings.rate_limit_per_client:
        limits.append(ParsedLimit(
            settings.rate_limit_per_client, scope="client",
            error_message="too many requests from this client"))
    _install(app, settings, limits, _client_id, "client", exempt=lambda: _client_id() == "")


def _install(app: Flask, settings: Settings, limits: list[ApplicationLimit],
             key: Callable[[], str], name: str,
             exempt: Callable[[], bool] | None = None) -> None:
    if not limits:
        return
    limiter = Limiter(
        key,
        application_limits=list[str | Callable[[], str] | ApplicationLimit](limits),
        storage_uri=_storage_uri(settings),
        strategy=_STRATEGY,
        key_prefix=f"{settings.rate_limit_key_prefix}:{name}",
        # X-RateLimit-* on every answer would cost a storage read per request; Retry-After
        # is set on the 429 itself (on_breach, below).
        headers_enabled=False,
        in_memory_fallback_enabled=settings.rate_limit_storage != "memory://",
        on_breach=_remember_retry_after,
    )
    limiter.limit_manager = SettledLimitManager(limiter.limit_manager)
    limiter.request_filter(_unlimited)
    if exempt is not None:
        limiter.request_filter(exempt)
    limiter.init_app(app)
    app.extensions.setdefault("rate_limiters", {})[name] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many_requests)


def _unlimited() -> bool:
    rule = request.url_rule
    return rule is not None and rule.rule in _UNLIMITED_ROUTES


def _remote_address() -> str:
    # The TCP peer. Behind a reverse proxy that is the proxy (docs/security.md).
    return request.remote_addr or "unknown"


def _client_id() -> str:
    client = getattr(g, "client", None)
    return str(client.id) if client is not None else ""


def _remember_retry_after(limit: RequestLimit) -> None:
    # Called once per breached limit: the client must wait for the latest of them.
    wait = max(1, math.ceil(limit.reset_at - time.time()))
    g.retry_after = max(wait, getattr(g, "retry_after", 0))


def _too_many_requests(error: RateLimitExceeded) -> Response:
    # Not audited (see the module docstring): the request's audit action is dropped.
    g.audit_action = None
    retry_after = getattr(g, "retry_after", 1)
    response = problem(429, "Too many requests",
                       f"{error.description}; retry after {retry_after} s", "too-many-requests")
    response.headers["Retry-After"] = str(retry_after)
    return response
