"""What the record of processing needs from the policy files is refused at load when it is
missing or wrong, naming the file and the path: a purpose without recipients or data
subject categories, a transfer outside the EEA without its safeguard, a legitimate-interests
purpose without its interest, an organisation without a controller or measures."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from governance.settings import PACKAGED_POLICY_DIR
from policies.errors import PolicyFileError
from policies.organisation import parse_organisation
from policies.purposes import parse_purposes


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((PACKAGED_POLICY_DIR / name).read_text(encoding="utf-8"))


def _no_recipients(doc: dict[str, Any]) -> None:
    del doc["purposes"]["billing"]["recipients"]


def _no_data_subjects(doc: dict[str, Any]) -> None:
    doc["purposes"]["billing"]["data_subjects"] = []


def _transfer_without_safeguard(doc: dict[str, Any]) -> None:
    del doc["purposes"]["email_marketing"]["recipients"][1]["safeguard"]


def _bad_country(doc: dict[str, Any]) -> None:
    doc["purposes"]["billing"]["recipients"][0]["country"] = "Germany"


def _bad_recipient_type(doc: dict[str, Any]) -> None:
    doc["purposes"]["billing"]["recipients"][0]["type"] = "friend"


def _no_interest(doc: dict[str, Any]) -> None:
    del doc["purposes"]["analytics"]["legitimate_interest"]


def _interest_without_that_basis(doc: dict[str, Any]) -> None:
    doc["purposes"]["billing"]["legitimate_interest"] = "Money."


PURPOSES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "purpose-without-recipients",
        _no_recipients,
        "purposes.billing.recipients",
        "names its recipients",
    ),
    (
        "purpose-without-data-subjects",
        _no_data_subjects,
        "purposes.billing.data_subjects",
        "categories of data subjects",
    ),
    (
        "transfer-without-safeguard",
        _transfer_without_safeguard,
        "purposes.email_marketing.recipients.1.safeguard",
        "outside the EEA",
    ),
    (
        "recipient-country-not-a-code",
        _bad_country,
        "purposes.billing.recipients.0.country",
        "ISO 3166-1",
    ),
    (
        "recipient-type-unknown",
        _bad_recipient_type,
        "purposes.billing.recipients.0.type",
        "is not one of",
    ),
    (
        "legitimate-interests-without-the-interest",
        _no_interest,
        "purposes.analytics.legitimate_interest",
        "non-empty string",
    ),
    (
        "interest-on-another-basis",
        _interest_without_that_basis,
        "purposes.billing.legitimate_interest",
        "only a purpose based on legitimate interests",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "message"), [pytest.param(e, p, m, id=n) for n, e, p, m in PURPOSES]
)
def test_a_purpose_missing_what_the_record_needs_is_refused(edit, path, message) -> None:
    doc = copy.deepcopy(_load("purposes.yaml"))
    edit(doc)

    with pytest.raises(PolicyFileError) as caught:
        parse_purposes(doc)

    assert [(p.file, p.path) for p in caught.value.problems] == [("purposes.yaml", path)]
    assert message in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("key", "path"), [("controller", "controller"), ("security_measures", "security_measures")]
)
def test_an_organisation_without_a_controller_or_measures_is_refused(key: str, path: str) -> None:
    doc = copy.deepcopy(_load("organisation.yaml"))
    del doc[key]

    with pytest.raises(PolicyFileError) as caught:
        parse_organisation(doc)

    assert [(p.file, p.path) for p in caught.value.problems] == [("organisation.yaml", path)]


def test_the_shipped_organisation_says_it_is_fictional() -> None:
    organisation = parse_organisation(_load("organisation.yaml"))

    assert organisation.fictional
    assert "fictional" in organisation.controller.name
    assert organisation.dpo is not None and "uk" in organisation.representatives
