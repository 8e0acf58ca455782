"""Every action the service writes to the audit log, kept sorted. Dotted: <object>.<verb>."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    AUDIT_CHECKPOINT_READ = "audit.checkpoint.read"
    AUDIT_EVENTS_READ = "audit.events.read"
    AUDIT_EXPORTED = "audit.exported"
    AUDIT_PROOF_READ = "audit.proof.read"
    AUDIT_VERIFIED = "audit.verified"
    AUTH_DENIED = "auth.denied"
    CLIENT_CREATED = "client.created"
    CLIENT_LISTED = "client.listed"
    CLIENT_REVOKED = "client.revoked"
    CONSENT_ERASED = "consent.erased"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_IMPORTED = "consent.imported"
    CONSENT_OBJECTED = "consent.objected"
    CONSENT_OBJECTION_LIFTED = "consent.objection_lifted"
    CONSENT_READ = "consent.read"
    CONSENT_REBUILT = "consent.rebuilt"
    CONSENT_RECORDED = "consent.recorded"
    CONSENT_RESTRICTED = "consent.restricted"
    CONSENT_RESTRICTION_LIFTED = "consent.restriction_lifted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    DATAMAP_READ = "datamap.read"
    DEMO_LOADED = "demo.loaded"
    KEY_EXISTING_ENCRYPTED = "key.existing.encrypted"
    KEY_KEK_CREATED = "key.kek.created"
    KEY_REWRAP_PROGRESS = "key.rewrap.progress"
    KEY_ROTATED = "key.rotated"
    KEY_ROTATION_STARTED = "key.rotation.started"
    KEY_SHREDDED = "key.shredded"
    KEY_STATUS_READ = "key.status.read"
    POLICY_READ = "policy.read"
    PURPOSES_READ = "purposes.read"
