"""Who may loosen a subject's consent state: the rule is asymmetric on purpose.

Anyone allowed to write consent may make processing *more* restrictive (withdraw, object)
for any purpose: a customer may say "stop" through any channel. Making it *less*
restrictive (grant, lift an objection) is an application's to do only for a purpose it
holds, and never over an event recorded by a compliance officer, a data-subject request or
a GPC signal. Only an officer can reverse those; an application may record a new grant
over them only when it carries the subject's own new action: source ``web_form`` with an
evidence reference (re-consent, which GDPR Art. 7(3) and CCPA regs. 7025(c)(3) allow).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from governance.consent.errors import ConsentChangeForbidden
from policies.consent import PurposeConsent

if TYPE_CHECKING:
    from governance.consent.services import ConsentService

#: Sources an application can never silently reverse.
PROTECTED_SOURCES = frozenset({"officer", "request", "gpc"})
LOOSENING_ACTIONS = frozenset({"grant", "lift_objection"})


def check_application_change(*, action: str, purpose: str, source: str,
                             evidence: str | None, client_purposes: Collection[str],
                             current: PurposeConsent) -> None:
    """Raise ConsentChangeForbidden (403, with the reason) when an application may not make
    this change; return when it may."""
    if action not in LOOSENING_ACTIONS:
        return
    if purpose not in client_purposes:
        raise ConsentChangeForbidden(
            f"purpose {purpose}: an application may withdraw or object for any purpose, but "
            "grant or lift only for a purpose it holds")
    if current.source not in PROTECTED_SOURCES:
        return
    recorded_by = {"officer": "a compliance officer", "request": "a data-subject request",
                   "gpc": "a Global Privacy Control signal"}[current.source]
    if action == "grant" and source == "web_form" and evidence:
        return  # the subject's own new action: re-consent
    raise ConsentChangeForbidden(
        f"purpose {purpose}: the current {current.status} was recorded by {recorded_by}; "
        "only a compliance officer can reverse it, or a new grant from the subject "
        "(source web_form with an evidence reference)")


def guard_application_change(service: ConsentService, *, subject_id: str, purpose: str,
                             action: str, source: str, evidence: str | None,
                             client_purposes: Collection[str]) -> None:
    """Apply :func:`check_application_change` to the subject's current state. A change that
    is no change at all (unknown purpose, a grant of a purpose not based on consent, a lift
    with nothing to lift) is left for the service to refuse as invalid input (422/409)."""
    spec = service.purposes.get(purpose)
    if spec is None or (action == "grant" and not spec.requires_consent):
        return
    service.require_subject(subject_id)
    current = service.state(subject_id).of(purpose)
    if action == "lift_objection" and str(current.status) != "objected":
        return
    check_application_change(action=action, purpose=purpose, source=source,
                             evidence=evidence, client_purposes=client_purposes,
                             current=current)
