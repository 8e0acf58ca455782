"""The access summary (``governance policy check`` and the console's purposes page): only
granted fields, with their masks and whether the purpose may write them."""

from __future__ import annotations

from pathlib import Path

from policies.loader import load_policy_set
from policies.summary import access_summary

POLICY_DIR = Path(__file__).resolve().parents[3] / "policies"


def test_the_summary_lists_granted_fields_with_masks_and_writes_in_purpose_order() -> None:
    policy = load_policy_set(POLICY_DIR)
    summary = access_summary(policy.access, policy.purposes)

    assert [p.purpose for p in summary] == [p.id for p in policy.purposes]
    support = next(p for p in summary if p.purpose == "customer_support")
    assert support.free_text_pii == "redact"
    customers = {c.collection: c for c in support.collections}["customers"]
    labels = [f.label for f in customers.fields]
    assert "phone:last4*" in labels and "street:null" in labels and "email*" in labels
    assert "date_of_birth" not in {f.field for f in customers.fields}  # denied: not listed


def test_a_collection_a_purpose_may_neither_read_nor_write_is_left_out() -> None:
    policy = load_policy_set(POLICY_DIR)
    fulfilment = next(
        p for p in access_summary(policy.access, policy.purposes) if p.purpose == "order_fulfilment"
    )
    assert "payment_details" not in {c.collection for c in fulfilment.collections}
    assert all(c.fields for c in fulfilment.collections)
