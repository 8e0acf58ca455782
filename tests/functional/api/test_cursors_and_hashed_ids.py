"""A purpose that sees ids only hashed learns no raw id: list cursors are sealed (AEAD under a
key derived for cursors) and bound to the client, purpose and collection they were issued
for, and such a purpose cannot address a record by its raw id."""

from __future__ import annotations

import base64

import pytest

from governance.store.services import RecordStore
from tests.conftest import bearer

PEOPLE = [
    {
        "first_name": "Ada",
        "last_name": f"Fictional{n}",
        "email": f"cursor{n}@mail.example",
        "city": "Exampleville",
        "country": "US",
        "language": "en",
    }
    for n in range(5)
]


@pytest.fixture
def people(runtime, session) -> list[str]:  # noqa: ANN001
    store: RecordStore = runtime.record_store(session)
    ids = [store.create("customers", p).id for p in PEOPLE]
    session.commit()
    return ids


@pytest.fixture
def analytics(issue_key) -> dict[str, str]:  # noqa: ANN001
    return bearer(issue_key("application", "analytics"))


def _page(
    http,
    headers,
    purpose: str = "analytics",
    cursor: str | None = None,  # noqa: ANN001
    collection: str = "customers",
):  # noqa: ANN202
    path = f"/v1/data/{collection}?purpose={purpose}&limit=2"
    return http.get(path + (f"&cursor={cursor}" if cursor else ""), headers=headers)


def _decoded(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def test_a_cursor_does_not_carry_the_raw_id_of_the_last_row(http, analytics, people) -> None:  # noqa: ANN001
    cursor = _page(http, analytics).get_json()["next_cursor"]
    assert cursor
    raw = _decoded(cursor)
    assert not any(pid.encode() in raw for pid in people)
    assert not any(pid in cursor for pid in people)


def test_a_cursor_pages_through_every_record_once(http, analytics, people) -> None:  # noqa: ANN001
    seen, cursor = [], None
    while True:
        body = _page(http, analytics, cursor=cursor).get_json()
        seen += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= len(people)
    assert not set(seen) & set(people)  # hashed, every one


def test_a_tampered_cursor_is_refused(http, analytics, people) -> None:  # noqa: ANN001
    cursor = _page(http, analytics).get_json()["next_cursor"]
    raw = bytearray(_decoded(cursor))
    raw[-1] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    response = _page(http, analytics, cursor=forged)
    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/invalid-cursor")


def test_a_cursor_of_the_old_plain_form_is_refused(http, analytics, people) -> None:  # noqa: ANN001
    plain = base64.urlsafe_b64encode(b'{"after":"' + people[0].encode() + b'"}').decode()
    assert _page(http, analytics, cursor=plain.rstrip("=")).status_code == 400


@pytest.mark.parametrize("other", ["client", "purpose", "collection"])
def test_a_cursor_works_only_for_the_client_purpose_and_collection_it_was_issued_for(
    http, issue_key, analytics, people, other: str
) -> None:  # noqa: ANN001
    cursor = _page(http, analytics).get_json()["next_cursor"]
    if other == "client":
        response = _page(http, bearer(issue_key("application", "analytics")), cursor=cursor)
    elif other == "purpose":
        both = bearer(issue_key("application", "analytics", "customer_support"))
        cursor = _page(http, both).get_json()["next_cursor"]
        response = _page(http, both, purpose="customer_support", cursor=cursor)
    else:
        response = _page(http, analytics, cursor=cursor, collection="orders")
    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/invalid-cursor")


def test_a_purpose_that_sees_ids_hashed_cannot_read_a_record_by_its_raw_id(
    http, analytics, people
) -> None:  # noqa: ANN001
    by_raw = http.get(f"/v1/data/customers/{people[0]}?purpose=analytics", headers=analytics)
    unknown = http.get(f"/v1/data/customers/{'0' * 32}?purpose=analytics", headers=analytics)

    assert by_raw.status_code == 404 and unknown.status_code == 404
    strip = {"trace_id"}
    assert {k: v for k, v in by_raw.get_json().items() if k not in strip} == {
        k: v for k, v in unknown.get_json().items() if k not in strip
    }


def test_a_purpose_that_sees_ids_as_they_are_still_reads_by_id(http, issue_key, people) -> None:  # noqa: ANN001
    support = bearer(issue_key("application", "customer_support"))
    response = http.get(f"/v1/data/customers/{people[0]}?purpose=customer_support", headers=support)
    assert response.status_code == 200 and response.get_json()["id"] == people[0]
