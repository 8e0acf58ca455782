"""The erasure suppression list: a later write of an erased subject's email is flagged.

After an erasure the service keeps one thing: the keyed blind index of the subject's email
(``erasure_suppressions``). It cannot be reversed to the email without the index key, it
names no subject id, and it is kept as the record that the erasure was done and must stay
done (GDPR Art. 17(3)(b) and Art. 5(2): the controller must be able to demonstrate
compliance; without it an import from an old source would silently recreate the person,
and the erasure would be undone without anyone noticing).

``check`` is what a write path (the data API's POST of a subject record, an import) calls
with the values it is about to write: a match is audited (``request.suppression.matched``,
with the collection and record id, never the value) and returned, so the caller can flag
the record for the compliance officer rather than recreate the person silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.keys.services import FieldCrypto
from governance.requests.erasure import email_field
from governance.requests.models import ErasureSuppression
from policies.types import DataMap


class SuppressionList:
    def __init__(self, session: Session, datamap: DataMap, crypto: FieldCrypto, audit: Any,
                 actor: Actor, *, policy_version: str | None = None,
                 request_id: str | None = None) -> None:
        self.session = session
        self.datamap = datamap
        self.crypto = crypto
        self.audit = audit
        self.actor = actor
        self.policy_version = policy_version
        self.request_id = request_id

    def matches(self, collection: str, values: Mapping[str, Any]) -> bool:
        """The values would recreate an erased subject (their email is suppressed)."""
        field = email_field(self.datamap)
        if collection != self.datamap.subject_collection or field is None:
            return False
        value = values.get(field.name)
        if not isinstance(value, str) or not value.strip():
            return False
        index = self.crypto.blind_index(collection, field.name, value)
        found = self.session.scalar(
            select(ErasureSuppression.email_bidx).where(ErasureSuppression.email_bidx == index)
        )
        return found is not None

    def check(self, collection: str, values: Mapping[str, Any],
              record_id: str | None = None) -> bool:
        """``matches``, and audit a match in the caller's transaction."""
        if not self.matches(collection, values):
            return False
        self.audit.record(self.session, AuditEvent(
            action=str(AuditAction.REQUEST_SUPPRESSION_MATCHED), actor=self.actor,
            target=Target(collection=collection, record_id=record_id),
            policy_version=self.policy_version, request_id=self.request_id,
            reason="matches an erased subject",
        ))
        return True
