"""The independent evaluation sources: deterministic, their spans are the inserted values,
their names come from locales the generator does not use, and the held-out split is fixed."""

from __future__ import annotations

from governance.pii import evaluation
from governance.pii.evaluation_sources import SOURCES, split
from governance.pii.evaluation_sources.sources import FILL_LOCALES


def test_each_independent_source_is_deterministic_and_labels_only_inserted_values() -> None:
    for make in SOURCES.values():
        first, second = make(), make()
        assert first == second
        assert any(d.spans for d in first)
        for doc in first:
            for span in doc.spans:
                value = doc.text[span.start : span.end]
                assert value and value == value.strip()


def test_the_fill_locales_are_not_the_generators() -> None:
    assert not set(FILL_LOCALES) & set(evaluation.LOCALES)


def test_the_tune_and_held_out_splits_partition_each_source() -> None:
    for make in SOURCES.values():
        docs = make()
        tune, held = split(docs, "tune"), split(docs, "held_out")
        assert len(tune) + len(held) == len(docs)
        assert tune and held


def test_a_us_ssn_in_free_text_is_reported_as_us_ssn_not_as_a_phone_number(pii_engine) -> None:
    found = pii_engine.analyze("ssn on file 536-90-4399 verified with the customer")
    assert [(e.type, e.start, e.end) for e in found] == [("US_SSN", 12, 23)]
