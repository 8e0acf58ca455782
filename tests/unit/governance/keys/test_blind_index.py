"""Blind indexes: equal after normalisation, unrelated across fields, 64 bits."""

from __future__ import annotations

import secrets

import pytest

from governance.keys.blind_index import (
    INDEX_BYTES,
    BlindIndexer,
    normalise_email,
    normalise_phone,
)

KEY = secrets.token_bytes(32)


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Ada.Lovelace@Mail.EXAMPLE ") == "ada.lovelace@mail.example"


@pytest.mark.parametrize(
    "written",
    [
        "+49 1512 3456789",
        "+49-1512-3456789",
        "0049 1512 3456789",
        "+49 (0)1512 3456789",
        "+4915123456789",
    ],
)
def test_phones_written_in_many_ways_normalise_to_one_e164_number(written: str) -> None:
    assert normalise_phone(written) == "+4915123456789"


def test_a_national_number_is_read_in_the_default_region() -> None:
    assert normalise_phone("(201) 555-0123") == "+12015550123"
    assert normalise_phone("020 7946 0018", default_region="GB") == "+442079460018"


def test_the_same_email_indexes_equal_however_it_is_written() -> None:
    index = BlindIndexer(KEY, "customers", "email", "user.contact.email")
    assert index("Ada@Mail.example") == index(" ada@mail.example ")
    assert len(index("ada@mail.example")) == INDEX_BYTES == 8


def test_one_value_indexes_differently_in_another_field_or_collection() -> None:
    email = BlindIndexer(KEY, "customers", "email", "user.contact.email")
    other_table = BlindIndexer(KEY, "leads", "email", "user.contact.email")
    other_field = BlindIndexer(KEY, "customers", "backup_email", "user.contact.email")
    value = "ada@mail.example"
    assert len({email(value), other_table(value), other_field(value)}) == 3


def test_another_index_key_gives_another_index() -> None:
    a = BlindIndexer(KEY, "customers", "email", "user.contact.email")
    b = BlindIndexer(secrets.token_bytes(32), "customers", "email", "user.contact.email")
    assert a("ada@mail.example") != b("ada@mail.example")
