"""What each purpose may see, summarised from the compiled ``access.yaml``.

One summary for every reader: ``governance policy check`` prints it and the console's
purposes page shows it, so the two can never tell an officer different things. Only fields
a rule grants are listed (deny by default: anything not listed is denied).
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.access import AccessPolicy
from policies.purposes import PurposeSet


@dataclass(frozen=True)
class FieldGrant:
    field: str
    mask: str | None  # None: returned as stored
    writable: bool

    @property
    def label(self) -> str:
        """``field``, ``field:mask``, with ``*`` when the purpose may also write it."""
        return (self.field if self.mask is None else f"{self.field}:{self.mask}") + (
            "*" if self.writable else ""
        )


@dataclass(frozen=True)
class CollectionGrants:
    collection: str
    fields: tuple[FieldGrant, ...]


@dataclass(frozen=True)
class PurposeGrants:
    purpose: str
    free_text_pii: str  # what a write of free text with undeclared PII meets
    collections: tuple[CollectionGrants, ...]  # only collections it may read or write


def access_summary(access: AccessPolicy, purposes: PurposeSet) -> list[PurposeGrants]:
    """Per purpose, in ``purposes.yaml`` order, the fields each collection grants it."""
    summary = []
    for purpose in purposes:
        compiled = access.purposes[purpose.id]
        collections = []
        for name, grants in compiled.collections.items():
            if not grants.readable and not grants.writable:
                continue
            collections.append(
                CollectionGrants(
                    name,
                    tuple(
                        FieldGrant(f, None if d.mask is None else str(d.mask), f in grants.writable)
                        for f, d in grants.read.items()
                        if d.returned and d.rule is not None
                    ),
                )
            )
        summary.append(PurposeGrants(purpose.id, str(compiled.free_text_pii), tuple(collections)))
    return summary
