"""One subject's consent and restriction state, and whether a purpose may process it.

Pure: the state is read from the database by ``governance.consent`` and handed in frozen;
:func:`may_process` is the rule the policy evaluator applies to one subject, and
``governance.consent.services.processable_clause`` is the same rule written as SQL for
filtering many subjects inside a query. A test holds the two to the same answers.

The rule, in order:
1. a restricted subject (Art. 18) is processed only by a purpose exempt from restriction
   (storage, legal claims);
2. a purpose based on consent needs the subject's current grant;
3. an objectable purpose (legitimate interests or public task, and direct marketing whatever
   its basis) stops once the subject objected;
4. anything else (contract, legal obligation ...) needs neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from policies.purposes import Purpose


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    NONE = "none"


class DenialReason(StrEnum):
    """Why a subject may not be processed for a purpose (the ``reason`` of a 403)."""

    CONSENT = "consent"
    OBJECTION = "objection"
    RESTRICTION = "restriction"


@dataclass(frozen=True)
class PurposeConsent:
    status: ConsentStatus = ConsentStatus.NONE
    at: datetime | None = None
    source: str | None = None


NO_EVENT = PurposeConsent()


@dataclass(frozen=True)
class SubjectConsentState:
    """What the history says now about one subject; purposes without events are absent."""

    subject_id: str
    purposes: Mapping[str, PurposeConsent] = field(default_factory=lambda: MappingProxyType({}))
    restricted: bool = False
    restricted_at: datetime | None = None
    restricted_source: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.purposes, MappingProxyType):
            object.__setattr__(self, "purposes", MappingProxyType(dict(self.purposes)))

    def of(self, purpose_id: str) -> PurposeConsent:
        return self.purposes.get(purpose_id, NO_EVENT)


@dataclass(frozen=True)
class ProcessingDecision:
    allowed: bool
    reason: str  # for a person: "purpose email_marketing: consent withdrawn 2026-03-02 via gpc"
    denial: DenialReason | None = None


def _when(at: datetime | None, source: str | None) -> str:
    parts = []
    if at is not None:
        parts.append(at.date().isoformat())
    if source:
        parts.append(f"via {source}")
    return (" " + " ".join(parts)) if parts else ""


def may_process(purpose: Purpose, state: SubjectConsentState) -> ProcessingDecision:
    """Whether ``purpose`` may process the subject of ``state``, and why (see module doc)."""
    name = f"purpose {purpose.id}"
    if state.restricted and not purpose.exempt_from_restriction:
        return ProcessingDecision(
            False,
            f"{name}: processing restricted{_when(state.restricted_at, state.restricted_source)}"
            " (Art. 18); only storage and legal claims continue",
            DenialReason.RESTRICTION,
        )
    current = state.of(purpose.id)
    if purpose.requires_consent:
        if current.status is ConsentStatus.GRANTED:
            return ProcessingDecision(
                True, f"{name}: consent granted{_when(current.at, current.source)}"
            )
        if current.status is ConsentStatus.NONE and current.at is None:
            return ProcessingDecision(False, f"{name}: no consent given", DenialReason.CONSENT)
        verb = {
            ConsentStatus.WITHDRAWN: "consent withdrawn",
            ConsentStatus.OBJECTED: "objected",
            ConsentStatus.NONE: "objection lifted, no consent given since",
        }[current.status]
        objected = current.status is ConsentStatus.OBJECTED
        denial = DenialReason.OBJECTION if objected else DenialReason.CONSENT
        return ProcessingDecision(
            False, f"{name}: {verb}{_when(current.at, current.source)}", denial
        )
    if purpose.objectable and current.status is ConsentStatus.OBJECTED:
        return ProcessingDecision(
            False,
            f"{name}: objected{_when(current.at, current.source)} (Art. 21)",
            DenialReason.OBJECTION,
        )
    return ProcessingDecision(True, f"{name}: legal basis {purpose.legal_basis}, no consent needed")
