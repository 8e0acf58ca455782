"""The HTTP app: ``create_app(settings)`` and the request's unit of work.

Per request: a request id, one database session, authentication and the permission check
(``api.auth``), the view, then one commit that carries the change and its audit event
together. A request that fails is rolled back, and its denial or failure is audited in a
fresh transaction, so a refused request changes nothing but still leaves a trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from inspect import iscoroutinefunction
from types import FunctionType
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from api import audit as audit_views
from api import clients as client_views
from api import consent as consent_views
from api import data as data_views
from api import datamap as datamap_views
from api import docs as docs_views
from api import health as health_views
from api import holds as hold_views
from api import jobs as job_views
from api import keys as key_views
from api import me as me_views
from api import pii as pii_views
from api import policy as policy_views
from api import purposes as purpose_views
from api import requests as request_views
from api import retention as retention_views
from api import ropa as ropa_views
from api import subjects as subject_views
from api.auth import authenticate_request, check_declarations, declaration, is_console
from api.console import register_console
from api.context import EXTENSION_KEY
from api.conventions import add_conventional_headers
from api.errors import problem, register_error_handlers
from api.inflight import install_inflight_bound
from api.openapi import ProblemApi, document_operations
from api.query_params import refuse_unknown_query_parameters
from api.rate_limits import install_address_limits, install_client_limits
from api.request_body import buffer_unsized_body, refuse_unholdable_json
from api.security_headers import add_security_headers
from audit.events import AuditEvent, Outcome, Target
from audit.group_commit import AuditGroupCommit, GroupCommitFailed
from audit.integrator import BackgroundIntegrator
from governance.audit_actions import AuditAction
from governance.db import failure_cause, ping
from governance.jobs.runners import BrokerUnavailable
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings

log = logging.getLogger("api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
#: The worker's group commit of read events (audit.group_commit), in ``app.extensions``.
GROUP_COMMIT_KEY = "audit_group_commit"


class GatewayFlask(Flask):
    """Flask, remembering which of its hooks and handlers are plain functions.

    Flask asks :meth:`ensure_sync` about every hook, view and handler it calls (about 22
    times a request here), and each answer inspects the function's code flags. A plain
    ``def`` never becomes a coroutine function, so the answer for one is kept; bound
    methods (a class-based view's, made afresh per request) are asked about every time,
    so the set holds only functions the app registered and does not grow per request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_functions: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if type(func) is FunctionType:  # hashable, unlike some callable objects
            if func in self._plain_functions:
                return func
            if not iscoroutinefunction(func):
                self._plain_functions.add(func)
                return func
        return super().ensure_sync(func)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    background_integrator: bool = True,
) -> Flask:
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    # A serving worker never creates a key: only the first run does (governance init).
    runtime = runtime or open_runtime(settings, create_keys=False)
    app = GatewayFlask("api")
    app.config.update(
        API_TITLE="CRM privacy gateway",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions[EXTENSION_KEY] = runtime
    app.extensions[GROUP_COMMIT_KEY] = AuditGroupCommit(runtime.audit)
    api = ProblemApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    for module in (
        health_views,
        datamap_views,
        policy_views,
        audit_views,
        client_views,
        key_views,
        purpose_views,
        consent_views,
        pii_views,
        data_views,
        request_views,
        subject_views,
        me_views,
        job_views,
        hold_views,
        retention_views,
        ropa_views,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs_views.blp)
    register_console(app, runtime)
    # The OpenAPI document (flask-smorest's own blueprint) is served unauthenticated.
    app.extensions["public_endpoints"] = {
        e for e in app.view_functions if e.startswith("api-docs.")
    } | {"console.static"}
    document_operations(api, app)
    register_error_handlers(app)
    # before_request hooks run in this order. The address limits come before anything that
    # costs (reading the body, looking up the key); the client limit needs the client.
    app.before_request(_begin)
    install_address_limits(app, settings)
    app.before_request(_check_body)
    app.before_request(refuse_unknown_query_parameters)
    app.before_request(authenticate_request)
    install_client_limits(app, settings)
    install_inflight_bound(app)  # one client's PII checks in flight (api.inflight)
    # after_request hooks run last-registered first: the security headers go on whatever
    # _finish answers, its own 503 included.
    app.after_request(add_security_headers)
    app.after_request(_finish)
    app.after_request(add_conventional_headers)
    app.teardown_request(_close)
    check_declarations(app)
    if background_integrator:
        # A serving worker opens both stores before it takes traffic: one that cannot,
        # fails to boot (and retries, api.gunicorn_worker) instead of failing requests.
        ping(runtime.engine)
        ping(runtime.keys.keystore.engine)
        integrator = BackgroundIntegrator(runtime.sessions, runtime.audit)
        integrator.start()
        app.extensions["audit_integrator"] = integrator
        # Jobs a crash left behind (a killed worker's lease, an undelivered job) are taken
        # up again by the reaper: a rotation or an erasure continues with nothing typed.
        runtime.task_runner.start_reaper()
    return app


def _begin() -> None:
    # Our trace id is always minted here: a client's X-Request-Id could repeat an earlier
    # one and make two audit events look like one exchange. The client's value, when well
    # formed, is kept apart and echoed back as X-Client-Request-Id for its own correlation.
    # ``g`` and ``request`` are looked up once: each use of the proxies is a context look-up.
    ctx_g, req = g._get_current_object(), request._get_current_object()  # type: ignore[attr-defined]
    supplied = req.headers.get("X-Request-Id", "")
    ctx_g.request_id = uuid.uuid4().hex
    ctx_g.client_request_id = supplied if _REQUEST_ID.match(supplied) else None
    ctx_g.audited = False
    ctx_g.audit_action = None
    ctx_g.denial_event = None
    ctx_g.pending_audit = []
    ctx_g.deliveries = []
    runtime: Runtime = _runtime()
    target = ctx_g.declaration = declaration(req.endpoint, req.method)
    ctx_g.read_only = read_only = bool(getattr(target, "_read_only", False))
    sessions = (runtime.read_sessions or runtime.sessions) if read_only else runtime.sessions
    ctx_g.session = sessions()


def _check_body() -> None:
    """413/415 and JSON the service cannot hold (api.request_body), before any view."""
    runtime: Runtime = _runtime()
    if is_console(g.declaration):
        return  # the console's forms: urlencoded bodies, each with its CSRF token
    if request.method in _BODY_METHODS:
        length = request.content_length
        if length is not None and length > runtime.settings.max_request_bytes:
            raise RequestEntityTooLarge("the request body is larger than this service accepts")
        if (length or request.headers.get("Transfer-Encoding")) and not request.is_json:
            raise UnsupportedMediaType("send the body as application/json")
        buffer_unsized_body(runtime.settings.max_request_bytes)
        if request.is_json:
            refuse_unholdable_json()


def _runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]


