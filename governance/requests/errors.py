"""Errors of data-subject requests. Messages name ids, types and states, never a value."""

from __future__ import annotations

from collections.abc import Sequence

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


class AmbiguousSubject(Conflict):
    """The e-mail a request names is held by several data subjects (a store with duplicates
    from before identities were unique): the request must not run on one of them chosen by
    chance. Their ids are given; the officer takes the request in by ``subject_id``."""

    type = "ambiguous-subject"
    # The blind index that matched (for a queue search by the same value); never shown.
    index: bytes | None = None

    def __init__(self, subject_ids: Sequence[str]) -> None:
        super().__init__(
            f"{len(subject_ids)} data subjects hold this e-mail; choose one and name them by "
            "subject_id",
            extra={"subject_ids": list(subject_ids)},
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
