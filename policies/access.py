"""Parse ``access.yaml`` and compile it, once, into per-field decisions.

For every purpose and collection the compiler resolves every rule to the fields it covers
(by name, ``*`` or data-category prefix) and keeps, per field, the most restrictive effect
with the rule that imposed it. The evaluator (``policies.engine``) then answers a request
with dictionary look-ups: the cost of a decision does not grow with the number of rules.

Deny by default: a field no rule covers is denied, with a reason saying so. The record's own
``id`` and its ``subject_id`` are returned unless a rule masks them (analytics hashes them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from policies.datamap import Checker
from policies.errors import PolicyFileError
from policies.purposes import PurposeSet
from policies.types import ID_COLUMN, SUBJECT_COLUMN, Collection, DataMap, FieldType

SYSTEM_FIELDS = (ID_COLUMN, SUBJECT_COLUMN)
_ID = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")
_TOP_KEYS = {"version", "purposes"}
_PURPOSE_KEYS = {"rules", "free_text_pii"}
_RULE_KEYS = {"id", "collections", "fields", "categories", "effect", "mask", "write"}


class Effect(StrEnum):
    ALLOW = "allow"
    MASK = "mask"
    DENY = "deny"


class Mask(StrEnum):
    LAST4 = "last4"
    EMAIL_DOMAIN = "email_domain"
    HASH = "hash"
    REDACT_PII = "redact_pii"
    YEAR_ONLY = "year_only"
    NULL = "null"


class FreeTextPii(StrEnum):
    REFUSE = "refuse"
    REDACT = "redact"


# Higher is more restrictive; the most restrictive covering rule decides a field.
_RANK: Mapping[tuple[Effect, Mask | None], int] = {
    (Effect.ALLOW, None): 0,
    (Effect.MASK, Mask.REDACT_PII): 1,
    (Effect.MASK, Mask.YEAR_ONLY): 2,
    (Effect.MASK, Mask.LAST4): 3,
    (Effect.MASK, Mask.EMAIL_DOMAIN): 4,
    (Effect.MASK, Mask.HASH): 5,
    (Effect.MASK, Mask.NULL): 6,
    (Effect.DENY, None): 7,
}


@dataclass(frozen=True)
class FieldDecision:
    field: str
    effect: Effect
    mask: Mask | None
    rule: str | None  # "<purpose>/<rule id>", None when no rule covers the field
    reason: str

    @property
    def returned(self) -> bool:
        return self.effect is not Effect.DENY


@dataclass(frozen=True)
class CollectionAccess:
    """What one purpose may do with one collection, every field decided."""

    collection: str
    read: Mapping[str, FieldDecision]  # every field and system field of the collection
    writable: frozenset[str]
    write_reasons: Mapping[str, str]  # why each non-writable field is not

    @property
    def readable(self) -> bool:
        return any(d.returned for f, d in self.read.items() if f not in SYSTEM_FIELDS)


@dataclass(frozen=True)
class Rule:
    purpose: str
    id: str
    collections: tuple[str, ...]
    fields: tuple[str, ...]
    categories: tuple[str, ...]
    effect: Effect
    mask: Mask | None
    write: bool

    @property
    def name(self) -> str:
        return f"{self.purpose}/{self.id}"


@dataclass(frozen=True)
class PurposeAccess:
    purpose: str
    rules: tuple[Rule, ...]
    free_text_pii: FreeTextPii
    collections: Mapping[str, CollectionAccess] = field(default_factory=dict)


@dataclass(frozen=True)
class AccessPolicy:
    purposes: Mapping[str, PurposeAccess]

    def access(self, purpose: str, collection: str) -> CollectionAccess | None:
        found = self.purposes.get(purpose)
        return None if found is None else found.collections.get(collection)

    def purposes_for(self, collection: str, field_name: str) -> tuple[str, ...]:
        """The purposes whose rules let an application read (or see masked) this field:
        what an access request (GDPR Art. 15) tells the subject a field is processed for."""
        return tuple(
            p
            for p, access in self.purposes.items()
            if (c := access.collections.get(collection)) is not None
            and (d := c.read.get(field_name)) is not None
            and d.returned
            and d.rule is not None
        )


def _covers(rule: Rule, collection: Collection, field_name: str, category: str | None) -> bool:
    if "*" not in rule.collections and collection.name not in rule.collections:
        return False
    if field_name in rule.fields:
        return True
    if category is None:  # system fields are covered by name only
        return False
    if "*" in rule.fields:
        return True
    return any(category == c or category.startswith(c + ".") for c in rule.categories)


def _compile(
    purpose: str, rules: tuple[Rule, ...], datamap: DataMap
) -> dict[str, CollectionAccess]:
    compiled: dict[str, CollectionAccess] = {}
    for collection in datamap.collections.values():
        names: list[tuple[str, str | None]] = [(ID_COLUMN, None)]
        if collection.has_subject_column or collection.is_subject:
            # A customer's subject_id is its own id: decided alike, so a hashed id is not
            # served raw under the other name.
            names.append((SUBJECT_COLUMN, None))
        names += [(f.name, f.category) for f in collection.fields.values()]
        read: dict[str, FieldDecision] = {}
        writable: set[str] = set()
        write_reasons: dict[str, str] = {}
        for name, category in names:
            covering = [r for r in rules if _covers(r, collection, name, category)]
            read[name] = _read_decision(purpose, name, category, covering)
            if category is None:
                continue
            denied = [r for r in covering if r.effect is Effect.DENY]
            granting = [r for r in covering if r.write]
            if granting and not denied:
                writable.add(name)
            elif denied:
                write_reasons[name] = f"field {name}: denied by rule {denied[0].name}"
            else:
                write_reasons[name] = (
                    f"field {name}: no rule of purpose {purpose} lets it be written"
                )
        compiled[collection.name] = CollectionAccess(
            collection=collection.name,
            read=MappingProxyType(read),
            writable=frozenset(writable),
            write_reasons=MappingProxyType(write_reasons),
        )
    return compiled


def _read_decision(
    purpose: str, name: str, category: str | None, covering: list[Rule]
) -> FieldDecision:
    if not covering:
        if category is None:
            return FieldDecision(
                name, Effect.ALLOW, None, None, f"field {name}: the record's identifier"
            )
        return FieldDecision(
            name, Effect.DENY, None, None, f"field {name}: no rule of purpose {purpose} allows it"
        )
    winner = max(
        covering, key=lambda r: _RANK[(r.effect, r.mask if r.effect is Effect.MASK else None)]
    )
    if winner.effect is Effect.ALLOW:
        reason = f"field {name}: allowed by rule {winner.name}"
    elif winner.effect is Effect.MASK:
        reason = f"field {name}: masked {winner.mask} by rule {winner.name}"
    else:
        reason = f"field {name}: denied by rule {winner.name}"
    mask = winner.mask if winner.effect is Effect.MASK else None
    return FieldDecision(name, winner.effect, mask, winner.name, reason)


_MASK_TYPES: Mapping[Mask, frozenset[FieldType] | None] = {
    Mask.LAST4: frozenset({FieldType.STRING}),
    Mask.EMAIL_DOMAIN: frozenset({FieldType.STRING}),
    Mask.REDACT_PII: frozenset({FieldType.STRING, FieldType.TEXT}),
    Mask.YEAR_ONLY: frozenset({FieldType.DATE, FieldType.DATETIME}),
    Mask.HASH: None,
    Mask.NULL: None,
}


def parse_access(
    document: Any, datamap: DataMap, purposes: PurposeSet, file: str = "access.yaml"
) -> AccessPolicy:
    check = Checker(file)
    top = check.mapping(document, "", _TOP_KEYS)
    if top is None:
        raise PolicyFileError(check.problems)
    if top.get("version") != 1:
        check.fail("version", "must be 1")
    raw_purposes = top.get("purposes")
    if not isinstance(raw_purposes, Mapping):
        check.fail("purposes", "must be a mapping of purpose id to its rules")
        raise PolicyFileError(check.problems)
    parsed: dict[str, PurposeAccess] = {}
    for purpose_id, body in raw_purposes.items():
        path = f"purposes.{purpose_id}"
        if purpose_id not in purposes:
            check.fail(path, "is not a purpose of purposes.yaml")
            continue
        spec = check.mapping(body, path, _PURPOSE_KEYS)
        if spec is None:
            continue
        free_text = check.enum(
            FreeTextPii, spec.get("free_text_pii", "refuse"), f"{path}.free_text_pii"
        )
        rules = _rules(check, purpose_id, spec.get("rules"), f"{path}.rules", datamap)
        parsed[purpose_id] = PurposeAccess(
            purpose=purpose_id,
            rules=rules,
            free_text_pii=free_text or FreeTextPii.REFUSE,
        )
    if check.problems:
        raise PolicyFileError(check.problems)
    compiled = {
        p: PurposeAccess(
            a.purpose, a.rules, a.free_text_pii, MappingProxyType(_compile(p, a.rules, datamap))
        )
        for p, a in parsed.items()
    }
    # A purpose without rules reads nothing: deny by default, still listed for explanations.
    for purpose in purposes:
        if purpose.id not in compiled:
            compiled[purpose.id] = PurposeAccess(
                purpose.id,
                (),
                FreeTextPii.REFUSE,
                MappingProxyType(_compile(purpose.id, (), datamap)),
            )
    return AccessPolicy(purposes=MappingProxyType(compiled))


def _names(check: Checker, value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        check.fail(path, "must be a list of names")
        return ()
    return tuple(value)


def _rules(check: Checker, purpose: str, raw: Any, path: str, datamap: DataMap) -> tuple[Rule, ...]:
    if not isinstance(raw, list) or not raw:
        check.fail(path, "must be a non-empty list of rules")
        return ()
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, body in enumerate(raw):
        at = f"{path}[{n}]"
        spec = check.mapping(body, at, _RULE_KEYS)
        if spec is None:
            continue
        rule_id = spec.get("id")
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            check.fail(f"{at}.id", "must be a lower-case name")
            continue
        if rule_id in seen:
            check.fail(f"{at}.id", f"{rule_id!r} is used twice in this purpose")
        seen.add(rule_id)
        collections = _names(check, spec.get("collections"), f"{at}.collections")
        fields = _names(check, spec.get("fields"), f"{at}.fields")
        categories = _names(check, spec.get("categories"), f"{at}.categories")
        effect = check.enum(Effect, spec.get("effect"), f"{at}.effect")
        raw_mask = spec.get("mask")
        mask = check.enum(Mask, raw_mask, f"{at}.mask") if raw_mask is not None else None
        write = check.boolean(spec.get("write"), f"{at}.write")
        if not collections:
            check.fail(f"{at}.collections", 'name at least one collection (or "*")')
        if not fields and not categories:
            check.fail(at, "name fields or categories")
        if effect is Effect.MASK and mask is None:
            check.fail(f"{at}.mask", "a mask rule names its mask")
        if effect is not Effect.MASK and raw_mask is not None:
            check.fail(f"{at}.mask", "only a mask rule has a mask")
        if write and effect is not Effect.ALLOW:
            check.fail(f"{at}.write", "only an allow rule can grant writes")
        targets = [datamap.collections[c] for c in collections if c in datamap.collections]
        if "*" in collections:
            targets = list(datamap.collections.values())
        for c in collections:
            if c != "*" and c not in datamap.collections:
                check.fail(f"{at}.collections", f"{c!r} is not a collection of the data map")
        for f in fields:
            if f == "*":
                continue
            if f in SYSTEM_FIELDS:
                if (
                    effect is Effect.DENY
                    or (effect is Effect.MASK and mask is not Mask.HASH)
                    or write
                ):
                    check.fail(f"{at}.fields", f"{f} can only be allowed or masked with hash")
                continue
            holders = [t for t in targets if f in t.fields]
            if targets and not holders:
                check.fail(f"{at}.fields", f"{f!r} is not a field of {', '.join(collections)}")
            if mask is not None and (allowed := _MASK_TYPES[mask]) is not None:
                for holder in holders:
                    if holder.fields[f].type not in allowed:
                        check.fail(
                            f"{at}.mask",
                            f"{mask} does not apply to {holder.name}.{f} ({holder.fields[f].type})",
                        )
        for prefix in categories:
            if not any(
                fl.category == prefix or fl.category.startswith(prefix + ".")
                for t in targets
                for fl in t.fields.values()
            ):
                check.fail(f"{at}.categories", f"{prefix!r} covers no field of these collections")
        if effect is None or (effect is Effect.MASK and mask is None):
            continue
        rules.append(
            Rule(
                purpose,
                rule_id,
                collections,
                fields,
                categories,
                effect,
                mask if effect is Effect.MASK else None,
                write,
            )
        )
    return tuple(rules)
