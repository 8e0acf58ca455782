"""Client management as a use case: create or revoke an API client, audited with the acting
admin (or the CLI user) in the caller's unit of work. The API and the CLI both call these;
``ClientService`` underneath knows nothing of who asks."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Target
from audit.log import AuditLog
from governance.audit_actions import AuditAction
from governance.authz import Permission, require
from governance.clients.models import ApiClient
from governance.clients.services import ClientService, IssuedKey


class ClientAdmin:
    """Creates and revokes clients as ``actor``; flushes, never commits."""

    def __init__(
        self,
        session: Session,
        audit: AuditLog,
        actor: Actor,
        *,
        policy_version: str,
        known_purposes: Iterable[str],
        request_id: str | None = None,
    ) -> None:
        self.session = session
        self.audit = audit
        self.actor = actor
        self.policy_version = policy_version
        self.known_purposes = frozenset(known_purposes)
        self.request_id = request_id

    def create(self, name: str, role: str, purposes: Iterable[str] = ()) -> IssuedKey:
        """A new client and its key (shown once, by the caller); audited without the key."""
        require(self.actor.role, Permission.CLIENTS_MANAGE)
        issued = ClientService(self.session, self.known_purposes).create(name, role, purposes)
        self._audit(
            AuditAction.CLIENT_CREATED,
            issued.client,
            {
                "client_id": issued.client.id,
                "role": issued.client.role,
                "purposes": issued.client.purposes,
            },
        )
        return issued

    def revoke(self, client_id_or_name: str) -> ApiClient:
        """The client's key stops working (once; revoking again changes nothing)."""
        require(self.actor.role, Permission.CLIENTS_MANAGE)
        client = ClientService(self.session).revoke(client_id_or_name)
        self._audit(AuditAction.CLIENT_REVOKED, client, {"client_id": client.id, "revoked": True})
        return client

    def _audit(self, action: AuditAction, client: ApiClient, details: dict[str, object]) -> None:
        self.audit.record(
            self.session,
            AuditEvent(
                action=str(action),
                actor=self.actor,
                target=Target(record_id=client.id),
                policy_version=self.policy_version,
                request_id=self.request_id,
                details=details,
            ),
        )
