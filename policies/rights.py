"""What one purpose lets a client do, collection by collection, from the compiled access
policy: the same decisions the evaluator applies to every request, stated up front so a
developer can see them instead of discovering them by 403."""

from __future__ import annotations

from dataclasses import dataclass

from policies.access import AccessPolicy, Effect
from policies.types import SUBJECT_COLUMN

#: List filters that are oracles on a field: usable only where the field is shown as is.
FILTER_FIELDS: tuple[str, ...] = (SUBJECT_COLUMN, "email")


@dataclass(frozen=True)
class CollectionRights:
    collection: str
    read: dict[str, str]  # field -> "allow" or the mask applied
    write: tuple[str, ...]
    filters: tuple[str, ...]


def purpose_rights(access: AccessPolicy, purpose: str) -> tuple[CollectionRights, ...]:
    """Every collection the purpose may read or write; an unknown purpose has none."""
    grants = access.purposes.get(purpose)
    if grants is None:
        return ()
    found = []
    for name, collection in grants.collections.items():
        if not collection.readable and not collection.writable:
            continue
        read = {
            f: (str(d.mask) if d.effect is Effect.MASK and d.mask is not None else "allow")
            for f, d in collection.read.items()
            if d.returned
        }
        filters = tuple(
            f
            for f in FILTER_FIELDS
            if (d := collection.read.get(f)) is not None and d.effect is Effect.ALLOW
        )
        found.append(CollectionRights(name, read, tuple(sorted(collection.writable)), filters))
    return tuple(found)
