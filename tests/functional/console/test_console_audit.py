"""The auditor's page and the JSON its in-browser verifier fetches, through the test client."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

from audit.tree import leaf_hash

_SPEC = importlib.util.spec_from_file_location(
    "verify_log", Path(__file__).resolve().parents[3] / "docs" / "verify_log.py"
)
verify_log = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(verify_log)
root_from_inclusion = verify_log.root_from_inclusion
verify_checkpoint = verify_log.verify_checkpoint
parse_verifier_key = verify_log.parse_verifier_key


def test_the_audit_page_shows_events_with_leaf_bytes_and_the_key_fingerprint(
    browser, signed_in
) -> None:  # noqa: ANN001
    user = signed_in("auditor")
    page = browser.http.get(f"/console/audit?actor=user:{user.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-leaf="' in html and "user.logged_in" in html
    assert 'id="fingerprint"' in html and 'id="served-key"' in html
    assert 'src="/console/static/verify.js"' in html


def test_the_verifier_json_checks_out_with_the_independent_script(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("auditor")
    cp = browser.http.get("/console/audit/checkpoint.json").get_json()
    name, key = parse_verifier_key(cp["verifier_key"])
    _, size, root = verify_checkpoint(cp["note"], name, key)
    html = browser.http.get("/console/audit").get_data(as_text=True)
    index = int(html.split('data-index="')[1].split('"')[0])
    leaf_b64 = html.split('data-leaf="')[1].split('"')[0]
    proof = browser.http.get(
        f"/console/audit/inclusion.json?index={index}&tree_size={size}"
    ).get_json()
    leaf = leaf_hash(base64.b64decode(leaf_b64))
    assert bytes.fromhex(proof["leaf_hash"]) == leaf
    assert (
        root_from_inclusion(index, size, leaf, [bytes.fromhex(h) for h in proof["audit_path"]])
        == root
    )


def test_audit_verify_runs_from_the_page(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("auditor")
    result = browser.post("/console/audit", "/console/audit/verify")
    assert result.status_code == 200
    assert "Server verification passed" in result.get_data(as_text=True)


def test_a_bad_proof_request_is_a_400_page_not_a_trace(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("auditor")
    response = browser.http.get("/console/audit/inclusion.json?index=x&tree_size=1")
    assert response.status_code == 400 and "Traceback" not in response.get_data(as_text=True)


def test_an_officer_cannot_read_the_audit_pages(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("compliance_officer")
    assert browser.http.get("/console/audit").status_code == 403
    assert browser.http.get("/console/audit/checkpoint.json").status_code == 403
