"""The root of every error the domain raises on purpose.

Each subclass carries a ``type`` slug and the HTTP status it maps to, so that ``api/errors.py``
turns any of them into an RFC 9457 problem with one handler. Messages are written for the
client and must never contain a personal value (an email, a name, a decrypted field): they
name fields, collections and ids only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class GovernanceError(Exception):
    type: str = "error"
    title: str = "Request failed"
    status: int = 400

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})


class SettingsError(GovernanceError):
    """A setting is missing or malformed; raised at start, before anything is served."""

    type = "settings"
    title = "Invalid setting"
    status = 500


class ValidationFailed(GovernanceError):
    type = "validation"
    title = "Invalid input"
    status = 422

    def __init__(self, detail: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(detail, extra={"errors": dict(errors or {})})


class BadRequest(GovernanceError):
    type = "bad-request"
    title = "Bad request"
    status = 400


class NotFound(GovernanceError):
    type = "not-found"
    title = "Not found"
    status = 404


class Conflict(GovernanceError):
    type = "conflict"
    title = "Conflict"
    status = 409


class Unauthenticated(GovernanceError):
    type = "unauthenticated"
    title = "Authentication required"
    status = 401


class Forbidden(GovernanceError):
    type = "forbidden"
    title = "Forbidden"
    status = 403

    def __init__(self, detail: str, *, reason: str = "role") -> None:
        super().__init__(detail, extra={"reason": reason})
        self.reason = reason


class Unavailable(GovernanceError):
    type = "unavailable"
    title = "Service unavailable"
    status = 503
