"""The auditor's HTTP API (/v1/audit/...), checked the way an outside auditor would: the
signed note with code written here from the C2SP specs, proofs with the RFC 9162 verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoint import NoteSigner
from audit.events import Actor, AuditEvent, Outcome, Target, canonical_bytes
from audit.log import AuditLog
from audit.tree import verify_consistency, verify_inclusion
from tests.conftest import bearer

ORIGIN = "crm-privacy-gateway.example/audit"
PROBLEM_JSON = "application/problem+json"


# -- helpers ----------------------------------------------------------------------------


def record(sessions: sessionmaker[Session], log: AuditLog, *events: AuditEvent) -> list[str]:
    ids = []
    with sessions() as s:
        for event in events:
            ids.append(log.record(s, event))
        s.commit()
    return ids


def app_event(i: int, actor: str, action: str) -> AuditEvent:
    return AuditEvent(
        action=action,
        actor=Actor(id=actor, role="application"),
        target=Target(collection="customers", record_id=f"rec-{i}"),
        purpose="support",
        details={"count": i},
    )


def get_ok(http, url: str, key: str) -> dict[str, Any]:  # noqa: ANN001
    response = http.get(url, headers=bearer(key))
    assert response.status_code == 200, (url, response.get_json())
    return response.get_json()


def all_pages(http, key: str, query: str = "", limit: int = 3) -> list[dict[str, Any]]:  # noqa: ANN001
    """Follow next_cursor to the end; return every item in the order served."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        url = f"/v1/audit/events?limit={limit}{query}"
        if cursor:
            url += f"&cursor={cursor}"
        page = get_ok(http, url, key)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def independent_verify_note(note: str, name: str, public_key: bytes) -> tuple[str, int, bytes]:
    """c2sp.org/signed-note + c2sp.org/tlog-checkpoint, from the specs, without audit.checkpoint.

    Returns (origin, tree size, root hash); raises AssertionError or InvalidSignature."""
    text, sep, signatures = note.rpartition("\n\n")
    assert sep and signatures.endswith("\n"), "a note is text, a blank line, signature lines"
    message = (text + "\n").encode("utf-8")
    expected_id = hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]
    verified = 0
    for line in signatures[:-1].split("\n"):
        assert line.startswith("\u2014 "), line
        signer_name, blob_b64 = line[2:].split(" ")
        blob = base64.b64decode(blob_b64, validate=True)
        if signer_name == name and blob[:4] == expected_id:
            assert len(blob) == 4 + 64
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], message)
            verified += 1
    assert verified == 1, "no signature by the expected key"
    origin, size, root_b64 = text.split("\n")[:3]
    return origin, int(size), base64.b64decode(root_b64, validate=True)


@pytest.fixture
def auditor(issue_key) -> str:  # noqa: ANN001
    return issue_key("auditor")


# -- events -------------------------------------------------------------------------------


