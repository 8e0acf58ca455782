"""Retention rules are checked when the data map loads: every collection has one, it runs
from a date the database can compare, what a longer-kept row depends on is kept as long,
and a field may go before its row but never after it. Each refusal names the file and the
dotted path of what to fix."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from governance.settings import PACKAGED_POLICY_DIR
from policies.datamap import parse_datamap
from policies.errors import PolicyFileError
from policies.purposes import parse_purposes
from policies.types import RetentionPeriod


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return yaml.safe_load((PACKAGED_POLICY_DIR / "datamap.yaml").read_text(encoding="utf-8"))


def _fields(doc: dict[str, Any], collection: str) -> dict[str, Any]:
    return doc["collections"][collection]["fields"]


def _no_retention(doc: dict[str, Any]) -> None:
    del doc["collections"]["web_events"]["retention"]


def _from_optional_date(doc: dict[str, Any]) -> None:
    _fields(doc, "interactions")["occurred_at"]["required"] = False


def _from_encrypted_date(doc: dict[str, Any]) -> None:
    doc["collections"]["customers"]["retention"]["from"] = "date_of_birth"
    _fields(doc, "customers")["date_of_birth"]["required"] = True


def _kept_longer_than_what_it_refers_to(doc: dict[str, Any]) -> None:
    doc["collections"]["companies"]["retention"]["period"] = "P1Y"


def _deleted_with_a_subject_kept_shorter(doc: dict[str, Any]) -> None:
    doc["collections"]["web_events"]["retention"]["period"] = "P5Y"


def _override_not_shorter(doc: dict[str, Any]) -> None:
    _fields(doc, "interactions")["body"]["retention"] = {"period": "P5Y", "basis": "Notes."}


def _override_on_required_field(doc: dict[str, Any]) -> None:
    _fields(doc, "interactions")["kind"]["retention"] = {"period": "P1Y", "basis": "Kinds."}


def _override_on_reference(doc: dict[str, Any]) -> None:
    _fields(doc, "customers")["company_id"]["retention"] = {"period": "P1Y", "basis": "Links."}


def _override_without_basis(doc: dict[str, Any]) -> None:
    _fields(doc, "support_tickets")["resolution"]["retention"] = {"period": "P1Y"}


def _override_from_non_date(doc: dict[str, Any]) -> None:
    _fields(doc, "support_tickets")["resolution"]["retention"] = {
        "period": "P1Y",
        "from": "priority",
        "basis": "Answers.",
    }


def _override_unknown_key(doc: dict[str, Any]) -> None:
    _fields(doc, "support_tickets")["resolution"]["retention"] = {
        "period": "P1Y",
        "basis": "Answers.",
        "strategy": "delete",
    }


REFUSED: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "no-retention-rule",
        _no_retention,
        "collections.web_events.retention",
        "every collection needs a retention rule",
    ),
    (
        "from-an-optional-date",
        _from_optional_date,
        "collections.interactions.retention.from",
        "must be required",
    ),
    (
        "from-an-encrypted-date",
        _from_encrypted_date,
        "collections.customers.retention.from",
        "encrypted",
    ),
    (
        "kept-longer-than-what-it-refers-to",
        _kept_longer_than_what_it_refers_to,
        "collections.customers.fields.company_id.references",
        "deleted after P1Y",
    ),
    (
        "deleted-with-a-subject-kept-shorter",
        _deleted_with_a_subject_kept_shorter,
        "collections.web_events.retention.period",
        "kept longer than its data subject",
    ),
    (
        "field-override-not-shorter-than-its-row",
        _override_not_shorter,
        "collections.interactions.fields.body.retention.period",
        "shorter than its row's",
    ),
    (
        "field-override-on-a-required-field",
        _override_on_required_field,
        "collections.interactions.fields.kind.retention",
        "a required field",
    ),
    (
        "field-override-on-a-reference",
        _override_on_reference,
        "collections.customers.fields.company_id.retention",
        "reference",
    ),
    (
        "field-override-without-basis",
        _override_without_basis,
        "collections.support_tickets.fields.resolution.retention.basis",
        "non-empty string",
    ),
    (
        "field-override-from-non-date",
        _override_from_non_date,
        "collections.support_tickets.fields.resolution.retention.from",
        "must name a date column",
    ),
    (
        "field-override-unknown-key",
        _override_unknown_key,
        "collections.support_tickets.fields.resolution.retention.strategy",
        "unknown key",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "message"), [pytest.param(e, p, m, id=n) for n, e, p, m in REFUSED]
)
def test_each_inconsistent_retention_rule_is_refused_naming_file_and_path(
    shipped: dict[str, Any],
    edit: Callable[[dict[str, Any]], None],
    path: str,
    message: str,
) -> None:
    doc = copy.deepcopy(shipped)
    edit(doc)

    with pytest.raises(PolicyFileError) as caught:
        parse_datamap(doc)

    problems = caught.value.problems
    assert [(p.file, p.path) for p in problems] == [("datamap.yaml", path)], problems
    assert message in problems[0].message


def test_shipped_map_overrides_interaction_notes_to_go_before_their_row() -> None:
    doc = yaml.safe_load((PACKAGED_POLICY_DIR / "datamap.yaml").read_text(encoding="utf-8"))
    datamap = parse_datamap(doc)

    body = datamap.collection("interactions").fields["body"]
    assert body.retention is not None
    assert body.retention.period.text == "P1Y"
    assert body.retention.counted_from == "occurred_at"  # the row's own `from` by default
    assert datamap.collection("interactions").fields["kind"].retention is None


def test_a_field_override_may_count_from_another_required_date(shipped: dict[str, Any]) -> None:
    doc = copy.deepcopy(shipped)
    _fields(doc, "support_tickets")["resolution"]["retention"] = {
        "period": "P6M",
        "from": "created_at",
        "basis": "Answers are kept six months.",
    }

    resolution = parse_datamap(doc).collection("support_tickets").fields["resolution"]

    assert resolution.retention is not None
    assert (resolution.retention.period.months, resolution.retention.counted_from) == (
        6,
        "created_at",
    )


@pytest.mark.parametrize(
    ("period", "moment", "cutoff"),
    [
        (
            "P10Y",
            datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
            datetime(2016, 12, 3, 9, 30, tzinfo=UTC),
        ),
        ("P13M", datetime(2026, 3, 31, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC)),
        ("P1Y", datetime(2028, 2, 29, tzinfo=UTC), datetime(2027, 2, 28, tzinfo=UTC)),
        ("P90D", datetime(2026, 3, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)),
        ("P1Y1M1D", datetime(2026, 1, 1, tzinfo=UTC), datetime(2024, 11, 30, tzinfo=UTC)),
    ],
)
def test_a_period_counts_back_in_calendar_months_then_days(
    period: str, moment: datetime, cutoff: datetime
) -> None:
    assert RetentionPeriod.parse(period).before(moment) == cutoff


def _purposes() -> dict[str, Any]:
    return yaml.safe_load((PACKAGED_POLICY_DIR / "purposes.yaml").read_text(encoding="utf-8"))


def test_shipped_purposes_exempt_only_record_keeping_and_legal_claims_from_retention() -> None:
    purposes = parse_purposes(_purposes())

    assert {p.id for p in purposes if p.retention_exempt} == {"record_keeping", "legal_claims"}


def test_a_purpose_exempt_from_retention_must_rest_on_an_obligation_or_legal_claims() -> None:
    doc = _purposes()
    doc["purposes"]["analytics"]["retention_exempt"] = True

    with pytest.raises(PolicyFileError) as caught:
        parse_purposes(doc)

    (problem,) = caught.value.problems
    assert (problem.file, problem.path) == ("purposes.yaml", "purposes.analytics.retention_exempt")
    assert "legal obligation or legal claims" in problem.message
