"""Each of our recognizers, with texts it must find and texts it must leave alone, through
the real analyzer (the session's one engine)."""

from __future__ import annotations

import pytest

from governance.pii.recognizers.credit_card import card_number_ok
from governance.pii.recognizers.eu_vat import vat_id_ok
from governance.pii.recognizers.iban import iban_ok


def found(engine, text: str, *, free_text: bool = True) -> set[tuple[str, str]]:
    return {(e.type, text[e.start : e.end]) for e in engine.analyze(text, free_text=free_text)}


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",  # Visa 16
        "4743915000806360835",  # Visa 19
        "2221000000000009",  # Mastercard 2-series
        "5555 5555 5555 4444",  # Mastercard, grouped
        "378282246310005",  # Amex
        "6011111111111117",  # Discover
        "3530111333300000",  # JCB
        "566075983866",  # Maestro, 12 digits
    ],
)
def test_card_numbers_of_every_brand_are_found(pii_engine, number: str) -> None:
    assert ("CREDIT_CARD", number) in found(pii_engine, f"paid with card {number} today")


@pytest.mark.parametrize(
    "text",
    [
        "paid with card 4111111111111112 today",  # Luhn fails
        "call +4915112345678 now",  # a phone number after '+'
        "IBAN DE89370400440532013000",  # digits inside an IBAN
        "order ORD-00012345 shipped",
    ],
)
def test_digit_runs_that_are_not_card_numbers_are_not_cards(pii_engine, text: str) -> None:
    assert not any(t == "CREDIT_CARD" for t, _ in found(pii_engine, text))


def test_card_validation_checks_issuer_length_and_luhn() -> None:
    assert card_number_ok("4111111111111111")
    assert not card_number_ok("9111111111111111")  # no issuer starts with 9
    assert not card_number_ok("41111111111")  # too short


@pytest.mark.parametrize(
    "phone",
    [
        "+4915112345678",
        "+44 20 7946 0958",
        "+1-212-555-0100",
        "001-212-555-0100",
        "+33 (0)6 44 83 37 88",
        "(212) 555-0100",
        "0044 20 7946 0958",
        "883-237-8876x232",
    ],
)
def test_phone_numbers_in_international_and_national_forms_are_found(pii_engine, phone) -> None:
    assert ("PHONE_NUMBER", phone) in found(pii_engine, f"Please call me on {phone}.")


@pytest.mark.parametrize(
    "text",
    [
        "Order ORD-12345678 shipped.",
        "Booked for 2026-01-27.",
        "Sold 1250 units.",
        "Address 2001:db8:1a2b:3c4d::1 seen.",
        "From 198.51.100.4 today.",
        "From 123.246.166.171.",
    ],
)
def test_order_numbers_dates_counts_and_ipv6_are_not_phone_numbers(pii_engine, text) -> None:
    assert not any(t == "PHONE_NUMBER" for t, _ in found(pii_engine, text))


@pytest.mark.parametrize(
    "text",
    [
        # a Brazilian postcode (CEP, five digits, a hyphen, three): read as a German number
        # without its trunk "0", or as a possible Italian one
        "Campo de Peixoto, 1, Santa Maria, 23210-282 Araujo / PI",
        "Rodovia de Aparecida, 75, Boa Viagem, 43855-726 Vieira das Pedras / DF",
        "Colonia Bella Santos, Ipe, 87487-699 Freitas de Minas / CE",
        "Loteamento de Souza, 69, Milionario, 01358-280 da Luz Verde / RS",
        # an apartment's number, then a house number or postcode
        "Ms. Mikael Nilsson Apt. 39 62780 Hnezdenska Street",
        "Ms. Ama Asiama Apt. 143 2526 Hannah Key",
        "Apt. 234 45/545 Stewart Street",
    ],
)
def test_postcodes_and_apartment_numbers_in_an_address_are_not_phone_numbers(
    pii_engine,  # noqa: ANN001
    text: str,
) -> None:
    # issue 26 item 18: these were most of our phone false positives on presidio-evaluator
    # templates filled afresh, which plain Presidio does not report
    assert not any(t == "PHONE_NUMBER" for t, _ in found(pii_engine, text))


