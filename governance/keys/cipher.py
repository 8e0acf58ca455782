"""The stored form of an encrypted field, version 1.

    0xC7 0x01 | key id (8 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag (16 bytes)

- 0xC7 followed by 0x01 is not valid UTF-8 at the start of any text, so a sealed value can
  never be confused with a plaintext column of an adopted store (``is_sealed``).
- The second byte is the format version: a later format (another AEAD, a key-committing
  scheme) gets its own number and this module keeps opening version 1.
- The key id names the subject's data key; a ciphertext from another subject is refused
  by name before any decryption is tried.
- The associated data binds collection, field, record id and key id, so a ciphertext
  copied to another row or field fails authentication instead of decrypting there:
  ``"crm-gw/field/v1" 0x00 collection 0x00 field 0x00 record id 0x00 key id``.
  Names and ids are identifiers without NUL bytes, so the encoding is unambiguous.
- The nonce is 96 random bits, fresh for every seal. A data key seals a single subject's
  values, orders of magnitude below the 2^32 messages per key where random nonces would
  need counting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.keys.errors import CiphertextIntegrityError

MAGIC = 0xC7
VERSION_1 = 0x01
HEADER_V1 = bytes((MAGIC, VERSION_1))
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
_BODY = len(HEADER_V1) + KEY_ID_BYTES  # offset of the nonce
_MIN_LENGTH = _BODY + NONCE_BYTES + TAG_BYTES


@dataclass(frozen=True)
class DataKey:
    """A subject's unwrapped data key, held in memory only."""

    subject_id: str
    key_id: bytes
    aead: AESGCM
    # Precomputed on the hot path: every ciphertext under this key starts with ``header``,
    # and its associated data ends with ``aad_suffix``.
    header: bytes = field(init=False, repr=False)
    aad_suffix: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", HEADER_V1 + self.key_id)
        object.__setattr__(self, "aad_suffix", b"\x00" + self.key_id)


def aad_prefix(collection: str, field: str) -> bytes:
    return b"crm-gw/field/v1\x00" + collection.encode() + b"\x00" + field.encode() + b"\x00"


def seal(key: DataKey, prefix: bytes, record_id: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = prefix + record_id.encode() + key.aad_suffix
    return key.header + nonce + key.aead.encrypt(nonce, plaintext, aad)


def is_sealed(stored: bytes) -> bool:
    return len(stored) >= 2 and stored[0] == MAGIC


def sealed_key_id(stored: bytes) -> bytes:
    return bytes(stored[2:_BODY])


def open_sealed(key: DataKey, prefix: bytes, record_id: str, stored: bytes) -> bytes:
    """The plaintext, or CiphertextIntegrityError saying which check failed (never why in
    terms of the data: the message names a format, a key id mismatch or an AEAD failure)."""
    if len(stored) < _MIN_LENGTH or not stored.startswith(key.header):
        _refuse(key, stored)
    aad = prefix + record_id.encode() + key.aad_suffix
    try:
        return key.aead.decrypt(
            stored[_BODY : _BODY + NONCE_BYTES], stored[_BODY + NONCE_BYTES :], aad
        )
    except InvalidTag:
        raise CiphertextIntegrityError(
            "the ciphertext failed authentication (altered, or moved from another row or field)"
        ) from None


def _refuse(key: DataKey, stored: bytes) -> None:
    if len(stored) < 2 or stored[0] != MAGIC:
        raise CiphertextIntegrityError(
            "the stored value is not sealed (plaintext in an encrypted column: "
            "run `governance keys encrypt-existing`, or the row was tampered with)"
        )
    if stored[1] != VERSION_1:
        raise CiphertextIntegrityError(f"unknown ciphertext format version {stored[1]}")
    if len(stored) < _MIN_LENGTH:
        raise CiphertextIntegrityError("the ciphertext is truncated")
    raise CiphertextIntegrityError("the value was sealed under another data key")
