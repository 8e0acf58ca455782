"""Refusals of the policy read/write path. The detail is the decision's reason: purposes,
collections and field names, dates and sources, never a value."""

from __future__ import annotations

from audit.events import AuditEvent
from governance.errors import Forbidden


class AccessDenied(Forbidden):
    """403 with ``reason`` (purpose, collection, field, consent, objection, restriction)."""

    type = "access-denied"
    title = "Denied by policy"
    # The denial's own audit event, recorded by the request after it rolls back.
    audit_event: AuditEvent | None = None

    def __init__(self, detail: str, reason: str, policy_version: str) -> None:
        super().__init__(detail, reason=reason)
        self.extra["policy_version"] = policy_version
