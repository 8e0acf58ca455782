"""The data map loader: the shipped map loads, and every malformed map is refused with all its
problems, each naming the file, the dotted path inside it and what is wrong."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from governance.settings import PACKAGED_POLICY_DIR
from policies.datamap import parse_datamap
from policies.errors import PolicyFileError, Problem
from policies.loader import load_policy_set
from policies.types import ErasureStrategy, FieldType, SubjectRelation

SHIPPED = PACKAGED_POLICY_DIR / "datamap.yaml"


@pytest.fixture(scope="module")
def shipped_document() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def refused(document: Any) -> tuple[Problem, ...]:
    with pytest.raises(PolicyFileError) as caught:
        parse_datamap(document)
    return caught.value.problems


def fields_of(doc: dict[str, Any], collection: str) -> dict[str, Any]:
    return doc["collections"][collection]["fields"]


# -- the shipped map -----------------------------------------------------------------------


def test_shipped_policy_set_loads_with_a_sha256_version() -> None:
    policy = load_policy_set(PACKAGED_POLICY_DIR)

    assert re.fullmatch(r"[0-9a-f]{64}", policy.version)
    assert policy.sources["datamap.yaml"] == SHIPPED.read_text(encoding="utf-8")
    datamap = policy.datamap
    assert datamap.subject_collection == "customers"
    assert set(datamap.collections) == {
        "companies",
        "customers",
        "interactions",
        "orders",
        "order_lines",
        "payment_details",
        "support_tickets",
        "campaign_responses",
        "web_events",
    }


def test_shipped_map_carries_relations_protection_retention_and_erasure() -> None:
    datamap = load_policy_set(PACKAGED_POLICY_DIR).datamap

    customers = datamap.subject()
    assert customers.relation is SubjectRelation.SELF
    email = customers.fields["email"]
    assert (email.encrypted, email.lookup, email.required) == (True, True, True)
    assert email.blind_index_column == "email_bidx"
    assert customers.identity_fields() == (email,)  # what a request is taken in by
    assert customers.fields["city"].encrypted is False
    assert customers.fields["company_id"].type is FieldType.REF
    assert customers.fields["company_id"].references == "companies"

    assert datamap.collection("companies").relation is SubjectRelation.NONE
    orders = datamap.collection("orders")
    assert orders.relation is SubjectRelation.OWNED
    assert orders.erasure.strategy is ErasureStrategy.ANONYMIZE
    assert orders.erasure.legal_obligation
    assert orders.retention.period.years == 10
    assert orders.retention.counted_from == "ordered_at"
    assert datamap.collection("payment_details").retention.period.months == 13
    assert datamap.subject_owned()[-1] is customers
    assert "business.firmographic" in datamap.custom_categories


# -- malformed maps ------------------------------------------------------------------------


def _unknown_category(doc: dict[str, Any]) -> None:
    fields_of(doc, "interactions")["summary"]["category"] = "user.content.carrier_pigeon"


def _unknown_field_type(doc: dict[str, Any]) -> None:
    fields_of(doc, "companies")["employee_count"]["type"] = "blob"


def _lookup_on_clear_field(doc: dict[str, Any]) -> None:
    fields_of(doc, "payment_details")["billing_city"]["lookup"] = True


def _identity_without_lookup(doc: dict[str, Any]) -> None:
    fields_of(doc, "customers")["last_name"]["identity"] = True


def _anonymize_without_obligation(doc: dict[str, Any]) -> None:
    doc["collections"]["orders"]["erasure"] = {"strategy": "anonymize"}


def _ref_to_missing_collection(doc: dict[str, Any]) -> None:
    fields_of(doc, "order_lines")["order_id"]["references"] = "baskets"


def _bad_retention_period(doc: dict[str, Any]) -> None:
    doc["collections"]["companies"]["retention"]["period"] = "ten years"


def _unknown_field_key(doc: dict[str, Any]) -> None:
    fields_of(doc, "web_events")["page"]["searchable"] = True


def _unknown_top_key(doc: dict[str, Any]) -> None:
    doc["owner"] = "crm-team"


def _system_column_declared(doc: dict[str, Any]) -> None:
    fields_of(doc, "interactions")["subject_id"] = {
        "category": "system.operations",
        "type": "string",
    }


def _blind_index_name_declared(doc: dict[str, Any]) -> None:
    fields_of(doc, "payment_details")["iban_bidx"] = {
        "category": "user.financial",
        "type": "string",
    }


def _response_key_declared(doc: dict[str, Any]) -> None:
    fields_of(doc, "support_tickets")["redacted_fields"] = {
        "category": "business.operations",
        "type": "string",
    }


def _custom_category_under_user(doc: dict[str, Any]) -> None:
    doc["custom_categories"]["user.loyalty_tier"] = "How loyal a customer is."


def _encrypted_field_without_subject(doc: dict[str, Any]) -> None:
    fields_of(doc, "companies")["name"]["encrypted"] = True


def _no_self_collection(doc: dict[str, Any]) -> None:
    doc["collections"]["customers"]["relation"] = "owned"


def _retention_from_non_date(doc: dict[str, Any]) -> None:
    doc["collections"]["orders"]["retention"]["from"] = "currency"


def _delete_with_obligation(doc: dict[str, Any]) -> None:
    doc["collections"]["web_events"]["erasure"]["legal_obligation"] = "Because we can."


def _keep_on_deleted_collection(doc: dict[str, Any]) -> None:
    fields_of(doc, "web_events")["page"]["on_erasure"] = "keep"


def _year_only_on_string(doc: dict[str, Any]) -> None:
    fields_of(doc, "orders")["currency"]["on_erasure"] = "year_only"


def _max_length_on_integer(doc: dict[str, Any]) -> None:
    fields_of(doc, "companies")["employee_count"]["max_length"] = 10


def _wrong_version(doc: dict[str, Any]) -> None:
    doc["version"] = 2


def _subject_names_missing_collection(doc: dict[str, Any]) -> None:
    doc["subject"] = "people"


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "unknown-category",
        _unknown_category,
        "collections.interactions.fields.summary.category",
        "neither a fideslang data category",
    ),
    (
        "unknown-field-type",
        _unknown_field_type,
        "collections.companies.fields.employee_count.type",
        "'blob' is not one of",
    ),
    (
        "lookup-on-clear-field",
        _lookup_on_clear_field,
        "collections.payment_details.fields.billing_city.lookup",
        "must be an encrypted string field",
    ),
    (
        "identity-without-lookup",
        _identity_without_lookup,
        "collections.customers.fields.last_name.identity",
        "must be a lookup field",
    ),
    (
        "anonymize-without-legal-obligation",
        _anonymize_without_obligation,
        "collections.orders.erasure.legal_obligation",
        "must be a non-empty string",
    ),
    (
        "ref-to-missing-collection",
        _ref_to_missing_collection,
        "collections.order_lines.fields.order_id.references",
        "must name an existing collection",
    ),
    (
        "bad-retention-period",
        _bad_retention_period,
        "collections.companies.retention.period",
        "is not a period like P10Y",
    ),
    (
        "unknown-field-key",
        _unknown_field_key,
        "collections.web_events.fields.page.searchable",
        "unknown key",
    ),
    ("unknown-top-level-key", _unknown_top_key, "owner", "unknown key"),
    (
        "system-column-declared",
        _system_column_declared,
        "collections.interactions.fields.subject_id",
        "column the engine owns",
    ),
    (
        "blind-index-name-declared",
        _blind_index_name_declared,
        "collections.payment_details.fields.iban_bidx",
        "reserved for blind indexes",
    ),
    (
        "response-key-declared",
        _response_key_declared,
        "collections.support_tickets.fields.redacted_fields",
        "beside a record's fields",
    ),
    (
        "custom-category-under-user",
        _custom_category_under_user,
        "custom_categories.user.loyalty_tier",
        "fideslang taxonomy only",
    ),
    (
        "encrypted-field-in-relation-none",
        _encrypted_field_without_subject,
        "collections.companies.fields.name.encrypted",
        "only rows that belong to a data subject",
    ),
    ("no-self-collection", _no_self_collection, "subject", "must have relation 'self'"),
    (
        "retention-from-non-date-column",
        _retention_from_non_date,
        "collections.orders.retention.from",
        "must name a date column",
    ),
    (
        "delete-with-legal-obligation",
        _delete_with_obligation,
        "collections.web_events.erasure.legal_obligation",
        "only 'anonymize' keeps rows",
    ),
    (
        "keep-on-deleted-collection",
        _keep_on_deleted_collection,
        "collections.web_events.fields.page.on_erasure",
        "only collections erased by 'anonymize'",
    ),
    (
        "year-only-on-string",
        _year_only_on_string,
        "collections.orders.fields.currency.on_erasure",
        "year_only applies to date",
    ),
    (
        "max-length-on-integer",
        _max_length_on_integer,
        "collections.companies.fields.employee_count.max_length",
        "only string fields",
    ),
    ("wrong-format-version", _wrong_version, "version", "must be 1"),
    (
        "subject-names-missing-collection",
        _subject_names_missing_collection,
        "subject",
        "must name the collection",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [pytest.param(edit, path, message, id=name) for name, edit, path, message in MALFORMED],
)
def test_malformed_map_is_refused_naming_file_path_and_problem(
    shipped_document: dict[str, Any],
    edit: Callable[[dict[str, Any]], None],
    path: str,
    message: str,
) -> None:
    doc = copy.deepcopy(shipped_document)
    edit(doc)

    problems = refused(doc)

    assert [(p.file, p.path) for p in problems] == [("datamap.yaml", path)]
    assert message in problems[0].message
    assert str(problems[0]).startswith(f"datamap.yaml: {path}: ")


def test_no_self_collection_says_none_was_found(shipped_document: dict[str, Any]) -> None:
    doc = copy.deepcopy(shipped_document)
    _no_self_collection(doc)

    (problem,) = refused(doc)

    assert "'customers'" in problem.message and "none" in problem.message


def test_every_problem_is_collected_before_refusing(shipped_document: dict[str, Any]) -> None:
    doc = copy.deepcopy(shipped_document)
    _unknown_category(doc)
    _bad_retention_period(doc)

    with pytest.raises(PolicyFileError) as caught:
        parse_datamap(doc)

    paths = sorted(p.path for p in caught.value.problems)
    assert paths == [
        "collections.companies.retention.period",
        "collections.interactions.fields.summary.category",
    ]
    assert "2 problem(s)" in str(caught.value)
    for path in paths:
        assert path in str(caught.value)


def test_a_problem_in_the_subject_collection_is_reported_on_its_own_path(
    shipped_document: dict[str, Any],
) -> None:
    doc = copy.deepcopy(shipped_document)
    fields_of(doc, "customers")["email"]["category"] = "user.contact.carrier_pigeon"

    problems = refused(doc)

    assert ("datamap.yaml", "collections.customers.fields.email.category") in [
        (p.file, p.path) for p in problems
    ]


def test_a_field_problem_in_the_subject_collection_reports_nothing_about_its_relation(
    shipped_document: dict[str, Any],
) -> None:
    doc = copy.deepcopy(shipped_document)
    fields_of(doc, "customers")["email"]["category"] = "user.contact.carrier_pigeon"

    problems = refused(doc)

    assert [p.path for p in problems] == ["collections.customers.fields.email.category"]


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    (problem,) = refused(["version", 1])

    assert problem.file == "datamap.yaml"
    assert "must be a mapping" in problem.message


def test_a_map_without_collections_is_refused(shipped_document: dict[str, Any]) -> None:
    doc = copy.deepcopy(shipped_document)
    doc["collections"] = {}

    problems = refused(doc)

    assert ("datamap.yaml", "collections") in [(p.file, p.path) for p in problems]


# -- the files on disk ---------------------------------------------------------------------


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(
        PACKAGED_POLICY_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return target


def test_invalid_yaml_is_refused_with_its_line_and_column(policy_copy: Path) -> None:
    (policy_copy / "datamap.yaml").write_text(
        "version: 1\nsubject: customers\n  collections: nested-badly\n", encoding="utf-8"
    )

    with pytest.raises(PolicyFileError) as caught:
        load_policy_set(policy_copy)

    (problem,) = caught.value.problems
    assert problem.file == "datamap.yaml"
    assert problem.path == "line 3, column 14"
    assert "mapping values are not allowed" in problem.message


def test_a_missing_policy_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError) as caught:
        load_policy_set(tmp_path)

    (problem,) = caught.value.problems
    assert problem.file == "datamap.yaml"
    assert "cannot be read" in problem.message


def test_policy_version_changes_when_a_files_bytes_change(policy_copy: Path) -> None:
    original = load_policy_set(policy_copy)
    assert original.version == load_policy_set(PACKAGED_POLICY_DIR).version

    path = policy_copy / "datamap.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "# reviewed by the privacy team\n", encoding="utf-8"
    )
    edited = load_policy_set(policy_copy)

    assert edited.version != original.version
    assert edited.datamap == original.datamap  # a comment changes the bytes, not the map
    assert load_policy_set(policy_copy).version == edited.version  # and it is deterministic
