"""may_process: the one-subject rule the evaluator applies (restriction, consent, objection)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from governance.settings import PACKAGED_POLICY_DIR
from policies.consent import (
    ConsentStatus,
    DenialReason,
    PurposeConsent,
    SubjectConsentState,
    may_process,
)
from policies.loader import load_policy_set

PURPOSES = load_policy_set(PACKAGED_POLICY_DIR).purposes
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def state(restricted: bool = False, **statuses: ConsentStatus) -> SubjectConsentState:
    return SubjectConsentState(
        subject_id="s1",
        purposes={p: PurposeConsent(s, WHEN, "web_form") for p, s in statuses.items()},
        restricted=restricted,
        restricted_at=WHEN if restricted else None,
        restricted_source="officer" if restricted else None,
    )


def allowed(purpose: str, subject: SubjectConsentState) -> bool:
    return may_process(PURPOSES.get(purpose), subject).allowed  # type: ignore[arg-type]


def test_a_consent_purpose_without_any_event_is_not_granted() -> None:
    decision = may_process(PURPOSES.get("email_marketing"), state())  # type: ignore[arg-type]

    assert not decision.allowed
    assert decision.denial is DenialReason.CONSENT
    assert decision.reason == "purpose email_marketing: no consent given"


def test_a_consent_purpose_processes_only_while_granted() -> None:
    assert allowed("email_marketing", state(email_marketing=ConsentStatus.GRANTED))
    assert not allowed("email_marketing", state(email_marketing=ConsentStatus.WITHDRAWN))
    assert not allowed("email_marketing", state(email_marketing=ConsentStatus.OBJECTED))


def test_a_withdrawal_reason_names_date_and_source() -> None:
    subject = SubjectConsentState(
        "s1", {"email_marketing": PurposeConsent(ConsentStatus.WITHDRAWN, WHEN, "gpc")}
    )

    decision = may_process(PURPOSES.get("email_marketing"), subject)  # type: ignore[arg-type]

    assert decision.reason == "purpose email_marketing: consent withdrawn 2026-03-02 via gpc"


def test_legitimate_interests_need_no_consent_but_stop_on_objection() -> None:
    assert allowed("analytics", state())
    decision = may_process(
        PURPOSES.get("analytics"),  # type: ignore[arg-type]
        state(analytics=ConsentStatus.OBJECTED),
    )
    assert not decision.allowed
    assert decision.denial is DenialReason.OBJECTION
    assert allowed("analytics", state(analytics=ConsentStatus.NONE))  # objection lifted


def test_contract_purposes_need_neither_consent_nor_absence_of_objection() -> None:
    assert allowed("order_fulfilment", state())
    assert allowed("billing", state(billing=ConsentStatus.OBJECTED))


@pytest.mark.parametrize("purpose", [p.id for p in PURPOSES])
def test_a_restricted_subject_is_processable_only_by_exempt_purposes(purpose: str) -> None:
    everything_granted = state(
        restricted=True, **{p.id: ConsentStatus.GRANTED for p in PURPOSES if p.requires_consent}
    )

    decision = may_process(PURPOSES.get(purpose), everything_granted)  # type: ignore[arg-type]

    assert decision.allowed == (purpose in {"record_keeping", "legal_claims"})
    if not decision.allowed:
        assert decision.denial is DenialReason.RESTRICTION
        assert "restricted 2026-03-02 via officer" in decision.reason


def test_the_state_is_frozen() -> None:
    subject = state(email_marketing=ConsentStatus.GRANTED)

    with pytest.raises(AttributeError):
        subject.restricted = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        subject.purposes["analytics"] = PurposeConsent()  # type: ignore[index]
