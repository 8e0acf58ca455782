"""Audit events of key operations: key ids, versions and counts, never key material.

Key-store changes commit on their own (see keystore.py), so their audit events are written
in units of work of their own too, right after the change they record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, AuditEvent, Target
from audit.log import AuditLog
from governance.audit_actions import AuditAction
from governance.db import unit_of_work


class KeyAuditor(Protocol):
    def record(
        self, action: AuditAction, details: Mapping[str, Any], *, subject_id: str | None = None
    ) -> None: ...


class KeyEvents(KeyAuditor):
    """Records each event in a unit of work of its own (CLI and background jobs). An HTTP
    request records into its own transaction instead (api/keys.py)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        actor: Actor,
        policy_version: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.audit = audit
        self.actor = actor
        self.policy_version = policy_version
        self.request_id = request_id

    def record(
        self, action: AuditAction, details: Mapping[str, Any], *, subject_id: str | None = None
    ) -> None:
        with unit_of_work(self.sessions) as session:
            self.audit.record(
                session,
                AuditEvent(
                    action=str(action),
                    actor=self.actor,
                    policy_version=self.policy_version,
                    request_id=self.request_id,
                    target=Target(subject_id=subject_id),
                    details=dict(details),
                ),
            )
