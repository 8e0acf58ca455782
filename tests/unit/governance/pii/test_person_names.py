"""Issue 19 item 2: people's names in text we did not write (greetings, signatures, lower-case
chat, names the model reads as places), through the real analyzer, and the things beside
them that are not people (streets, companies, products, cities)."""

from __future__ import annotations

import pytest

from governance.pii.evaluation import LOCALES
from governance.pii.evaluation_sources.sources import FILL_LOCALES
from governance.pii.names import GAZETTEER_LOCALES, gazetteer


def people(engine, text: str) -> set[str]:  # noqa: ANN001
    return {text[e.start:e.end] for e in engine.analyze(text) if e.type == "PERSON"}


def test_the_name_gazetteer_uses_no_locale_either_evaluation_fills_names_from() -> None:
    assert not set(GAZETTEER_LOCALES) & (set(FILL_LOCALES) | set(LOCALES))
    names = gazetteer()
    assert "olivia" in names.first and "mandla" not in names.first  # zu_ZA is not a source
    assert "and" not in names.first and "will" not in names.first  # common words are not


@pytest.mark.parametrize(("text", "name"), [
    ("My name is Nqobizitha", "Nqobizitha"),  # the model reads it as a place
    ("Name:    Rita Kwaakyewaa\nAddress: 1 Main St", "Rita Kwaakyewaa"),
    ("Kind regards,\nGretta Mac Maonagail\n128 226 8353", "Gretta Mac Maonagail"),
    ("refund $908.95 to card 3588787906506569, approved by Solveig", "Solveig"),
    ("left vm for Tobiasz Skiepko at +1 (181) 207-4139 about ticket #152926",
     "Tobiasz Skiepko"),
    ("per Eral Durdu: gate code 2402#, leave parcel at back door", "Eral Durdu"),
])
def test_a_name_after_a_cue_is_a_person_even_where_the_model_reads_a_place(
        pii_engine, text: str, name: str) -> None:  # noqa: ANN001
    assert name in people(pii_engine, text)


def test_a_known_first_name_starts_a_person_without_any_cue(pii_engine) -> None:  # noqa: ANN001
    assert "Olivia Martins" in people(pii_engine, "Olivia Martins will be home after 5")


def test_lower_case_chat_names_after_an_introduction_are_people(pii_engine) -> None:  # noqa: ANN001
    found = people(pii_engine, "chat: hi this is richard smith, can u check order 47312935")
    assert "richard smith" in found
    assert not people(pii_engine, "chat: hi this is urgent, can u check order 47312935")


def test_a_name_found_once_is_found_again_in_the_same_text(pii_engine) -> None:  # noqa: ANN001
    text = "Tegan mentioned her husband Tegan Carroll will pick up the 36 boxes"
    found = people(pii_engine, text)
    assert "Tegan Carroll" in found and "Tegan" in found


@pytest.mark.parametrize("text", [
    "Meet me at 9384 Russell Street, Lake Louis, ID 48778",
    "Neville's invoice went to Macedo Ltda. in Santos",
    "The Bluetooth Speaker from order 33991270 arrived broken",
    "Delivery to Paris delayed by two days",
    "Customer Service will reply within a day",
])
def test_streets_companies_products_and_cities_are_not_people(pii_engine, text: str) -> None:  # noqa: ANN001
    found = people(pii_engine, text)
    assert not {"Russell Street", "Macedo Ltda", "Bluetooth Speaker", "Paris",
                "Customer Service"} & found, found
