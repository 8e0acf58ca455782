"""Errors of console users. Messages name users by their login name or id, never a password."""

from __future__ import annotations

from governance.errors import Conflict, NotFound, Unauthenticated, ValidationFailed


class UserNameTaken(Conflict):
    type = "user-name-taken"


class UserNotFound(NotFound):
    type = "user-not-found"


class InvalidUser(ValidationFailed):
    type = "invalid-user"


class LoginFailed(Unauthenticated):
    """Wrong name or password, a locked or a disabled account: one message for all, so the
    answer does not tell a guesser which names exist."""

    type = "login-failed"

    def __init__(self, *, locked: bool = False) -> None:
        super().__init__("the name or the password is wrong, or the account is locked"
                         if not locked else
                         "the account is locked after repeated failed sign-ins; "
                         "try again later or ask an admin to unlock it")
        self.locked = locked
