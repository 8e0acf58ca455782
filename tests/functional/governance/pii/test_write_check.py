"""The write-time check: personal data in a free-text field whose category does not declare
it is refused (entity types and positions, never values) or redacted, as the policy says."""

from __future__ import annotations

import json

import pytest

from governance.pii.errors import PiiRefused
from governance.pii.models import OnPii

NOTE = "Customer asked us to use ada.lovelace@mail.example for invoices."


@pytest.fixture
def checker(runtime):
    return runtime.pii_write_checker()


def test_an_email_in_ticket_notes_is_a_finding_with_type_and_position_only(checker) -> None:
    result = checker.check("support_tickets", {"description": NOTE, "ticket_type": "billing"})
    emails = [f for f in result.findings if f.entity_type == "EMAIL_ADDRESS"]
    assert len(emails) == 1
    assert NOTE[emails[0].start : emails[0].end] == "ada.lovelace@mail.example"
    assert emails[0].field == "description"


def test_text_without_personal_data_is_clean(checker) -> None:
    result = checker.check("support_tickets", {"description": "The parcel arrived damaged."})
    assert result.clean


def test_fields_that_are_not_free_text_are_not_checked(checker) -> None:
    # customers.email declares an email: it is not free text, the data map already says so
    result = checker.check("customers", {"email": "ada@mail.example", "first_name": "Ada"})
    assert result.clean


def test_refuse_raises_a_422_problem_without_the_value(checker) -> None:
    with pytest.raises(PiiRefused) as caught:
        checker.enforce("support_tickets", {"description": NOTE}, OnPii.REFUSE)
    error = caught.value
    assert error.status == 422
    body = json.dumps({"detail": error.detail, **error.extra})
    assert "ada.lovelace" not in body and "mail.example" not in body
    assert {"field": "description", "type": "EMAIL_ADDRESS", "start": 25, "end": 50} in (
        error.extra["entities"]
    )


def test_redact_replaces_the_undeclared_entities_before_storing(checker) -> None:
    result = checker.enforce(
        "support_tickets", {"description": NOTE, "priority": "high"}, OnPii.REDACT
    )
    assert result.values["description"] == (
        "Customer asked us to use <EMAIL_ADDRESS> for invoices."
    )
    assert result.values["priority"] == "high"


def test_redact_with_the_keyed_hash_is_stable_per_value(checker) -> None:
    first = checker.enforce("interactions", {"body": NOTE}, "redact", operator="hash")
    second = checker.enforce("interactions", {"body": f"Again: {NOTE}"}, "redact", operator="hash")
    token = first.values["body"].split()[5]
    assert token.startswith("<") and token in second.values["body"]


def test_the_check_runs_only_the_recognizers_of_what_it_can_report_with_the_same_findings(
    checker,  # noqa: ANN001
) -> None:
    # URLs, dates, VAT ids and organisations are no personal data: their recognizers are
    # not run, and the personal findings are those of an analysis for every type
    from governance.pii import evaluation
    from governance.pii.evaluation_sources.sources import crm_notes

    engine = checker.engine
    wanted = checker._wanted([checker.datamap.collections["support_tickets"].fields["description"]])
    assert not {"URL", "DATE_TIME", "EU_VAT_ID", "ORGANIZATION"} & set(wanted)
    assert {"PERSON", "EMAIL_ADDRESS", "CRM_ORDER_NUMBER"} <= set(wanted)
    personal = engine.config.personal_entities
    texts = [d.text for d in evaluation.generate(80, seed=17)] + [d.text for d in crm_notes()]
    every = engine.analyze_batch(texts)
    for text, entities in zip(texts, every, strict=True):
        found = {
            (f.entity_type, f.start, f.end)
            for f in checker.check("support_tickets", {"description": text}).findings
        }
        assert found == {(e.type, e.start, e.end) for e in entities if e.type in personal}
