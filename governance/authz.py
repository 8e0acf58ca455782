"""Roles and the permissions each grants. Endpoints name a permission, never a role."""

from __future__ import annotations

from enum import StrEnum

from governance.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    APPLICATION = "application"
    AUDITOR = "auditor"
    COMPLIANCE_OFFICER = "compliance_officer"


class Permission(StrEnum):
    AUDIT_READ = "audit.read"
    CLIENTS_MANAGE = "clients.manage"
    CONSENT_READ = "consent.read"
    CONSENT_WRITE = "consent.write"
    DATA_READ = "data.read"
    DATA_WRITE = "data.write"
    DATAMAP_READ = "datamap.read"
    JOBS_MANAGE = "jobs.manage"
    HOLDS_MANAGE = "holds.manage"
    KEYS_ROTATE = "keys.rotate"
    PII_ANALYZE = "pii.analyze"
    POLICY_READ = "policy.read"
    REQUESTS_MANAGE = "requests.manage"
    RETENTION_MANAGE = "retention.manage"
    ROPA_READ = "ropa.read"
    SELF_READ = "self.read"
    USERS_MANAGE = "users.manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.AUDIT_READ,
            Permission.CLIENTS_MANAGE,
            Permission.DATAMAP_READ,
            Permission.JOBS_MANAGE,
            Permission.KEYS_ROTATE,
            Permission.PII_ANALYZE,
            Permission.POLICY_READ,
            Permission.RETENTION_MANAGE,
            Permission.ROPA_READ,
            Permission.SELF_READ,
            Permission.USERS_MANAGE,
        }
    ),
    Role.APPLICATION: frozenset(
        {
            Permission.CONSENT_READ,
            Permission.CONSENT_WRITE,
            Permission.DATA_READ,
            Permission.DATA_WRITE,
            Permission.SELF_READ,
        }
    ),
    Role.AUDITOR: frozenset(
        {Permission.AUDIT_READ, Permission.POLICY_READ, Permission.ROPA_READ, Permission.SELF_READ}
    ),
    Role.COMPLIANCE_OFFICER: frozenset(
        {
            Permission.CONSENT_READ,
            Permission.CONSENT_WRITE,
            Permission.DATAMAP_READ,
            Permission.JOBS_MANAGE,
            Permission.HOLDS_MANAGE,
            Permission.PII_ANALYZE,
            Permission.POLICY_READ,
            Permission.REQUESTS_MANAGE,
            Permission.RETENTION_MANAGE,
            Permission.ROPA_READ,
            Permission.SELF_READ,
        }
    ),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def actor_may(role: str, permission: Permission) -> bool:
    """Whether an actor of ``role`` may do what ``permission`` guards. A role that is not a
    person's or a client's (the CLI's host ``operator``, ``system``) holds the host and may."""
    try:
        person = Role(role)
    except ValueError:
        return True
    return role_allows(person, permission)


def require(role: str, permission: Permission) -> None:
    """A use case's own check, whoever calls it (the HTTP layer checks first as well)."""
    if not actor_may(role, permission):
        raise Forbidden(f"this needs the {permission} permission, which this role lacks")
