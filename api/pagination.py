"""Opaque list cursors: base64url of a small JSON position, so clients cannot depend on it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from governance.errors import BadRequest


class InvalidCursor(BadRequest):
    type = "invalid-cursor"


def encode_cursor(position: Any) -> str:
    raw = json.dumps({"after": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type) -> Any:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this service issued") from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidCursor("the cursor is not one this service issued")
    return value
