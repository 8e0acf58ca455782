"""Blind indexes: find a customer by email or phone without decrypting anything.

index = HMAC-SHA256(field key, normalised value), truncated to 8 bytes, where
field key = HMAC-SHA256(index key, "crm-gw/bidx/v1" 0x00 collection 0x00 field).

- Per-field keys: the same email in two collections (or in the email and the phone column)
  gives unrelated index values, so the indexes cannot be joined across tables to correlate
  people; only this service, holding the index key, can compute a match.
- 8 bytes (64 bits): the index is a lookup aid, not an identifier to be published. With n
  indexed values the chance that any two share an index is about n^2 / 2^65: 3e-6 for ten
  million customers, so a false match never matters in practice; a longer index would add
  nothing but a more useful correlation handle if the column ever leaked with the key.
- Normalisation decides what counts as the same value: emails are trimmed and lower-cased
  (after Unicode NFC); phones are reduced to E.164 (``00`` read as ``+``; a number without
  country code is parsed in ``default_region``); anything else is trimmed and case-folded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable

import phonenumbers

INDEX_BYTES = 8
EMAIL_CATEGORY = "user.contact.email"
PHONE_CATEGORY = "user.contact.phone_number"


def normalise_email(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip().lower()


_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def normalise_phone(value: str, default_region: str = "US") -> str:
    if _E164.match(value):
        return value  # already E.164, as the store keeps phones: skip the (slow) parser
    raw = unicodedata.normalize("NFKC", value).strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else default_region)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in raw if ch.isdigit())
        return ("+" if raw.startswith("+") else "") + digits


def normalise_text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip().casefold()


def normaliser_for(category: str) -> Callable[[str], str]:
    if category == EMAIL_CATEGORY or category.startswith(EMAIL_CATEGORY + "."):
        return normalise_email
    if category == PHONE_CATEGORY or category.startswith(PHONE_CATEGORY + "."):
        return normalise_phone
    return normalise_text


class BlindIndexer:
    """Computes the index of one field; built once per field from the index key."""

    def __init__(self, index_key: bytes, collection: str, field: str, category: str) -> None:
        label = b"crm-gw/bidx/v1\x00" + collection.encode() + b"\x00" + field.encode()
        self._key = hmac.new(index_key, label, hashlib.sha256).digest()
        self._normalise = normaliser_for(category)

    def __call__(self, value: str) -> bytes:
        normalised = self._normalise(value).encode("utf-8")
        return hmac.digest(self._key, normalised, "sha256")[:INDEX_BYTES]