def test_events_are_listed_in_log_order_with_a_leaf_the_inclusion_proof_commits_to(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    ids = record(sessions, audit_log, *(app_event(i, "crm-app-1", "data.read") for i in range(6)))

    items = get_ok(http, "/v1/audit/events?limit=500", auditor)["items"]
    size = get_ok(http, "/v1/audit/checkpoint", auditor)["tree_size"]

    indices = [item["index"] for item in items]
    assert indices == list(range(indices[0], indices[0] + len(items)))
    assert [item["event"]["id"] for item in items if item["event"]["id"] in ids] == ids
    for item in items:
        leaf = base64.b64decode(item["leaf"], validate=True)
        proof = get_ok(
            http, f"/v1/audit/proofs/inclusion?index={item['index']}&tree_size={size}", auditor
        )
        assert hashlib.sha256(b"\x00" + leaf).hexdigest() == proof["leaf_hash"]
        # The decoded event is exactly the canonical bytes the leaf hash commits to.
        assert json.loads(leaf) == item["event"]
        assert canonical_bytes(item["event"]) == leaf


def test_filters_and_cursor_pages_cover_every_matching_event_exactly_once(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    actions = ("data.read", "data.write", "consent.granted")
    plan = [("crm-app-1" if i % 2 else "crm-app-2", actions[i % 3]) for i in range(14)]
    ids = record(sessions, audit_log, *(app_event(i, a, act) for i, (a, act) in enumerate(plan)))

    everything = all_pages(http, auditor, limit=4)
    indices = [item["index"] for item in everything]
    assert indices == list(range(len(everything)))  # every position once, in order
    assert [e["event"]["id"] for e in everything if e["event"]["id"] in ids] == ids

    def expect(predicate) -> list[str]:  # noqa: ANN001
        return [i for i, p in zip(ids, plan, strict=True) if predicate(*p)]

    cases = {
        "&actor=crm-app-1": expect(lambda a, act: a == "crm-app-1"),
        "&action=data.write": expect(lambda a, act: act == "data.write"),
        "&action=data.*": expect(lambda a, act: act.startswith("data.")),
        "&actor=crm-app-2&action=consent.granted": expect(
            lambda a, act: a == "crm-app-2" and act == "consent.granted"
        ),
    }
    for query, expected in cases.items():
        served = all_pages(http, auditor, query, limit=2)
        assert [item["event"]["id"] for item in served] == expected, query
        assert len({item["index"] for item in served}) == len(served)


def test_a_cursor_the_service_did_not_issue_is_a_problem(http, auditor: str) -> None:  # noqa: ANN001
    response = http.get("/v1/audit/events?cursor=not-a-cursor", headers=bearer(auditor))
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON


def full_event(i: int, purpose: str, outcome: Outcome, collection: str) -> AuditEvent:
    return AuditEvent(
        action="data.read",
        actor=Actor(id="crm-app-9", role="application"),
        outcome=outcome,
        target=Target(collection=collection, record_id=f"rec-{i}"),
        purpose=purpose,
        reason=None if outcome is Outcome.ALLOWED else "consent",
        # A details key named like a filter must not be mistaken for it.
        details={"collection": "orders", "purposes": ["billing"]},
    )


def test_purpose_outcome_and_collection_filter_the_events(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    plan = [
        ("customer_support", Outcome.ALLOWED, "customers"),
        ("billing", Outcome.DENIED, "customers"),
        ("customer_support", Outcome.DENIED, "tickets"),
        ("email_marketing", Outcome.ALLOWED, "tickets"),
    ]
    ids = record(sessions, audit_log, *(full_event(i, *p) for i, p in enumerate(plan)))

    def served(query: str) -> list[str]:
        return [
            item["event"]["id"]
            for item in all_pages(http, auditor, query, limit=2)
            if item["event"]["id"] in ids
        ]

    def expect(predicate) -> list[str]:  # noqa: ANN001
        return [i for i, p in zip(ids, plan, strict=True) if predicate(*p)]

    assert served("&purpose=customer_support") == expect(lambda p, o, c: p == "customer_support")
    assert served("&purpose=billing") == expect(lambda p, o, c: p == "billing")
    assert served("&outcome=denied") == expect(lambda p, o, c: o is Outcome.DENIED)
    assert served("&collection=tickets") == expect(lambda p, o, c: c == "tickets")
    assert served("&collection=orders") == []  # only in details, not the target
    assert served("&purpose=customer_support&outcome=denied&collection=tickets") == [ids[2]]
    # A filter matches whole values, never a prefix.
    assert served("&purpose=customer") == []
    # Events of other purposes, outcomes and collections are not in a filtered answer.
    assert all(
        item["event"].get("purpose") == "billing"
        for item in all_pages(http, auditor, "&purpose=billing", limit=50)
    )


@pytest.mark.parametrize(
    "query",
    ["outcome=maybe", "purpose=Ada%20Lovelace", "collection=a%22b", "shoe_size=42", "subject=x"],
)
def test_a_bad_or_unknown_events_filter_is_a_422_problem(http, auditor: str, query: str) -> None:  # noqa: ANN001
    response = http.get(f"/v1/audit/events?{query}", headers=bearer(auditor))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON


def test_checkpoints_list_the_signed_history_in_pages_each_note_verifying(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
    signer: NoteSigner,
) -> None:
    sizes = []
    for round_ in range(4):
        record(
            sessions,
            audit_log,
            *(app_event(i, "crm-app-1", "data.read") for i in range(round_ + 1)),
        )
        sizes.append(get_ok(http, "/v1/audit/checkpoint", auditor)["tree_size"])

    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = get_ok(
            http, "/v1/audit/checkpoints?limit=2" + (f"&cursor={cursor}" if cursor else ""), auditor
        )
        assert len(page["items"]) <= 2
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    served = [cp["tree_size"] for cp in items]
    assert served == sorted(set(served))  # oldest first, each once
    assert set(sizes) <= set(served)
    for cp in items:
        origin, size, root = independent_verify_note(
            cp["note"], cp["key_name"], signer.public_key_bytes
        )
        assert (origin, size, root.hex()) == (ORIGIN, cp["tree_size"], cp["root_hash"])
        assert cp["verifier_key"] == signer.verifier_key
    # Any two of them are consistent: the later extends the earlier.
    first, last = items[0], items[-1]
    proof = get_ok(
        http,
        f"/v1/audit/proofs/consistency?first={first['tree_size']}&second={last['tree_size']}",
        auditor,
    )["proof"]
    assert verify_consistency(
        first["tree_size"],
        last["tree_size"],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(last["root_hash"]),
        [bytes.fromhex(h) for h in proof],
    )


def test_checkpoints_since_a_size_start_after_it(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    record(sessions, audit_log, app_event(1, "crm-app-1", "data.read"))
    old = get_ok(http, "/v1/audit/checkpoint", auditor)["tree_size"]
    record(sessions, audit_log, app_event(2, "crm-app-1", "data.read"))
    new = get_ok(http, "/v1/audit/checkpoint", auditor)["tree_size"]

    page = get_ok(http, f"/v1/audit/checkpoints?after_size={old}", auditor)

    served = [cp["tree_size"] for cp in page["items"]]
    # The first after the kept one, then those signed over the auditor's own reads since.
    assert served[0] == new and all(size > old for size in served)


TOO_BIG = 2**63  # one past the largest integer PostgreSQL's bigint and SQLite hold


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/audit/checkpoints?after_size={TOO_BIG}",
        f"/v1/audit/checkpoints?after_size={10**30}",
        f"/v1/audit/proofs/inclusion?index={TOO_BIG}&tree_size=1",
        f"/v1/audit/proofs/inclusion?index=0&tree_size={TOO_BIG}",
        f"/v1/audit/proofs/consistency?first=1&second={TOO_BIG}",
        f"/v1/audit/proofs/consistency?first={TOO_BIG}&second={TOO_BIG}",
    ],
)
def test_an_integer_larger_than_the_database_holds_is_a_422_problem(
    http, auditor: str, path: str
) -> None:  # noqa: ANN001
    response = http.get(path, headers=bearer(auditor))

    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON


def test_the_largest_integer_the_database_holds_is_answered(http, auditor: str) -> None:  # noqa: ANN001
    page = get_ok(http, f"/v1/audit/checkpoints?after_size={TOO_BIG - 1}", auditor)
    assert page["items"] == []


# -- checkpoint and proofs ------------------------------------------------------------------


def test_checkpoint_note_verifies_with_independent_code_and_the_published_key(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
    signer: NoteSigner,
) -> None:
    record(sessions, audit_log, *(app_event(i, "crm-app-1", "data.read") for i in range(3)))

    body = get_ok(http, "/v1/audit/checkpoint", auditor)

    public_key = base64.b64decode(body["public_key"], validate=True)
    assert public_key == signer.public_key_bytes  # the operator's configured key
    origin, size, root = independent_verify_note(body["note"], body["key_name"], public_key)
    assert origin == ORIGIN
    assert size == body["tree_size"] >= 3
    assert root.hex() == body["root_hash"]
    key_id = hashlib.sha256(body["key_name"].encode() + b"\n\x01" + public_key).digest()[:4]
    typed_key = base64.b64encode(b"\x01" + public_key).decode()
    assert body["verifier_key"] == f"{body['key_name']}+{key_id.hex()}+{typed_key}"
    # The independent verifier is not a rubber stamp: an edited size breaks the signature.
    forged = body["note"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    with pytest.raises(InvalidSignature):
        independent_verify_note(forged, body["key_name"], public_key)


def test_inclusion_proofs_from_the_api_verify_against_the_checkpoint_root(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    record(sessions, audit_log, *(app_event(i, "crm-app-1", "data.read") for i in range(10)))
    cp = get_ok(http, "/v1/audit/checkpoint", auditor)
    size, root = cp["tree_size"], bytes.fromhex(cp["root_hash"])

    for index in range(size):
        proof = get_ok(http, f"/v1/audit/proofs/inclusion?index={index}&tree_size={size}", auditor)
        assert (proof["leaf_index"], proof["tree_size"]) == (index, size)
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert verify_inclusion(bytes.fromhex(proof["leaf_hash"]), index, size, path, root)


def test_consistency_proof_between_two_checkpoints_verifies(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    record(sessions, audit_log, *(app_event(i, "crm-app-1", "data.read") for i in range(5)))
    old = get_ok(http, "/v1/audit/checkpoint", auditor)
    record(sessions, audit_log, *(app_event(i, "crm-app-2", "data.write") for i in range(7)))
    new = get_ok(http, "/v1/audit/checkpoint", auditor)
    first, second = old["tree_size"], new["tree_size"]
    assert first < second

    body = get_ok(http, f"/v1/audit/proofs/consistency?first={first}&second={second}", auditor)

    assert (body["first"], body["second"]) == (first, second)
    proof = [bytes.fromhex(h) for h in body["proof"]]
    old_root, new_root = bytes.fromhex(old["root_hash"]), bytes.fromhex(new["root_hash"])
    assert verify_consistency(first, second, old_root, new_root, proof)
    assert not verify_consistency(first, second, new_root, new_root, proof)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/audit/proofs/inclusion?index={size}&tree_size={size}",
        "/v1/audit/proofs/inclusion?index=0&tree_size={beyond}",
        "/v1/audit/proofs/inclusion?index=-1&tree_size={size}",
        "/v1/audit/proofs/inclusion?index=0&tree_size=0",
        "/v1/audit/proofs/consistency?first={size}&second={beyond}",
        "/v1/audit/proofs/consistency?first={size}&second=1",
        "/v1/audit/proofs/consistency?first=0&second={size}",
    ],
    ids=[
        "index-at-size",
        "size-beyond-log",
        "negative-index",
        "empty-tree",
        "second-beyond-log",
        "first-after-second",
        "first-zero",
    ],
)
def test_proofs_outside_the_log_are_422_problems(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,
    url: str,  # noqa: ANN001
) -> None:
    record(sessions, audit_log, *(app_event(i, "crm-app-1", "data.read") for i in range(4)))
    size = get_ok(http, "/v1/audit/checkpoint", auditor)["tree_size"]

    response = http.get(url.format(size=size, beyond=size + 1000), headers=bearer(auditor))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation")


ENDPOINTS = [
    "/v1/audit/events",
    "/v1/audit/checkpoint",
    "/v1/audit/checkpoints",
    "/v1/audit/proofs/inclusion?index=0&tree_size=1",
    "/v1/audit/proofs/consistency?first=1&second=1",
    "/v1/audit/verify",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_application_key_is_forbidden_from_the_audit_api(http, issue_key, url: str) -> None:  # noqa: ANN001
    response = http.get(url, headers=bearer(issue_key("application")))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM_JSON


def test_a_forbidden_request_is_itself_audited(http, issue_key, auditor: str) -> None:  # noqa: ANN001
    http.get("/v1/audit/checkpoint", headers=bearer(issue_key("application")))

    denied = all_pages(http, auditor, "&action=auth.denied", limit=50)

    assert denied, "the 403 left no trace"
    event = denied[-1]["event"]
    assert event["outcome"] == "denied" and event["reason"] == "forbidden"
    assert event["details"]["route"] == "/v1/audit/checkpoint"
    assert event["details"]["http_status"] == 403


def test_verify_endpoint_reports_an_intact_log(
    http,
    auditor: str,
    sessions: sessionmaker[Session],
    audit_log: AuditLog,  # noqa: ANN001
) -> None:
    record(sessions, audit_log, *(app_event(i, "crm-app-1", "data.read") for i in range(8)))
    cp = get_ok(http, "/v1/audit/checkpoint", auditor)

    body = get_ok(http, "/v1/audit/verify", auditor)

    assert body["ok"] is True
    assert body["problems"] == []
    assert body["tree_size"] >= cp["tree_size"]
    assert body["checkpoints_checked"] >= 1
    assert body["pending"] == 0
    # The verify request itself was recorded and committed with its answer.
    verified = all_pages(http, auditor, "&action=audit.verified", limit=50)
    assert len(verified) == 1
