"""Build the record of processing activities: one row per purpose with every point of GDPR
Art. 30(1)(a)-(g), the lawful basis and legitimate interest columns of the UK ICO template,
a CCPA view per category of personal information, and whether retention is actually met.

Where each column comes from:

- (a) controller, contact, DPO, representatives: ``organisation.yaml``;
- (b) purpose and its description: ``purposes.yaml``;
- (c) data subject categories: the purpose's ``data_subjects``; personal data categories:
  the union of the fideslang categories (``user.*``) of every field the purpose's access
  rules let it read (allowed or masked, a ``null`` mask excepted), special categories
  (GDPR Art. 9, 10) flagged;
- (d), (e) recipients and transfers outside the EEA with their safeguard: the purpose's
  ``recipients``;
- (f) time limits for erasure per category: the data map's retention rules of the
  collections (and field overrides) those categories are read from;
- (g) security measures: the organisation's, followed by those the service enforces;
- retention met: records of those collections due now and not removed (and held), and the
  last completed sweep, from the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.events import Actor
from governance.errors import Conflict
from governance.retention.models import RetentionRun
from governance.retention.sweep import RetentionSweep
from governance.runtime import Runtime
from policies.access import Effect, Mask
from policies.loader import PolicySet
from policies.organisation import Party
from policies.purposes import LegalBasis, Purpose
from policies.types import Collection, Field

# What the service itself enforces, whatever the organisation writes (Art. 32(1)).
SERVICE_MEASURES = (
    "Fields the data map marks encrypted are sealed with AES-256-GCM under a data key per "
    "data subject, wrapped by a key-encryption key kept apart from the CRM store; erasure "
    "destroys the subject's key (crypto-shredding), backups included.",
    "Every read and write goes through the access policy: deny by default, per purpose and "
    "field, with masks; consent, objections, restriction and retention are applied inside "
    "the database query.",
    "Every access, change and refusal is recorded in an append-only, tamper-evident audit "
    "log (an RFC 6962 Merkle tree with signed checkpoints) that auditors verify "
    "independently.",
    "Records past their retention period are served to no purpose that is not exempt and "
    "are removed by audited retention sweeps; legal holds suspend them visibly.",
    "Free text written through the service is checked for undeclared personal data and "
    "refused or redacted as the policy says.",
)
# GDPR Art. 9(1) and Art. 10, by fideslang category prefix.
SPECIAL_PREFIXES = (
    "user.biometric",
    "user.health_and_medical",
    "user.criminal_history",
    "user.authorization.biometric",
    "user.demographic.political_opinion",
    "user.demographic.race_ethnicity",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
)
_ARTICLE_6 = {
    LegalBasis.CONSENT: "consent (Art. 6(1)(a))",
    LegalBasis.CONTRACT: "contract (Art. 6(1)(b))",
    LegalBasis.LEGAL_OBLIGATION: "legal obligation (Art. 6(1)(c))",
    LegalBasis.VITAL_INTERESTS: "vital interests (Art. 6(1)(d))",
    LegalBasis.PUBLIC_TASK: "public task (Art. 6(1)(e))",
    LegalBasis.LEGITIMATE_INTERESTS: "legitimate interests (Art. 6(1)(f))",
}
# The columns of the Art. 30 table (CSV and XLSX), with their headers.
COLUMNS = (
    ("purpose", "Purpose (id)"),
    ("description", "Purpose of the processing (30(1)(b))"),
    ("controller", "Controller and contact (30(1)(a))"),
    ("dpo", "Data protection officer (30(1)(a))"),
    ("representatives", "Representatives (30(1)(a))"),
    ("data_subject_categories", "Categories of data subjects (30(1)(c))"),
    ("personal_data_categories", "Categories of personal data (30(1)(c))"),
    ("special_categories", "Special categories (Art. 9, 10)"),
    ("recipients", "Recipients (30(1)(d))"),
    ("transfers", "Transfers outside the EEA and safeguards (30(1)(e))"),
    ("erasure_time_limits", "Time limits for erasure (30(1)(f))"),
    ("security_measures", "Security measures (30(1)(g))"),
    ("lawful_basis", "Lawful basis (Art. 6)"),
    ("legitimate_interest", "Legitimate interests (if applicable)"),
    ("special_category_condition", "Art. 9 condition (if applicable)"),
    ("sold_or_shared", "Sold or shared (CCPA)"),
    ("retention_due_records", "Records past retention, not removed"),
    ("retention_held_records", "Records past retention, under a legal hold"),
    ("last_sweep", "Last completed retention sweep"),
    ("retention_met", "Retention met"),
)
CCPA_COLUMNS = (
    ("category", "Category of personal information"),
    ("collected", "Collected"),
    ("purposes", "Business purposes"),
    ("sold_or_shared", "Sold or shared"),
    ("retention", "Retention"),
)


class RopaUnavailable(Conflict):
    type = "ropa-unavailable"


@dataclass(frozen=True)
class Read:
    collection: Collection
    field: Field

    @property
    def limit(self) -> str:
        rule = self.field.retention or self.collection.retention
        where = (
            f"{self.collection.name}.{self.field.name}"
            if self.field.retention
            else self.collection.name
        )
        return f"{rule.period.text} from {rule.counted_from} ({where})"


def reads(policy: PolicySet, purpose: Purpose) -> list[Read]:
    """The personal fields the purpose's access rules let it read."""
    found = []
    for collection in policy.datamap.collections.values():
        access = policy.access.access(purpose.id, collection.name)
        if access is None:
            continue
        for name, decision in access.read.items():
            field = collection.fields.get(name)
            if field is None or not field.is_personal:
                continue
            if decision.effect is Effect.ALLOW or (
                decision.effect is Effect.MASK and decision.mask is not Mask.NULL
            ):
                found.append(Read(collection, field))
    return found


