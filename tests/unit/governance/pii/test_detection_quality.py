"""Issue 19: the detector held to fixed samples of the independent sources (so that a
regression fails CI), and the CRM's non-PII look-alikes never reported as personal data."""

from __future__ import annotations

import random

import pytest

from governance.pii.evaluation_sources import SOURCES, split
from governance.pii.evaluation_sources.compare import (
    TYPES,
    compare_splits,
    ours_predict,
    plain_analyzer,
    score,
    summarise,
)
from governance.pii.evaluation_sources.sources import _lookalike

# (recall, precision) each type must keep on the first 150 held-out documents of each source.
# PERSON is held a little under what it reaches (issue 19 item 2): on this sample of
# presidio_templates recall 0.822 and precision 0.859 (the whole held-out half: 0.853 and
# 0.852), on crm_notes 1.000 and 1.000.
# IBAN_CODE and US_SSN on crm_notes: 1.000 on this sample since the IBAN recognizer reads
# a 24-character IBAN before a word and a pattern's SSN beats spaCy's DATE_TIME reading.
FLOORS = {
    "presidio_templates": {
        "PHONE_NUMBER": (0.95, 0.90),
        "CREDIT_CARD": (0.95, 0.90),
        "EMAIL_ADDRESS": (0.95, 0.90),
        "US_SSN": (0.95, 0.90),
        "IBAN_CODE": (0.95, 0.90),
        "PERSON": (0.80, 0.84),
    },
    "crm_notes": {
        "PHONE_NUMBER": (0.95, 0.90),
        "CREDIT_CARD": (0.95, 0.90),
        "EMAIL_ADDRESS": (0.95, 0.90),
        "US_SSN": (0.95, 0.90),
        "IBAN_CODE": (0.95, 0.90),
        "PERSON": (0.97, 0.97),
    },
}


@pytest.mark.parametrize("source", FLOORS)
def test_a_fixed_sample_of_each_independent_source_keeps_its_figures(
    pii_engine,  # noqa: ANN001
    source: str,
) -> None:
    docs = split(SOURCES[source](), "held_out")[:150]
    scores = score(docs, ours_predict(pii_engine))
    for entity, (recall, precision) in FLOORS[source].items():
        s = scores[entity]
        assert s.gold, entity
        assert s.recall >= recall and s.precision >= precision, (
            f"{source} {entity}: recall {s.recall:.3f} precision {s.precision:.3f}"
        )


# Issue 26 item 18: over every split of SPLIT_SEEDS (each a fresh filling's held-out half, of
# which the first 100 documents), ours beside plain Presidio: no type's mean precision below
# plain's on either source, and PERSON's at 0.85 or better on the mean and on the worst
# split (here 0.895 and 0.860 on presidio_templates; before this work 0.871 and 0.828, and
# phone precision 0.881 against plain's 0.893). ``governance pii evaluate`` prints the same
# over the whole halves.
SPLIT_DOCUMENTS = 100
PERSON_PRECISION = 0.85


@pytest.fixture(scope="module")
def split_scores(pii_engine):  # noqa: ANN001, ANN201
    plain = plain_analyzer(pii_engine.config.nlp_configuration)
    return compare_splits(pii_engine, plain, limit=SPLIT_DOCUMENTS)


@pytest.mark.parametrize("source", list(SOURCES))
def test_over_several_fresh_splits_no_types_precision_is_below_plain_presidios(
    split_scores, source: str
) -> None:  # noqa: ANN001
    below = {}
    for entity in TYPES:
        summary = summarise(split_scores[source], entity)
        if summary is not None and summary.precision_below_plain:
            below[entity] = (round(summary.precision, 3), round(summary.plain_precision, 3))
    assert not below, f"{source}: (ours, plain) mean precision {below}"


@pytest.mark.parametrize("source", list(SOURCES))
def test_over_several_fresh_splits_person_precision_is_at_least_the_target(
    split_scores, source: str
) -> None:  # noqa: ANN001
    summary = summarise(split_scores[source], "PERSON")
    assert summary is not None
    assert min(summary.precision, summary.worst_precision) >= PERSON_PRECISION, (
        f"{source} PERSON mean precision {summary.precision:.3f} "
        f"(worst split {summary.worst_precision:.3f})"
    )


LOOKALIKES = (
    "order {order}",
    "reorder {order} today",
    "{po} approved",
    "po {po_bare}",
    "sku {sku}",
    "SKU {sku_bare} arrived damaged",
    "ticket {ticket}",
    "tracking no. {tracking}",
    "tracking {tracking} shows delivered",
    "ups {ups} lost",
    "total {amount}",
    "charged {amount} on {date}",
    "gate code {gate}, suite {qty}",
    "invoice {invoice}",
    "qty {qty} boxes",
    "order number {order} and tracking {tracking}",
)
PERSONAL = {
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_PASSPORT",
    "US_ITIN",
    "IBAN_CODE",
    "UK_NHS",
    "UK_NINO",
    "EMAIL_ADDRESS",
}


def test_order_ticket_sku_po_and_tracking_numbers_amounts_dates_and_gate_codes_are_not_pii(
    pii_engine,
) -> None:  # noqa: ANN001
    rng = random.Random(19)  # noqa: S311
    texts = []
    for _ in range(40):
        look = _lookalike(rng)
        look["po_bare"], look["sku_bare"] = look["po"][3:], look["sku"][4:]
        texts += [template.format(**look) for template in LOOKALIKES]
    for text, entities in zip(texts, pii_engine.analyze_batch(texts), strict=True):
        reported = [(e.type, text[e.start : e.end]) for e in entities if e.type in PERSONAL]
        assert not reported, text


