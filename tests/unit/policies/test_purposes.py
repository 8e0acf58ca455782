"""purposes.yaml: the shipped purposes load, and malformed ones are refused with every problem,
each naming the file and the dotted path inside it."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.setup import DEMO_CLIENTS
from governance.settings import PACKAGED_POLICY_DIR
from policies.errors import PolicyFileError, Problem
from policies.loader import POLICY_FILES, load_policy_set
from policies.purposes import LegalBasis, RestrictionExemption, fideslang_data_uses, parse_purposes

SHIPPED = PACKAGED_POLICY_DIR / "purposes.yaml"


@pytest.fixture(scope="module")
def shipped_document() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(
        PACKAGED_POLICY_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return target


def refused(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(PolicyFileError) as caught:
        parse_purposes(document)
    assert all(p.file == "purposes.yaml" for p in caught.value.problems)
    return [(p.path, p.message) for p in caught.value.problems]


def paths(problems: list[tuple[str, str]]) -> list[str]:
    return [path for path, _ in problems]


def test_shipped_purposes_cover_a_crm_and_every_demo_client_purpose() -> None:
    purposes = load_policy_set(PACKAGED_POLICY_DIR).purposes

    assert set(purposes.ids()) >= {
        "customer_support",
        "order_fulfilment",
        "billing",
        "email_marketing",
        "personalised_recommendations",
        "analytics",
        "churn_prediction",
        "third_party_sharing",
    }
    for _, _, client_purposes in DEMO_CLIENTS:
        assert set(client_purposes) <= set(purposes.ids())


def test_shipped_purposes_derive_consent_objection_and_exemptions() -> None:
    purposes = load_policy_set(PACKAGED_POLICY_DIR).purposes

    consent_based = {p.id for p in purposes if p.requires_consent}
    assert consent_based == {p.id for p in purposes if p.legal_basis is LegalBasis.CONSENT}
    assert {"email_marketing", "third_party_sharing"} <= consent_based
    assert "customer_support" not in consent_based
    assert purposes.get("email_marketing").direct_marketing  # type: ignore[union-attr]
    assert purposes.get("email_marketing").objectable  # type: ignore[union-attr]
    assert purposes.get("analytics").objectable  # type: ignore[union-attr]
    assert not purposes.get("billing").objectable  # type: ignore[union-attr]
    assert not purposes.get("legal_claims").objectable  # type: ignore[union-attr]
    assert {p.id for p in purposes.selling_or_sharing()} == {"third_party_sharing"}
    exempt = {p.id: p.restriction_exemption for p in purposes if p.exempt_from_restriction}
    assert exempt == {
        "record_keeping": RestrictionExemption.STORAGE,
        "legal_claims": RestrictionExemption.LEGAL_CLAIMS,
    }
    assert all(p.data_use in fideslang_data_uses() for p in purposes)


def test_purposes_file_is_part_of_the_policy_set_and_its_version(tmp_path: Path) -> None:
    copy_dir = copy_policies(tmp_path)
    original = load_policy_set(copy_dir)
    assert "purposes.yaml" in POLICY_FILES
    assert original.sources["purposes.yaml"] == SHIPPED.read_text(encoding="utf-8")

    path = copy_dir / "purposes.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")

    assert load_policy_set(copy_dir).version != original.version


def test_problems_of_both_files_are_reported_together(tmp_path: Path) -> None:
    copy_dir = copy_policies(tmp_path)
    (copy_dir / "datamap.yaml").write_text("version: 2\n", encoding="utf-8")
    (copy_dir / "purposes.yaml").write_text("version: 1\npurposes: []\n", encoding="utf-8")

    with pytest.raises(PolicyFileError) as caught:
        load_policy_set(copy_dir)

    assert {p.file for p in caught.value.problems} == {"datamap.yaml", "purposes.yaml"}


def test_a_missing_purposes_file_is_refused_by_name(tmp_path: Path) -> None:
    copy_dir = copy_policies(tmp_path)
    (copy_dir / "purposes.yaml").unlink()

    with pytest.raises(PolicyFileError) as caught:
        load_policy_set(copy_dir)

    assert caught.value.problems == (
        Problem("purposes.yaml", "", caught.value.problems[0].message),
    )
    assert "cannot be read" in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("purpose", "change", "path", "says"),
    [
        pytest.param(
            "billing",
            {"legal_basis": "because"},
            "purposes.billing.legal_basis",
            "is not one of",
            id="unknown-legal-basis",
        ),
        pytest.param(
            "billing",
            {"data_use": "marketing.spam"},
            "purposes.billing.data_use",
            "not a fideslang data use",
            id="unknown-data-use",
        ),
        pytest.param(
            "billing",
            {"sells_or_shares": True},
            "purposes.billing.sells_or_shares",
            "must rest on consent",
            id="selling-without-consent",
        ),
        pytest.param(
            "analytics",
            {"sensitive": True},
            "purposes.analytics.sensitive",
            "explicit consent",
            id="sensitive-without-consent",
        ),
        pytest.param(
            "billing",
            {"restriction_exemption": "convenience"},
            "purposes.billing.restriction_exemption",
            "is not one of",
            id="unknown-exemption",
        ),
        pytest.param(
            "third_party_sharing",
            {"restriction_exemption": "storage"},
            "purposes.third_party_sharing.restriction_exemption",
            "never storage",
            id="selling-exempt-from-restriction",
        ),
        pytest.param(
            "billing",
            {"sensitive": "yes"},
            "purposes.billing.sensitive",
            "true or false",
            id="flag-not-boolean",
        ),
        pytest.param(
            "billing",
            {"description": ""},
            "purposes.billing.description",
            "non-empty string",
            id="empty-description",
        ),
        pytest.param(
            "billing",
            {"retention": "P1Y"},
            "purposes.billing.retention",
            "unknown key",
            id="unknown-key",
        ),
    ],
)
def test_a_malformed_purpose_is_refused_at_its_path(
    shipped_document: dict[str, Any], purpose: str, change: dict[str, Any], path: str, says: str
) -> None:
    document = copy.deepcopy(shipped_document)
    document["purposes"][purpose].update(change)

    problems = refused(document)

    assert path in paths(problems)
    assert says in dict(problems)[path]


def test_every_problem_is_collected_before_refusing(shipped_document: dict[str, Any]) -> None:
    document = copy.deepcopy(shipped_document)
    document["purposes"]["billing"]["legal_basis"] = "whim"
    document["purposes"]["analytics"]["data_use"] = "nonsense"
    document["purposes"]["Bad Id"] = document["purposes"]["billing"]

    problems = paths(refused(document))

    assert {
        "purposes.billing.legal_basis",
        "purposes.analytics.data_use",
        "purposes.Bad Id",
    } <= set(problems)


@pytest.mark.parametrize(
    "document",
    [None, [], {"version": 2, "purposes": {}}, {"version": 1}, {"version": 1, "purposes": []}],
    ids=["empty", "list", "wrong-version", "no-purposes", "purposes-not-mapping"],
)
def test_a_malformed_file_is_refused(document: Any) -> None:
    assert refused(document)


def test_a_profiling_purpose_must_say_what_its_profiling_does(shipped_document) -> None:  # noqa: ANN001
    document = copy.deepcopy(shipped_document)
    del document["purposes"]["churn_prediction"]["profiling"]
    assert "purposes.churn_prediction.profiling" in paths(refused(document))
    document = copy.deepcopy(shipped_document)
    document["purposes"]["churn_prediction"]["profiling"] = {"logic": "a model"}
    assert "purposes.churn_prediction.profiling.significance" in paths(refused(document))


def test_shipped_profiling_and_controller_are_read_for_the_access_export(shipped_document) -> None:  # noqa: ANN001
    purposes = parse_purposes(shipped_document)
    churn = purposes.get("churn_prediction")
    assert churn is not None and churn.profiling is not None
    assert churn.profiling.logic and churn.profiling.solely_automated_decision is False
    assert purposes.get("billing").profiling is None  # type: ignore[union-attr]
    assert purposes.controller is not None and purposes.controller.supervisory_authority


def test_a_controller_without_a_supervisory_authority_is_refused(shipped_document) -> None:  # noqa: ANN001
    document = copy.deepcopy(shipped_document)
    del document["controller"]["supervisory_authority"]
    assert "controller.supervisory_authority" in paths(refused(document))
