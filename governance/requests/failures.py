"""Why a request's execution stopped, as a code the officer's queue can filter on and a
sentence an officer can act on.

The code is stored (``dsr_requests.error``) and audited; the sentence is derived from it, so
neither can carry a value from the exception that stopped the step (exception text may hold
personal data, and the audit log is append-only).
"""

from __future__ import annotations

from enum import StrEnum

from governance.db import UNAVAILABLE_ERRORS
from governance.store.errors import DuplicateIdentity, InvalidRecord, RecordNotFound
from governance.store.values import InvalidValue


class FailureReason(StrEnum):
    CORRECTIONS_GONE = "corrections_gone"
    DUPLICATE_IDENTITY = "duplicate_identity"
    INVALID_CORRECTION = "invalid_correction"
    RECORD_GONE = "record_gone"
    RECORD_NOT_SUBJECTS = "record_not_subjects"
    RETRIES_EXHAUSTED = "retries_exhausted"
    STORE_UNAVAILABLE = "store_unavailable"
    UNEXPECTED = "unexpected"
    VERIFICATION = "verification"


EXPLANATIONS: dict[FailureReason, str] = {
    FailureReason.CORRECTIONS_GONE: (
        "The corrections are no longer held (the request was finished once): reject it and "
        "ask the subject to send the corrections again."
    ),
    FailureReason.DUPLICATE_IDENTITY: (
        "A corrected identity (the e-mail) is held by another subject's record: find out "
        "which person it belongs to, then reject the request or correct the other record "
        "first; executing it again as it stands cannot succeed."
    ),
    FailureReason.INVALID_CORRECTION: (
        "A corrected value is not valid for its field any more (the data map changed since "
        "intake): reject the request with the reason and ask the subject for a valid value."
    ),
    FailureReason.RECORD_GONE: (
        "A record the request names no longer exists (it was deleted after intake): reject "
        "the request, telling the subject the record is no longer held."
    ),
    FailureReason.RECORD_NOT_SUBJECTS: (
        "A record the request names belongs to another person: reject the request; executing "
        "it again cannot succeed."
    ),
    FailureReason.RETRIES_EXHAUSTED: (
        "The execution failed at every automatic retry (its job is dead; GET /v1/jobs shows "
        "why): fix the cause, then execute the request again; finished steps are not "
        "repeated, and its due date has not moved."
    ),
    FailureReason.STORE_UNAVAILABLE: (
        "A database could not be reached while the request ran: execute it again once the "
        "service is ready; finished steps are not repeated."
    ),
    FailureReason.UNEXPECTED: (
        "An unexpected error stopped the request (the service log has the trace id): execute "
        "it again; finished steps are not repeated."
    ),
    FailureReason.VERIFICATION: (
        "The erasure's final check still found the subject's data: see the verification "
        "problems in the result, then execute it again."
    ),
}

RETRYABLE = frozenset(
    {
        FailureReason.STORE_UNAVAILABLE,
        FailureReason.UNEXPECTED,
        FailureReason.VERIFICATION,
        FailureReason.RETRIES_EXHAUSTED,
    }
)


class StepFailed(Exception):  # noqa: N818 - a failure outcome with its reason, not a bug
    """A step that cannot succeed as the request stands; carries its reason code only."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(str(reason))
        self.reason = reason


def failure_reason(exc: BaseException) -> FailureReason:
    """The reason code of whatever stopped a step."""
    if isinstance(exc, StepFailed):
        return exc.reason
    if isinstance(exc, RecordNotFound):
        return FailureReason.RECORD_GONE
    if isinstance(exc, DuplicateIdentity):
        return FailureReason.DUPLICATE_IDENTITY
    if isinstance(exc, InvalidValue | InvalidRecord):
        return FailureReason.INVALID_CORRECTION
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return FailureReason.STORE_UNAVAILABLE
    return FailureReason.UNEXPECTED


def explanation(code: str | None) -> str | None:
    """The officer's sentence for a stored code (None for a code this version does not know)."""
    try:
        return EXPLANATIONS[FailureReason(code)] if code else None
    except ValueError:
        return None
