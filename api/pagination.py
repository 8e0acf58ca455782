"""List cursors: sealed, so that a client learns nothing from one and cannot make one.

A cursor holds the position of the last row served, which can be a raw record id that the
client's purpose only ever sees hashed. It is therefore encrypted and authenticated with
AES-256-GCM under a key derived for cursors (``KeyService.derived_key``: stable across
restarts and shared by workers), with associated data that binds it to the client, and to
the list it was issued for (``scope``: the purpose and collection, the queue, the log). A
cursor that was altered, made by hand, or issued to another client or for another list
does not open, and is answered 400 ``invalid-cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.context import client, runtime
from governance.errors import BadRequest

CURSOR_KEY_LABEL = "list-cursors"
_VERSION = b"\x02"  # 1 was the plain base64 JSON form, refused now
_NONCE = 12
_TAG = 16


class InvalidCursor(BadRequest):
    type = "invalid-cursor"

    def __init__(self) -> None:
        super().__init__(
            "the cursor is not one this service issued to this client for this "
            "list; start from the first page"
        )


def _aad(bound_to: str) -> bytes:
    return b"crm-gw/cursor/v1\x00" + bound_to.encode()


def seal_cursor(position: Any, key: bytes, bound_to: str) -> str:
    nonce = os.urandom(_NONCE)
    plain = json.dumps({"after": position}, separators=(",", ":")).encode()
    token = _VERSION + nonce + AESGCM(key).encrypt(nonce, plain, _aad(bound_to))
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def open_cursor(cursor: str, kind: type, key: bytes, bound_to: str) -> Any:
    try:
        token = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        if token[:1] != _VERSION or len(token) < 1 + _NONCE + _TAG:
            raise InvalidCursor()
        plain = AESGCM(key).decrypt(token[1 : 1 + _NONCE], token[1 + _NONCE :], _aad(bound_to))
        value = json.loads(plain)["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, InvalidTag):
        raise InvalidCursor() from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidCursor()
    return value


def _bound_to(scope: str) -> str:
    return f"{client().id}\x00{scope}"


def _key() -> bytes:
    return runtime().keys.derived_key(CURSOR_KEY_LABEL)


def encode_cursor(position: Any, *, scope: str) -> str:
    """The cursor for the page after ``position`` of the list ``scope``, for this client."""
    return seal_cursor(position, _key(), _bound_to(scope))


def decode_cursor(cursor: str | None, kind: type, *, scope: str) -> Any:
    """The position a cursor from :func:`encode_cursor` holds, or None without one."""
    if cursor is None:
        return None
    return open_cursor(cursor, kind, _key(), _bound_to(scope))
