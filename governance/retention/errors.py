"""Errors of legal holds and retention runs. Messages name ids, codes and states only."""

from __future__ import annotations

from governance.errors import Conflict, NotFound, ValidationFailed


class InvalidHold(ValidationFailed):
    type = "invalid-hold"


class HoldNotFound(NotFound):
    type = "hold-not-found"

    def __init__(self) -> None:
        super().__init__("no such legal hold")


class HoldAlreadyReleased(Conflict):
    type = "hold-released"

    def __init__(self, hold_id: str) -> None:
        super().__init__(
            f"the legal hold {hold_id} was released already; place a new one",
            extra={"hold_id": hold_id},
        )


class RunNotFound(NotFound):
    type = "retention-run-not-found"

    def __init__(self) -> None:
        super().__init__("no such retention run")


class RunInProgress(Conflict):
    type = "retention-run-in-progress"

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"the retention run {run_id} is still running; it resumes where it "
            "stopped, so wait for it or let it be resumed",
            extra={"run_id": run_id},
        )
