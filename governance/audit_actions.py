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
    DATAMAP_READ = "datamap.read"
    DEMO_LOADED = "demo.loaded"
    PII_ANALYZED = "pii.analyzed"
    PII_SCAN_COMPLETED = "pii.scan.completed"
    PII_SCAN_READ = "pii.scan.read"
    PII_SCAN_REQUESTED = "pii.scan.requested"
    POLICY_READ = "policy.read"