def _finish(response: Response) -> Response:
    ctx_g = g._get_current_object()  # one look-up of the proxy
    response.headers["X-Trace-Id"] = getattr(ctx_g, "request_id", "")
    if getattr(ctx_g, "client_request_id", None):
        response.headers["X-Client-Request-Id"] = ctx_g.client_request_id
    session = getattr(ctx_g, "session", None)
    if session is None:
        return response
    try:
        if response.status_code < 400:
            if ctx_g.read_only and session.get_bind().dialect.name == "sqlite":
                # SQLite: end the read (and its snapshot) first; the audit write then starts
                # a transaction of its own, so it never has to upgrade a reader's snapshot
                # (in WAL mode that upgrade fails outright once another worker has written),
                # and shares it with the concurrent reads of this worker (group commit,
                # audit.group_commit). PostgreSQL has no such upgrade: the event rides in
                # the read's own transaction and shares its commit (docs/operations.md).
                session.rollback()
                events = list(ctx_g.pending_audit)
                if ctx_g.audit_action is not None and not ctx_g.audited:
                    events.append(_request_event(response.status_code, Outcome.ALLOWED))
                if events:
                    current_app.extensions[GROUP_COMMIT_KEY].commit(session, events)
            else:
                if ctx_g.read_only and ctx_g.pending_audit:
                    audit = _runtime().audit
                    for event in ctx_g.pending_audit:
                        audit.record(session, event)
                if ctx_g.audit_action is not None and not ctx_g.audited:
                    _audit_request(response.status_code, Outcome.ALLOWED)
                session.commit()
        else:
            session.rollback()
            if response.status_code in (401, 403) or g.audit_action is not None:
                outcome = Outcome.DENIED if response.status_code < 500 else Outcome.FAILED
                _audit_request(response.status_code, outcome)
                session.commit()
    except Exception as exc:  # noqa: BLE001 - the commit failed: the answer must not be 2xx
        session.rollback()
        cause = exc.__cause__ if isinstance(exc, GroupCommitFailed) and exc.__cause__ else exc
        log.error(
            "commit failed for request %s: %s (%s)",
            g.request_id,
            failure_cause(cause),
            type(cause).__name__,
        )
        detail = (
            "the request could not be recorded; try again later"
            if g.read_only
            else "the change could not be stored; nothing was changed"
        )
        return problem(503, "Service unavailable", detail, "unavailable")
    if g.deliveries and response.status_code < 400:
        return _deliver(response, list(g.deliveries))
    return response


def _deliver(response: Response, job_ids: list[str]) -> Response:
    """The jobs this request created are committed: hand them to the runner. A broker that
    does not answer loses nothing (the reaper delivers them later) but must be said."""
    runner = _runtime().task_runner
    if runner.deliver_on_close:
        response.call_on_close(lambda: runner.deliver(job_ids))
        return response
    try:
        runner.deliver(job_ids, fail_fast=True)  # a broker found down is not waited on
    except BrokerUnavailable as unavailable:
        return problem(
            503, unavailable.title, unavailable.detail, unavailable.type, job_ids=job_ids
        )
    return response


def _audit_request(status: int, outcome: Outcome) -> None:
    _runtime().audit.record(g.session, _request_event(status, outcome))


def _request_event(status: int, outcome: Outcome) -> AuditEvent:
    """The event of a request whose view recorded none of its own."""
    from api.context import actor

    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    details: dict[str, Any] = {"method": request.method, "route": rule, "http_status": status}
    denial: AuditEvent | None = getattr(g, "denial_event", None)
    if denial is not None:
        return replace(denial, details={**denial.details, **details})
    action = g.audit_action
    reason = None
    if status == 401:
        action, reason = AuditAction.AUTH_DENIED, "unauthenticated"
    elif status == 403:
        action, reason = AuditAction.AUTH_DENIED, "forbidden"
    elif status >= 400:
        reason = "client error" if status < 500 else "server error"
    return AuditEvent(
        action=str(action),
        actor=actor(),
        outcome=outcome,
        reason=reason,
        target=Target(),
        policy_version=_runtime().policy.version,
        request_id=g.request_id,
        details=details,
    )


def _close(_exc: BaseException | None) -> None:
    session = g.pop("session", None)
    if session is not None:
        session.close()