def special(category: str) -> bool:
    return any(category == p or category.startswith(p + ".") for p in SPECIAL_PREFIXES)


def _party(party: Party | None) -> str:
    if party is None:
        return "none designated"
    return "; ".join(p for p in (party.name, party.contact, party.address) if p)


def _limits(found: Iterable[Read]) -> list[str]:
    by_category: dict[str, set[str]] = {}
    for r in found:
        by_category.setdefault(r.field.category, set()).add(r.limit)
    return [f"{c}: {', '.join(sorted(v))}" for c, v in sorted(by_category.items())]


def build_record(session: Session, runtime: Runtime, now: datetime | None = None) -> dict[str, Any]:
    """The record as a document: organisation, measures, one row per purpose, the CCPA
    view, and the service state it was computed from."""
    now = now or datetime.now(UTC)
    policy = runtime.policy
    organisation = policy.organisation
    if organisation is None:
        raise RopaUnavailable(
            "the policy set has no organisation.yaml: the record of "
            "processing cannot name its controller"
        )
    plan = RetentionSweep(runtime, Actor(id="system", role="system")).plan(session, now)
    last = session.scalar(
        select(RetentionRun.finished_at)
        .where(RetentionRun.state == "completed", RetentionRun.dry_run.is_(False))
        .order_by(RetentionRun.finished_at.desc())
        .limit(1)
    )
    last_sweep = _iso(last)
    measures = [*organisation.security_measures, *SERVICE_MEASURES]
    representatives = "; ".join(
        f"{region.upper()}: {_party(p)}"
        for region, p in sorted(organisation.representatives.items())
    )
    rows = []
    for purpose in policy.purposes:
        found = reads(policy, purpose)
        collections = {r.collection.name for r in found}
        due = sum(r["due"] for r in plan if r["collection"] in collections)
        held = sum(r["held"] for r in plan if r["collection"] in collections)
        categories = sorted({r.field.category for r in found})
        specials = [c for c in categories if special(c)]
        condition = ""
        if specials or purpose.sensitive:
            condition = (
                "explicit consent (Art. 9(2)(a))"
                if purpose.requires_consent
                else "legal claims (Art. 9(2)(f))"
            )
        rows.append(
            {
                "purpose": purpose.id,
                "description": purpose.description,
                "controller": _party(organisation.controller),
                "dpo": _party(organisation.dpo),
                "representatives": representatives or "none required",
                "data_subject_categories": list(purpose.data_subjects),
                "personal_data_categories": categories,
                "special_categories": specials,
                "recipients": [
                    f"{r.name} ({r.type.value.replace('_', ' ')}, {r.country})"
                    for r in purpose.recipients
                ],
                "transfers": [
                    f"{r.name}: {r.country}, {r.safeguard.value.replace('_', ' ')}"
                    for r in purpose.recipients
                    if r.outside_eea and r.safeguard
                ]
                or ["none outside the EEA"],
                "erasure_time_limits": _limits(found),
                "security_measures": measures,
                "lawful_basis": _ARTICLE_6[purpose.legal_basis],
                "legitimate_interest": purpose.legitimate_interest or "not applicable",
                "special_category_condition": condition or "not applicable",
                "sold_or_shared": purpose.sells_or_shares,
                "retention_due_records": due,
                "retention_held_records": held,
                "last_sweep": last_sweep or "never",
                "retention_met": due == 0,
            }
        )
    return {
        "generated_at": _iso(now),
        "policy_version": policy.version,
        "fictional": organisation.fictional,
        "organisation": {
            "controller": _party(organisation.controller),
            "dpo": _party(organisation.dpo),
            "representatives": representatives or "none required",
        },
        "security_measures": measures,
        "processing": rows,
        "ccpa": _ccpa(policy),
    }


def _ccpa(policy: PolicySet) -> list[dict[str, Any]]:
    """Per category of personal information the data map declares: collected, for which
    purposes, whether sold or shared, and how long it is kept."""
    purposes: dict[str, set[str]] = {}
    limits: dict[str, set[str]] = {}
    selling: set[str] = set()
    for purpose in policy.purposes:
        for r in reads(policy, purpose):
            purposes.setdefault(r.field.category, set()).add(purpose.id)
            if purpose.sells_or_shares:
                selling.add(r.field.category)
    for collection in policy.datamap.collections.values():
        for field in collection.fields.values():
            if field.is_personal:
                limits.setdefault(field.category, set()).add(Read(collection, field).limit)
    return [
        {
            "category": c,
            "collected": True,
            "purposes": sorted(purposes.get(c, ())),
            "sold_or_shared": c in selling,
            "retention": sorted(limits[c]),
        }
        for c in sorted(limits)
    ]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
