"""Create, authenticate, list and revoke API clients.

A key is 32 random bytes (256 bits) shown once at creation. Only its SHA-256 is stored: a
slow password hash buys nothing for a secret with 256 bits of entropy, and a fast one keeps
authentication off the hot path. The lookup is by hash and the final comparison is constant
time. The first characters of the key (its prefix) are kept in clear so an operator can tell
keys apart in listings without holding them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from governance.authz import Role
from governance.clients.errors import ClientNameTaken, ClientNotFound, InvalidClient
from governance.clients.models import ApiClient
from governance.errors import Unauthenticated
from governance.prepared import PreparedSelect

KEY_PREFIX = "gk_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class IssuedKey:
    client: ApiClient
    key: str  # shown once, never stored


@dataclass(frozen=True)
class AuthenticatedClient:
    """The caller of one request, as authentication found it: a plain value rather than the
    ORM row, so that the per-request look-up is one driver-level query and nothing the
    request does can change the client through it."""

    id: str
    name: str
    role: str
    purposes: tuple[str, ...]

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


_BY_KEY_HASH = PreparedSelect(
    select(
        ApiClient.id,
        ApiClient.name,
        ApiClient.role,
        ApiClient.purposes,
        ApiClient.key_hash,
        ApiClient.revoked_at.is_(None).label("active"),
    ).where(ApiClient.key_hash == bindparam("key_hash"))
)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ClientService:
    def __init__(self, session: Session, known_purposes: Iterable[str] | None = None) -> None:
        """``known_purposes``: the policy's purpose ids; a client may hold only those."""
        self.session = session
        self.known_purposes = frozenset(known_purposes) if known_purposes is not None else None

    def create(self, name: str, role: str, purposes: Iterable[str] = ()) -> IssuedKey:
        errors: dict[str, list[str]] = {}
        if not _NAME.match(name or ""):
            errors["name"] = ["letters, digits, '.', '_' or '-', at most 100 characters"]
        try:
            role_enum = Role(role)
        except ValueError:
            errors["role"] = [f"must be one of {', '.join(r.value for r in Role)}"]
            role_enum = None
        purpose_list = sorted(set(purposes))
        bad = [p for p in purpose_list if not _PURPOSE.match(p)]
        if bad:
            errors["purposes"] = ["purpose ids are lower_snake_case"]
        elif self.known_purposes is not None and (
            unknown := [p for p in purpose_list if p not in self.known_purposes]
        ):
            errors["purposes"] = [
                f"no such purpose: {', '.join(unknown)} (known: "
                f"{', '.join(sorted(self.known_purposes))})"
            ]
        if role_enum is not None and role_enum is not Role.APPLICATION and purpose_list:
            errors["purposes"] = ["only application clients have purposes"]
        if errors:
            raise InvalidClient("the client is not valid", errors)
        if self.session.scalar(select(ApiClient.id).where(ApiClient.name == name)):
            raise ClientNameTaken(f"a client named {name!r} exists already")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        client = ApiClient(
            id=uuid.uuid4().hex,
            name=name,
            role=str(role_enum),
            purposes=purpose_list,
            key_prefix=key[:10],
            key_hash=hash_key(key),
            created_at=datetime.now(UTC),
        )
        self.session.add(client)
        self.session.flush()
        return IssuedKey(client=client, key=key)

    def issue_or_reissue(self, name: str, role: str, purposes: Iterable[str] = ()) -> IssuedKey:
        """Create the client, or give an existing one of that name a new key (the old one
        stops working). Used by the demo, whose keys cannot be shown twice."""
        existing = self.session.scalar(select(ApiClient).where(ApiClient.name == name))
        if existing is None:
            return self.create(name, role, purposes)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        existing.key_prefix = key[:10]
        existing.key_hash = hash_key(key)
        existing.revoked_at = None
        existing.role = role
        existing.purposes = list(purposes)  # the demo's grants may have changed since
        self.session.flush()
        return IssuedKey(client=existing, key=key)

    def authenticate(self, key: str) -> AuthenticatedClient:
        """Return the active client owning ``key``; raise Unauthenticated otherwise."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            raise Unauthenticated("the bearer key is not valid")
        digest = hash_key(key)
        found = _BY_KEY_HASH.rows(self.session, {"key_hash": digest})
        if not found or not hmac.compare_digest(found[0]["key_hash"], digest):
            raise Unauthenticated("the bearer key is not valid")
        row = found[0]
        if not row["active"]:
            raise Unauthenticated("the bearer key has been revoked")
        return AuthenticatedClient(
            id=row["id"], name=row["name"], role=row["role"], purposes=tuple(row["purposes"] or ())
        )

    def list(self, include_revoked: bool = True) -> Sequence[ApiClient]:
        query = select(ApiClient).order_by(ApiClient.created_at, ApiClient.name)
        if not include_revoked:
            query = query.where(ApiClient.revoked_at.is_(None))
        return self.session.scalars(query).all()

    def get(self, client_id_or_name: str) -> ApiClient:
        client = self.session.scalar(
            select(ApiClient).where(
                (ApiClient.id == client_id_or_name) | (ApiClient.name == client_id_or_name)
            )
        )
        if client is None:
            raise ClientNotFound("no such client")
        return client

    def revoke(self, client_id_or_name: str) -> ApiClient:
        client = self.get(client_id_or_name)
        if client.revoked_at is None:
            client.revoked_at = datetime.now(UTC)
            self.session.flush()
        return client