@pytest.mark.parametrize(
    "text",
    [
        "tracking number for the parcel is 4539578763621486",
        "your order number is 4539578763621486, thanks",
        "the tracking # is 4539578763621486",
        "Tracking-Nr. 4539578763621486 zugestellt",
        "4539578763621486 is the tracking number",
        "the order (4539578763621486) arrived",
        "orders 4539578763621486 and 4716108999716531 were merged",
        "awb 4539578763621486 picked up",
        "loyalty number 4539578763621486 added to the account",
    ],
)
def test_a_card_shaped_number_its_clause_names_an_identifier_is_no_card(
    pii_engine,  # noqa: ANN001
    text: str,
) -> None:
    # issue 26 item 18: 16 digits passing Luhn with a Visa prefix, which a hand-written CRM
    # note names an order or tracking number a few words away, was reported as a card
    found = [
        (e.type, text[e.start : e.end]) for e in pii_engine.analyze(text) if e.type in PERSONAL
    ]
    assert not found, text


@pytest.mark.parametrize(
    ("text", "card"),
    [
        ("paid order 48911953 with card 4539578763621486", "4539578763621486"),
        ("refund to card 4539578763621486 for order 48911953", "4539578763621486"),
        (
            "Thanks for the order. Please charge my credit card. Number is 4539578763621486",
            "4539578763621486",
        ),
        (
            "My card 4539578763621486 was charged twice for invoice INV-2025-12345",
            "4539578763621486",
        ),
    ],
)
def test_a_card_with_a_card_word_nearer_than_an_identifier_word_is_still_a_card(
    pii_engine, text: str, card: str
) -> None:  # noqa: ANN001
    assert ("CREDIT_CARD", card) in {
        (e.type, text[e.start : e.end]) for e in pii_engine.analyze(text)
    }


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("ssn on file 536-90-4399 verified", "US_SSN", "536-90-4399"),
        ("her ITIN is 912-70-1234 for the tax form", "US_ITIN", "912-70-1234"),
        ("passport number 912345678 seen at the desk", "US_PASSPORT", "912345678"),
        ("driver license D1234567 checked", "US_DRIVER_LICENSE", "D1234567"),
        ("refund to bank account 0012345678 please", "US_BANK_NUMBER", "0012345678"),
    ],
)
def test_each_kept_us_identifier_is_found_beside_its_context_word(
    pii_engine,
    text,  # noqa: ANN001
    entity,
    value,
) -> None:
    found = {(e.type, text[e.start : e.end]) for e in pii_engine.analyze(text)}
    assert (entity, value) in found


@pytest.mark.parametrize(
    "text",
    [
        "ssn on file 000-12-3456",
        "ssn 666-12-3456",
        "ssn 123-00-4567",
        "ssn 123-45-0000",
        "ssn 111-11-1111",
    ],
)
def test_an_impossible_ssn_is_not_reported(pii_engine, text: str) -> None:  # noqa: ANN001
    assert "US_SSN" not in {e.type for e in pii_engine.analyze(text)}


@pytest.mark.parametrize(
    "text",
    [
        "ssn on file 538-01-2516 verified with John over the phone",
        "ssn on file 376-72-5144 verified",
        "SSN: 538 01 2516",
        "his social security number 828-86-1361 is on file",
    ],
)
def test_an_ssn_the_language_model_reads_as_a_date_is_reported_as_an_ssn(
    pii_engine, text: str
) -> None:  # noqa: ANN001
    # spaCy's small model labels these DATE_TIME at 0.85, the score the SSN pattern reaches
    # with its context word; a personal pattern reading wins over the model's generic one
    entities = pii_engine.analyze(text)
    assert "US_SSN" in {e.type for e in entities}
    assert "DATE_TIME" not in {e.type for e in entities}


def test_a_date_the_model_finds_beside_an_ssn_is_still_a_date(pii_engine) -> None:  # noqa: ANN001
    text = "ssn 538-01-2516 checked on 3 March 2025"
    found = {(e.type, text[e.start : e.end]) for e in pii_engine.analyze(text)}
    assert ("US_SSN", "538-01-2516") in found
    assert any(t == "DATE_TIME" and "March" in v for t, v in found)


@pytest.mark.parametrize(
    ("text", "ssn"),
    [
        ("SSN: 538 01 2516 on file", "538 01 2516"),
        ("ssn 538012516 verified", "538012516"),
        ("social security no. 538-01-2516", "538-01-2516"),
    ],
)
def test_an_ssn_with_spaces_or_without_dashes_is_found_beside_its_context_word(
    pii_engine, text: str, ssn: str
) -> None:  # noqa: ANN001
    assert ("US_SSN", ssn) in {(e.type, text[e.start : e.end]) for e in pii_engine.analyze(text)}


def test_nine_bare_digits_without_a_context_word_are_no_ssn(pii_engine) -> None:  # noqa: ANN001
    # Presidio's 9-digit pattern scores 0.05 alone: only "ssn", "social security" ... raise it
    assert "US_SSN" not in {e.type for e in pii_engine.analyze("parcel 538012516 arrived")}
