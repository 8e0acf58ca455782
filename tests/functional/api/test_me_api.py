"""GET /v1/me: a client sees its own rights, from the evaluator's own decisions."""

from __future__ import annotations

from tests.conftest import bearer


def test_an_application_sees_per_purpose_fields_masks_writes_and_filters(
    http, issue_key, runtime
) -> None:  # noqa: ANN001
    response = http.get(
        "/v1/me", headers=bearer(issue_key("application", "customer_support", "analytics"))
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["role"] == "application"
    assert "data.read" in body["permissions"]
    by_id = {p["id"]: p for p in body["purposes"]}
    assert set(by_id) == {"customer_support", "analytics"}
    access = runtime.policy.access
    for purpose, shown in by_id.items():
        for rights in shown["collections"]:
            decided = access.access(purpose, rights["collection"])
            assert set(rights["read"]) == {f for f, d in decided.read.items() if d.returned}
            assert set(rights["write"]) == set(decided.writable)
            for name, effect in rights["read"].items():
                mask = decided.read[name].mask
                assert effect == ("allow" if mask is None else str(mask))


def test_a_purpose_that_sees_ids_hashed_may_not_filter_on_them(http, issue_key, runtime) -> None:  # noqa: ANN001
    body = http.get("/v1/me", headers=bearer(issue_key("application", "analytics"))).get_json()
    [analytics] = body["purposes"]
    hashed = [
        r for r in analytics["collections"] if r["read"].get("subject_id", "allow") != "allow"
    ]
    assert hashed, "the analytics purpose should see subject ids masked somewhere"
    for rights in hashed:
        assert "subject_id" not in rights["filters"]


def test_an_officer_sees_its_role_and_no_purposes(http, issue_key) -> None:  # noqa: ANN001
    body = http.get("/v1/me", headers=bearer(issue_key("compliance_officer"))).get_json()
    assert body["role"] == "compliance_officer" and body["purposes"] == []
    assert "requests.manage" in body["permissions"]


def test_a_403_for_a_purpose_the_client_lacks_lists_the_purposes_it_has(http, issue_key) -> None:  # noqa: ANN001
    key = bearer(issue_key("application", "customer_support"))
    response = http.get("/v1/data/customers?purpose=email_marketing", headers=key)
    assert response.status_code == 403
    assert "customer_support" in response.get_json()["detail"]