@pytest.mark.parametrize(
    "phone",
    [
        "0785 12605",
        "030 1234567",
        "06 12 34 56 78",
        "020 7946 0958",
        "312 345 6789",
        "612 345 678",
        "(555) 010-0199",
    ],
)
def test_national_numbers_written_with_their_trunk_prefix_are_still_phone_numbers(
    pii_engine, phone: str
) -> None:  # noqa: ANN001
    assert ("PHONE_NUMBER", phone) in found(pii_engine, f"Please call me on {phone}.")


def test_order_numbers_and_record_ids_are_the_crms_own_identifiers(pii_engine) -> None:
    text = "Order ORD-00012345 for customer 0190f3a2b4c5d6e7f8091a2b3c4d5e6f"
    hits = found(pii_engine, text)
    assert ("CRM_ORDER_NUMBER", "ORD-00012345") in hits
    assert ("CRM_CUSTOMER_ID", "0190f3a2b4c5d6e7f8091a2b3c4d5e6f") in hits
    assert not any(t in {"PHONE_NUMBER", "CREDIT_CARD"} for t, _ in hits)


def test_a_32_digit_number_is_not_a_record_id(pii_engine) -> None:
    assert not any(t == "CRM_CUSTOMER_ID" for t, _ in found(pii_engine, "1" * 32))


@pytest.mark.parametrize("email", ["ada@mail.example", "jo.smith+crm@example.org", "x@b.co.uk"])
def test_emails_are_found_offline_including_reserved_example_domains(pii_engine, email) -> None:
    assert ("EMAIL_ADDRESS", email) in found(pii_engine, f"reply to {email} please")


def test_a_word_with_an_at_sign_but_no_domain_is_not_an_email(pii_engine) -> None:
    assert not any(t == "EMAIL_ADDRESS" for t, _ in found(pii_engine, "meet @ noon, user@host"))


@pytest.mark.parametrize(
    "vat",
    [
        "DE136695976",
        "IT00743110157",
        "FR40303265045",
        "BE0403170701",
        "NL004495445B01",
        "ATU13585627",
    ],
)
def test_eu_vat_ids_with_a_valid_check_digit_are_found(pii_engine, vat: str) -> None:
    assert ("EU_VAT_ID", vat) in found(pii_engine, f"our VAT id is {vat}")


def test_eu_vat_ids_with_a_wrong_check_digit_are_not_found() -> None:
    assert vat_id_ok("DE136695977") is False
    assert vat_id_ok("IT00743110158") is False
    assert vat_id_ok("XX123456789") is False


def test_names_after_a_cue_are_people_but_a_product_after_none_is_not(pii_engine) -> None:
    assert ("PERSON", "Rosalia Pérez") in found(pii_engine, "Hi, this is Rosalia Pérez.")
    assert ("PERSON", "Ole Gunpf") in found(pii_engine, "Regards, Ole Gunpf")
    assert not any(t == "PERSON" for t, _ in found(pii_engine, "Customer Service will reply."))


def test_structured_values_run_patterns_only_and_skip_values_without_digits_or_at(
    pii_engine,
) -> None:
    assert found(pii_engine, "Ryan Gallagher", free_text=False) == set()
    assert found(pii_engine, "ryan@mail.example", free_text=False) == {
        ("EMAIL_ADDRESS", "ryan@mail.example")
    }


def test_urls_are_found_where_presidios_recognizer_finds_them() -> None:
    from presidio_analyzer.predefined_recognizers import UrlRecognizer

    from governance.pii import evaluation
    from governance.pii.recognizers.url import CrmUrlRecognizer

    ours, presidio = CrmUrlRecognizer(), UrlRecognizer()
    texts = [d.text for d in evaluation.generate(90, seed=4)] + [
        "see https://www.example.com/a?b=1, www.shop.org and 'crm.example.co.uk'",
        "mail ada.lovelace@mail.example.com",
        "foo_bar.com",
        "a..b.com",
        "x.y.z.com.",
    ]
    for text in texts:
        spans = {(r.start, r.end, r.score) for r in ours.analyze(text, ["URL"])}
        assert spans == {(r.start, r.end, r.score) for r in presidio.analyze(text, ["URL"])}
    assert ("URL", "www.shop.org") in found_with(ours, texts[-5])


