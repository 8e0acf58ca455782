"""The policy evaluator: a frozen request in, a decision with a reason per field out.

Pure (no Flask, SQLAlchemy or I/O; tests/unit/test_rooms.py enforces it). Everything
expensive was done when the policy set was loaded (``policies.access`` compiles the rules
per purpose and collection), so a decision is a few dictionary look-ups.

Order of checks, each with its own denial code (the ``reason`` of a 403):
``purpose``      the purpose is unknown or not one the client may use;
``collection``   the purpose reads (or writes) nothing of this collection;
``field``        a field asked for by name (or written) is denied;
``consent`` / ``objection`` / ``restriction``
                 the subject's state forbids the purpose (``policies.consent.may_process``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from policies.access import SYSTEM_FIELDS, AccessPolicy, Effect, FieldDecision
from policies.consent import SubjectConsentState, may_process
from policies.purposes import PurposeSet


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class AccessRequest:
    client_id: str
    client_purposes: frozenset[str]
    purpose: str
    collection: str
    action: Action = Action.READ
    fields: tuple[str, ...] | None = None  # asked for by name (read) or written (write)
    subject: SubjectConsentState | None = None  # for a decision about one subject


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    policy_version: str
    denial: str | None = None
    fields: Mapping[str, FieldDecision] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def returned(self) -> tuple[str, ...]:
        """Fields (not system fields) the response carries, in data-map order."""
        return tuple(f for f, d in self.fields.items() if d.returned and f not in SYSTEM_FIELDS)

    @property
    def masked(self) -> tuple[str, ...]:
        return tuple(f for f, d in self.fields.items() if d.effect is Effect.MASK)

    def explain(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "policy_version": self.policy_version,
            "fields": {
                f: {
                    "effect": str(d.effect),
                    "mask": None if d.mask is None else str(d.mask),
                    "rule": d.rule,
                    "reason": d.reason,
                }
                for f, d in self.fields.items()
            },
        }


class PolicyEngine:
    def __init__(self, access: AccessPolicy, purposes: PurposeSet, version: str) -> None:
        self.access = access
        self.purposes = purposes
        self.version = version
        # The subject-independent part of a decision, by request shape: applications ask
        # the same few shapes over and over, so the field work is done once per shape.
        self._shapes: dict[tuple[object, ...], Decision] = {}

    def _deny(
        self, reason: str, denial: str, fields: Mapping[str, FieldDecision] | None = None
    ) -> Decision:
        return Decision(
            False,
            reason,
            self.version,
            denial,
            fields if fields is not None else MappingProxyType({}),
        )

    def evaluate(self, request: AccessRequest) -> Decision:
        if request.purpose not in request.client_purposes:
            held = ", ".join(sorted(request.client_purposes)) or "none"
            return self._deny(
                f"purpose {request.purpose}: not one this client may use (its purposes: {held})",
                "purpose",
            )
        shape = (request.purpose, request.collection, request.action, request.fields)
        base = self._shapes.get(shape)
        if base is None:
            base = self._fields_decision(request)
            if len(self._shapes) < 10_000:  # bounded: shapes come from clients
                self._shapes[shape] = base
        if not base.allowed or request.subject is None:
            return base
        purpose = self.purposes.get(request.purpose)
        assert purpose is not None
        verdict = may_process(purpose, request.subject)
        if not verdict.allowed:
            denial = str(verdict.denial) if verdict.denial is not None else "consent"
            return self._deny(verdict.reason, denial, base.fields)
        return Decision(True, verdict.reason, self.version, None, base.fields)

    def _fields_decision(self, request: AccessRequest) -> Decision:
        """Purpose, collection and field checks: everything but the subject's consent."""
        purpose = self.purposes.get(request.purpose)
        if purpose is None:
            return self._deny(f"purpose {request.purpose}: not one this client may use", "purpose")
        access = self.access.access(request.purpose, request.collection)
        if access is None:
            return self._deny(f"collection {request.collection}: unknown", "collection")
        if request.action is Action.READ:
            decided = access.read
            if not access.readable:
                return self._deny(
                    f"purpose {request.purpose}: reads nothing of {request.collection}",
                    "collection",
                )
            if request.fields is not None:
                picked = {}
                for name in request.fields:
                    d = decided.get(name)
                    if d is None or not d.returned:
                        return self._deny(
                            d.reason if d else f"field {name}: unknown",
                            "field",
                            MappingProxyType({name: d} if d else {}),
                        )
                    picked[name] = d
                for system in SYSTEM_FIELDS:
                    if system in decided:
                        picked.setdefault(system, decided[system])
                decided = MappingProxyType(picked)
        else:
            if not access.writable:
                return self._deny(
                    f"purpose {request.purpose}: writes nothing of {request.collection}",
                    "collection",
                )
            for name in request.fields or ():
                if name not in access.writable:
                    reason = access.write_reasons.get(name, f"field {name}: unknown")
                    return self._deny(reason, "field")
            decided = access.read
        # Without a subject (a list), the consent rule is applied per row in the query.
        return Decision(
            True,
            f"purpose {request.purpose}: allowed for {request.collection}",
            self.version,
            None,
            decided,
        )
