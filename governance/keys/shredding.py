"""Crypto-shredding: destroy a subject's data key so that every copy of its encrypted
fields, in the live CRM store and in every backup of it, becomes unreadable at once."""

from __future__ import annotations

from governance.audit_actions import AuditAction
from governance.keys.events import KeyAuditor
from governance.keys.services import KeyService


def shred_subject(keys: KeyService, events: KeyAuditor, subject_id: str) -> bool:
    """Destroy the key and audit it (subject id and key id only). True if a live key was
    destroyed; shredding twice is harmless and audited as such."""
    key_id = keys.shred(subject_id)
    details: dict[str, object] = {"shredded": key_id is not None}
    if key_id is not None:
        details["key_id"] = key_id
    events.record(AuditAction.KEY_SHREDDED, details, subject_id=subject_id)
    return key_id is not None
