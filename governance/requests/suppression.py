"""The erasure suppression list: a later write of an erased subject's email is flagged.

After an erasure the service keeps one thing: the keyed blind index of the subject's email
(``erasure_suppressions``). It cannot be reversed to the email without the index key, it
names no subject id, and it is kept as the record that the erasure was done and must stay
done (GDPR Art. 17(3)(b) and Art. 5(2): the controller must be able to demonstrate
compliance; without it an import from an old source would silently recreate the person,
and the erasure would be undone without anyone noticing).

``check`` is what a write path (the data API's POST of a subject record, an import) calls
with the values it is about to write: a match is audited (``request.suppression.matched``,
with the collection, the record id and, for a subject record, its subject id; never the
value). The writer is told nothing (a flag in an application's answer would let any
application test whether a person was erased); compliance officers are: ``returned``
lists the subjects whose e-mail is on the list, for their queue and subject look-up.
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
from governance.store.schema import CrmTables
from policies.types import ID_COLUMN, DataMap


class SuppressionList:
    def __init__(
        self,
        session: Session,
        datamap: DataMap,
        crypto: FieldCrypto,
        audit: Any,
        actor: Actor,
        *,
        policy_version: str | None = None,
        request_id: str | None = None,
    ) -> None:
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

    def check(
        self, collection: str, values: Mapping[str, Any], record_id: str | None = None
    ) -> bool:
        """``matches``, and audit a match in the caller's transaction."""
        if not self.matches(collection, values):
            return False
        subject = record_id if collection == self.datamap.subject_collection else None
        self.audit.record(
            self.session,
            AuditEvent(
                action=str(AuditAction.REQUEST_SUPPRESSION_MATCHED),
                actor=self.actor,
                target=Target(collection=collection, record_id=record_id, subject_id=subject),
                policy_version=self.policy_version,
                request_id=self.request_id,
                reason="matches an erased subject",
            ),
        )
        return True


def returned_subjects(
    session: Session,
    datamap: DataMap,
    tables: CrmTables,
    *,
    subject_id: str | None = None,
    limit: int = 50,
) -> list[str]:
    """Ids of subjects whose e-mail's blind index is on the suppression list (an erased
    person's e-mail written again), in id order; with ``subject_id``, that subject or none.
    For compliance officers only: the application that wrote the record is never told."""
    field = email_field(datamap)
    if field is None or field.blind_index_column is None:
        return []
    table = tables[datamap.subject_collection]
    query = (
        select(table.c[ID_COLUMN])
        .join(
            ErasureSuppression, ErasureSuppression.email_bidx == table.c[field.blind_index_column]
        )
        .order_by(table.c[ID_COLUMN])
        .limit(limit)
    )
    if subject_id is not None:
        query = query.where(table.c[ID_COLUMN] == subject_id)
    return list(session.scalars(query))
