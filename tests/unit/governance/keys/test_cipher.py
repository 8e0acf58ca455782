"""The sealed-field format: round trips, and every way a ciphertext can be misused fails
with the integrity error rather than yielding garbage."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.keys.cipher import DataKey, aad_prefix, is_sealed, open_sealed, seal
from governance.keys.errors import CiphertextIntegrityError
from governance.store.values import from_plain_bytes, to_plain_bytes
from policies.types import Field, FieldType


def data_key(subject: str = "s1") -> DataKey:
    return DataKey(subject, secrets.token_bytes(8), AESGCM(AESGCM.generate_key(bit_length=256)))


EMAIL = aad_prefix("customers", "email")


def test_a_sealed_value_opens_to_the_same_bytes() -> None:
    key = data_key()
    sealed = seal(key, EMAIL, "r1", b"ada@mail.example")
    assert open_sealed(key, EMAIL, "r1", sealed) == b"ada@mail.example"
    assert sealed[:2] == b"\xc7\x01" and is_sealed(sealed)
    assert b"ada" not in sealed


def test_two_seals_of_one_value_differ_because_each_has_a_fresh_nonce() -> None:
    key = data_key()
    assert seal(key, EMAIL, "r1", b"x") != seal(key, EMAIL, "r1", b"x")


VALUES = [
    (FieldType.STRING, "Zoë O'Neil"),
    (FieldType.TEXT, "line one\nline two ✓"),
    (FieldType.INTEGER, -42),
    (FieldType.DECIMAL, Decimal("1234.50")),
    (FieldType.BOOLEAN, True),
    (FieldType.DATE, date(1990, 4, 1)),
    (FieldType.DATETIME, datetime(2026, 3, 2, 12, 30, 5, 123456, tzinfo=UTC)),
]


@pytest.mark.parametrize(("ftype", "value"), VALUES, ids=[t.value for t, _ in VALUES])
def test_every_field_type_round_trips_through_seal_and_open(
    ftype: FieldType, value: object
) -> None:
    field = Field(name="f", category="user", type=ftype, encrypted=True)
    key = data_key()
    prefix = aad_prefix("c", "f")
    sealed = seal(key, prefix, "r1", to_plain_bytes(field, value))
    assert from_plain_bytes(field, open_sealed(key, prefix, "r1", sealed)) == value


def test_a_flipped_bit_anywhere_in_the_ciphertext_is_an_integrity_error() -> None:
    key = data_key()
    sealed = bytearray(seal(key, EMAIL, "r1", b"ada@mail.example"))
    for at in range(10, len(sealed)):  # nonce, ciphertext and tag
        tampered = bytearray(sealed)
        tampered[at] ^= 0x01
        with pytest.raises(CiphertextIntegrityError, match="failed authentication"):
            open_sealed(key, EMAIL, "r1", bytes(tampered))


def test_a_ciphertext_moved_to_another_record_is_an_integrity_error() -> None:
    key = data_key()
    sealed = seal(key, EMAIL, "r1", b"ada@mail.example")
    with pytest.raises(CiphertextIntegrityError, match="moved from another row or field"):
        open_sealed(key, EMAIL, "r2", sealed)


def test_a_ciphertext_moved_to_another_field_or_collection_is_an_integrity_error() -> None:
    key = data_key()
    sealed = seal(key, EMAIL, "r1", b"ada@mail.example")
    with pytest.raises(CiphertextIntegrityError):
        open_sealed(key, aad_prefix("customers", "phone"), "r1", sealed)
    with pytest.raises(CiphertextIntegrityError):
        open_sealed(key, aad_prefix("support_tickets", "email"), "r1", sealed)


def test_a_ciphertext_of_another_subject_is_refused_by_key_id() -> None:
    mine, theirs = data_key("s1"), data_key("s2")
    sealed = seal(theirs, EMAIL, "r1", b"x")
    with pytest.raises(CiphertextIntegrityError, match="another data key"):
        open_sealed(mine, EMAIL, "r1", sealed)


def test_a_wrong_key_under_the_right_key_id_is_an_integrity_error() -> None:
    key = data_key()
    impostor = replace(data_key(), key_id=key.key_id)
    with pytest.raises(CiphertextIntegrityError, match="failed authentication"):
        open_sealed(impostor, EMAIL, "r1", seal(key, EMAIL, "r1", b"x"))


def test_truncated_plaintext_and_future_formats_are_integrity_errors() -> None:
    key = data_key()
    sealed = seal(key, EMAIL, "r1", b"x")
    with pytest.raises(CiphertextIntegrityError, match="truncated"):
        open_sealed(key, EMAIL, "r1", sealed[:20])
    with pytest.raises(CiphertextIntegrityError, match="not sealed"):
        open_sealed(key, EMAIL, "r1", b'"ada@mail.example"')
    with pytest.raises(CiphertextIntegrityError, match="format version 2"):
        open_sealed(key, EMAIL, "r1", b"\xc7\x02" + sealed[2:])


def test_the_integrity_error_never_carries_the_plaintext() -> None:
    key = data_key()
    sealed = seal(key, EMAIL, "r1", b"ada@mail.example")
    with pytest.raises(CiphertextIntegrityError) as caught:
        open_sealed(key, EMAIL, "r2", sealed)
    assert "ada" not in str(caught.value) and "mail.example" not in caught.value.detail
