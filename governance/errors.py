"""The root of every error the domain raises on purpose.

Each subclass carries a ``type`` slug and the HTTP status it maps to, so that ``api/errors.py``
turns any of them into an RFC 9457 problem with one handler. Messages are written for the
client and must never contain a personal value (an email, a name, a decrypted field): they
name fields, collections and ids only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
UNSHOWN_NAME = "(a name that is not an identifier)"


def shown_name(name: object) -> str:
    """A client-supplied name, echoed only if it has the shape of an identifier.

    Names come from JSON keys and URL segments a client controls; one that is not an
    identifier could be an email or a name, so it is described instead of echoed.
    """
    return name if isinstance(name, str) and _SAFE_NAME.match(name) else UNSHOWN_NAME


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
