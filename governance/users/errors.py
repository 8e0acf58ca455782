"""Errors of console users. Messages name users by their login name or id, never a password."""

from __future__ import annotations

from governance.errors import (
    Conflict,
    GovernanceError,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)


class UserNameTaken(Conflict):
    type = "user-name-taken"


class UserNotFound(NotFound):
    type = "user-not-found"


class InvalidUser(ValidationFailed):
    type = "invalid-user"


class LoginFailed(Unauthenticated):
    """Wrong name or password, or a disabled account: one message for all, so the answer
    does not tell a guesser which names exist."""

    type = "login-failed"

    def __init__(self) -> None:
        super().__init__("the name or the password is wrong")


class SignInThrottled(GovernanceError):
    """Too many failed sign-ins for this name, or for any name, from the caller's network
    (``governance.users.throttle``): the same answer whether the name exists or not."""

    type = "too-many-requests"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed sign-ins from your network; try again in {retry_after} s"
        )
        self.retry_after = retry_after