def found_with(recognizer, text: str) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(r.entity_type, text[r.start : r.end]) for r in recognizer.analyze(text, ["URL"])}


def test_a_structured_value_the_declared_type_matches_whole_is_that_type_alone(
    pii_engine,
) -> None:
    phone = ["+4915112345678", "0332013944"]  # the second also passes the NHS checksum
    results = pii_engine.analyze_batch(phone, free_text=False, declared={"PHONE_NUMBER"})
    assert [[e.type for e in ents] for ents in results] == [["PHONE_NUMBER"], ["PHONE_NUMBER"]]


def test_a_structured_value_the_declared_type_does_not_match_whole_gets_every_recognizer(
    pii_engine,
) -> None:
    values = ["ada@mail.example", "call +4915112345678 or ada@mail.example", "12 Rue de Rivoli"]
    results = pii_engine.analyze_batch(values, free_text=False, declared={"PHONE_NUMBER"})
    assert [{e.type for e in ents} for ents in results] == [
        {"EMAIL_ADDRESS"},
        {"PHONE_NUMBER", "EMAIL_ADDRESS"},
        set(),
    ]


@pytest.mark.parametrize(
    ("text", "iban"),
    [
        # 24 characters before a word: Presidio's recognizer takes "rece" for a sixth group
        ("wire from CZ6508000000192000145399 received, thanks", "CZ6508000000192000145399"),
        ("wire from RO49AAAA1B31007593840000 received", "RO49AAAA1B31007593840000"),
        ("refund to ES91 2100 0418 4502 0005 1332 today", "ES91 2100 0418 4502 0005 1332"),
        ("IBAN:SE4550000000058398257466", "SE4550000000058398257466"),
        ("iban de89 3704 0044 0532 0130 00 please", "de89 3704 0044 0532 0130 00"),
        ("pay DE89-3704-0044-0532-0130-00 asap", "DE89-3704-0044-0532-0130-00"),
        (
            "IBAN\u00a0DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000 ok",
            "DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000",
        ),
        (
            "Bank details:\nIBAN: GB82 WEST 1234 5698 7654 32\nBIC: WESTGB2L",
            "GB82 WEST 1234 5698 7654 32",
        ),
        ("account NO9386011117947 closed", "NO9386011117947"),
        ("PL61 1090 1014 0000 0712 1981 2874", "PL61 1090 1014 0000 0712 1981 2874"),
    ],
)
def test_ibans_are_found_compact_grouped_lower_case_and_before_a_word(
    pii_engine, text: str, iban: str
) -> None:
    assert ("IBAN_CODE", iban) in found(pii_engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013000123 is longer than a German IBAN",
        "DE89370400440532013001 fails the check",
        "CZ6508000000192000145399X runs on into a word",
        "XX89370400440532013000 names no IBAN country",
    ],
)
def test_a_run_that_is_not_its_countrys_iban_is_not_one(pii_engine, text: str) -> None:
    assert not any(t == "IBAN_CODE" for t, _ in found(pii_engine, text))


def test_iban_validation_checks_country_length_format_and_mod_97() -> None:
    assert iban_ok("GB82 WEST 1234 5698 7654 32")
    assert iban_ok("gb82west12345698765432")
    assert not iban_ok("GB82 WEST 1234 5698 7654 3")  # one short
    assert not iban_ok("GB82 1234 1234 5698 7654 32")  # GB's bank code is letters
    assert not iban_ok("GB83 WEST 1234 5698 7654 32")  # check digits
    assert not iban_ok("DE89370400440532013000\u212a")  # not ASCII
