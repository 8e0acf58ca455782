"""Errors of data-subject requests. Messages name ids, types and states, never a value."""

from __future__ import annotations

from governance.errors import Conflict, GovernanceError, NotFound, ValidationFailed


class RequestNotFound(NotFound):
    type = "request-not-found"

    def __init__(self) -> None:
        super().__init__("no such data-subject request")


class InvalidRequest(ValidationFailed):
    type = "invalid-request"


class DuplicateRequest(Conflict):
    """An open request of the same type for the same subject exists (its id is given)."""

    type = "duplicate-request"

    def __init__(self, existing_id: str) -> None:
        super().__init__(
            f"an open request of this type for this subject exists: {existing_id}",
            extra={"existing_request_id": existing_id},
        )


class InvalidTransition(Conflict):
    type = "invalid-transition"


class NotVerified(Conflict):
    type = "not-verified"

    def __init__(self) -> None:
        super().__init__("the subject's identity must be verified before the request is executed")


class NotExtendable(Conflict):
    type = "not-extendable"


class ExtensionTooLate(Conflict):
    type = "extension-too-late"


class ExportNotAvailable(Conflict):
    type = "export-not-available"


class ExportExpired(GovernanceError):
    type = "export-expired"
    title = "Gone"
    status = 410
