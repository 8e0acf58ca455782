"""access.yaml: validation collects every problem; compiled decisions follow the rules
(deny by default, category prefixes, most restrictive wins); the evaluator answers with
reasons and denial codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policies.access import Effect, Mask, parse_access
from policies.consent import ConsentStatus, PurposeConsent, SubjectConsentState
from policies.engine import AccessRequest, Action, PolicyEngine
from policies.errors import PolicyFileError
from policies.loader import load_policy_set

POLICY_DIR = Path(__file__).resolve().parents[3] / "policies"


@pytest.fixture(scope="module")
def shipped():
    return load_policy_set(POLICY_DIR)


def parse(shipped, purposes: dict):
    return parse_access({"version": 1, "purposes": purposes}, shipped.datamap, shipped.purposes)


def rule(**kwargs):
    return {"id": "r", "collections": ["customers"], **kwargs}


def test_every_purpose_has_compiled_access_and_unnamed_fields_are_denied(shipped) -> None:
    assert set(shipped.access.purposes) == set(shipped.purposes.ids())
    decision = shipped.access.access("customer_support", "customers").read["job_title"]
    assert decision.effect is Effect.DENY and decision.rule is None
    assert decision.reason == "field job_title: no rule of purpose customer_support allows it"


def test_the_most_restrictive_rule_wins(shipped) -> None:
    access = parse(
        shipped,
        {
            "customer_support": {
                "rules": [
                    {"id": "all", "collections": ["customers"], "fields": ["*"], "effect": "allow"},
                    {
                        "id": "phone",
                        "collections": ["customers"],
                        "fields": ["phone"],
                        "effect": "mask",
                        "mask": "last4",
                    },
                    {
                        "id": "phone-null",
                        "collections": ["customers"],
                        "fields": ["phone"],
                        "effect": "mask",
                        "mask": "null",
                    },
                    {
                        "id": "no-email",
                        "collections": ["*"],
                        "categories": ["user.contact.email"],
                        "effect": "deny",
                    },
                ]
            }
        },
    )
    read = access.access("customer_support", "customers").read
    assert (read["phone"].effect, read["phone"].mask) == (Effect.MASK, Mask.NULL)
    assert read["phone"].rule == "customer_support/phone-null"
    assert read["email"].effect is Effect.DENY
    assert read["city"].effect is Effect.ALLOW


def test_a_category_prefix_covers_every_category_below_it(shipped) -> None:
    access = parse(
        shipped,
        {
            "customer_support": {
                "rules": [rule(categories=["user.contact.address"], effect="allow")]
            }
        },
    )
    read = access.access("customer_support", "customers").read
    returned = {f for f, d in read.items() if d.returned and d.rule}
    assert returned == {"street", "city", "postal_code", "country"}


def test_writes_need_a_write_rule_and_no_deny(shipped) -> None:
    access = parse(
        shipped,
        {
            "customer_support": {
                "rules": [
                    rule(fields=["email", "phone"], effect="allow", write=True),
                    {
                        "id": "no-phone",
                        "collections": ["customers"],
                        "fields": ["phone"],
                        "effect": "deny",
                    },
                ]
            }
        },
    )
    customers = access.access("customer_support", "customers")
    assert customers.writable == {"email"}
    assert (
        customers.write_reasons["phone"] == "field phone: denied by rule customer_support/no-phone"
    )


@pytest.mark.parametrize(
    ("purposes", "where", "message"),
    [
        (
            {"nobody": {"rules": [rule(fields=["email"], effect="allow")]}},
            "purposes.nobody",
            "not a purpose",
        ),
        (
            {
                "billing": {
                    "rules": [
                        {
                            "id": "r",
                            "collections": ["leads"],
                            "fields": ["email"],
                            "effect": "allow",
                        }
                    ]
                }
            },
            "collections",
            "not a collection",
        ),
        (
            {"billing": {"rules": [rule(fields=["shoe_size"], effect="allow")]}},
            "fields",
            "not a field",
        ),
        (
            {"billing": {"rules": [rule(fields=["email"], effect="mask", mask="year_only")]}},
            "mask",
            "does not apply",
        ),
        ({"billing": {"rules": [rule(fields=["email"], effect="mask")]}}, "mask", "names its mask"),
        (
            {
                "billing": {
                    "rules": [rule(fields=["email"], effect="mask", mask="hash", write=True)]
                }
            },
            "write",
            "only an allow rule",
        ),
        (
            {"billing": {"rules": [rule(fields=["id"], effect="deny")]}},
            "fields",
            "only be allowed or masked",
        ),
        (
            {"billing": {"rules": [rule(categories=["user.genetic"], effect="deny")]}},
            "categories",
            "covers no field",
        ),
        (
            {
                "billing": {
                    "rules": [
                        rule(fields=["email"], effect="allow"),
                        rule(fields=["city"], effect="allow"),
                    ]
                }
            },
            "id",
            "used twice",
        ),
        (
            {"billing": {"rules": [rule(fields=["email"], effect="maybe")]}},
            "effect",
            "is not one of",
        ),
        (
            {
                "billing": {
                    "free_text_pii": "ignore",
                    "rules": [rule(fields=["email"], effect="allow")],
                }
            },
            "free_text_pii",
            "is not one of",
        ),
    ],
)
def test_a_bad_rule_is_refused_naming_where_and_why(shipped, purposes, where, message) -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse(shipped, purposes)
    assert any(where in p.path and message in p.message for p in caught.value.problems), (
        caught.value.problems
    )


def test_every_problem_is_reported_at_once(shipped) -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse(
            shipped,
            {
                "billing": {
                    "rules": [
                        rule(fields=["shoe_size"], effect="allow"),
                        {
                            "id": "x",
                            "collections": ["leads"],
                            "fields": ["email"],
                            "effect": "deny",
                        },
                    ]
                }
            },
        )
    assert len(caught.value.problems) >= 2


def test_the_shipped_yaml_round_trips_through_the_parser(shipped) -> None:
    document = yaml.safe_load((POLICY_DIR / "access.yaml").read_text())
    again = parse_access(document, shipped.datamap, shipped.purposes)
    assert (
        again.access("analytics", "orders").read
        == shipped.access.access("analytics", "orders").read
    )


def test_purposes_for_a_field_are_those_that_may_see_it(shipped) -> None:
    assert "email_marketing" in shipped.access.purposes_for("customers", "email")
    assert "analytics" not in shipped.access.purposes_for("customers", "email")
    assert shipped.access.purposes_for("payment_details", "card_expiry") == ("legal_claims",)


# -- the evaluator ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(shipped) -> PolicyEngine:
    return PolicyEngine(shipped.access, shipped.purposes, shipped.version)


def ask(engine, purpose="customer_support", collection="customers", *, have=None, **kwargs):
    return engine.evaluate(
        AccessRequest("c1", frozenset(have or {purpose}), purpose, collection, **kwargs)
    )


def test_a_purpose_the_client_lacks_is_denied_with_code_purpose(engine) -> None:
    decision = ask(engine, "email_marketing", have={"customer_support"})
    assert not decision.allowed and decision.denial == "purpose"


def test_a_collection_the_purpose_never_reads_is_denied_with_code_collection(engine) -> None:
    decision = ask(engine, "email_marketing", "payment_details")
    assert not decision.allowed and decision.denial == "collection"


def test_a_denied_field_asked_for_by_name_is_denied_with_its_reason(engine) -> None:
    decision = ask(engine, fields=("email", "gender"))
    assert decision.denial == "field"
    assert decision.reason == "field gender: denied by rule customer_support/no-demographics"


def test_a_write_of_a_field_without_a_write_rule_is_denied(engine) -> None:
    decision = ask(engine, action=Action.WRITE, fields=("street",))
    assert decision.denial == "field"
    assert ask(engine, action=Action.WRITE, fields=("email",)).allowed


def test_consent_and_restriction_decide_for_one_subject_with_readable_reasons(
    engine, shipped
) -> None:
    granted = SubjectConsentState("s1", {"email_marketing": PurposeConsent(ConsentStatus.GRANTED)})
    withdrawn = SubjectConsentState(
        "s1", {"email_marketing": PurposeConsent(ConsentStatus.WITHDRAWN, source="gpc")}
    )
    restricted = SubjectConsentState(
        "s1", {"email_marketing": PurposeConsent(ConsentStatus.GRANTED)}, restricted=True
    )
    assert ask(engine, "email_marketing", subject=granted).allowed
    denied = ask(engine, "email_marketing", subject=withdrawn)
    assert denied.denial == "consent" and "consent withdrawn via gpc" in denied.reason
    assert ask(engine, "email_marketing", subject=restricted).denial == "restriction"
    assert ask(engine, "legal_claims", subject=restricted).allowed  # exempt from restriction


def test_cached_shapes_still_decide_each_subject_on_its_own(engine) -> None:
    yes = SubjectConsentState("a", {"email_marketing": PurposeConsent(ConsentStatus.GRANTED)})
    no = SubjectConsentState("b")
    for _ in range(3):
        assert ask(engine, "email_marketing", fields=("email",), subject=yes).allowed
        assert not ask(engine, "email_marketing", fields=("email",), subject=no).allowed


def test_every_decision_carries_the_policy_version(engine, shipped) -> None:
    assert ask(engine).policy_version == shipped.version
    assert ask(engine, "email_marketing", have={"x"}).policy_version == shipped.version
