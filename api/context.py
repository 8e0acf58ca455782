"""Request-scoped access to the runtime, the session and the authenticated client."""

from __future__ import annotations

from typing import TypeVar

from flask import current_app, g
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent
from governance.clients.services import AuthenticatedClient
from governance.jobs.after_commit import AfterCommit
from governance.runtime import Runtime

EXTENSION_KEY = "governance"
T = TypeVar("T")


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]


def db() -> Session:
    return g.session


def client() -> AuthenticatedClient:
    return g.client


def actor() -> Actor:
    found = getattr(g, "client", None)
    if found is None:
        return Actor(id="anonymous", role="none")
    return Actor(id=found.id, role=found.role)


def audited_by_service() -> None:
    """The service called by this request wrote its own audit events in the request's
    transaction; the generic request event is then not needed."""
    g.audited = True


def deliver_after_commit(job_id: str) -> None:
    """Hand the job to the runner once this request's transaction committed (never before:
    a worker must find the job, and a rolled-back request must deliver nothing)."""
    g.deliveries.append(job_id)


def delivered(done: AfterCommit[T]) -> T:
    """A use case's result, its jobs handed to the runner once this request committed and
    its audit events (written by the service in this transaction) standing for the
    request's."""
    audited_by_service()
    for job_id in done.jobs:
        deliver_after_commit(job_id)
    return done.value


def record(event: AuditEvent) -> None:
    """Record a domain event for this request; the generic request event is then skipped."""
    if event.request_id is None:
        from dataclasses import replace

        event = replace(event, request_id=g.request_id)
    if getattr(g, "read_only", False):
        event.validate()  # refuse an unsafe event now, not after the read
        g.pending_audit.append(event)
    else:
        runtime().audit.record(db(), event)
    g.audited = True
