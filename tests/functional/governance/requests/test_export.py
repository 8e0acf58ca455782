"""Access and portability exports: every record of the subject and none of another's, with
what GDPR Art. 15(1)(a)-(h) lists (stated once per data category) and the consent history,
as data.json, one CSV per collection with readable headers and a self-contained cover page;
produced once, stored sealed, expired after the retention period."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.consent.services import ConsentService, ConsentSource
from governance.requests.errors import ExportExpired, ExportNotAvailable
from governance.requests.models import DsrExport
from governance.requests.services import RequestExecutor, RequestService
from governance.runtime import Runtime
from governance.store.services import RecordStore
from tests.functional.governance.requests.conftest import OFFICER, subject_records


def run_export(
    runtime: Runtime, session: Session, sid: str, kind: str = "access"
) -> tuple[RequestService, str]:
    service = RequestService(session, runtime, OFFICER)
    request = service.create(kind, "gdpr", {"subject_id": sid})
    service.verify(request.id, "account login")
    service.start(request.id)
    session.commit()
    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()
    return service, request.id


_HEADER = re.compile(r"^.+ \(([a-z0-9_]+)\)$")


def field_name(header: str) -> str:
    """A CSV header reads "First name (first_name)": the field name is in the brackets."""
    matched = _HEADER.match(header)
    assert matched, f"the header {header!r} does not name its field"
    return matched.group(1)


def unzip(content: bytes) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("data.json"))
        tables = {
            n[:-4]: [
                {field_name(k): v for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(archive.read(n).decode()))
            ]
            for n in names
            if n.endswith(".csv")
        }
    return data, tables


def archive_file(content: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.read(name).decode()


@pytest.fixture
def two_subjects(store: RecordStore) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    return subject_records(store), subject_records(store)


def test_the_export_holds_every_record_of_the_subject_and_none_of_another(
    runtime: Runtime, session: Session, two_subjects: tuple[dict, dict]
) -> None:
    mine, other = two_subjects
    sid = mine["customers"][0]
    service, request_id = run_export(runtime, session, sid)

    assert service.get(request_id).status == "completed"
    data, tables = unzip(service.export(request_id))

    for collection in runtime.policy.datamap.subject_owned():
        exported = {r["id"] for r in data["collections"][collection.name]["records"]}
        assert exported == set(mine.get(collection.name, [])), collection.name
        assert {r["id"] for r in tables[collection.name]} == exported
        assert exported.isdisjoint(other.get(collection.name, []))
    customer = data["collections"]["customers"]["records"][0]
    assert customer["first_name"] == "Ada" and customer["email"].endswith("@mail.example")
    assert tables["customers"][0]["date_of_birth"] == "1990-04-01"  # decrypted in the CSV too
    assert data["subject_id"] == sid


def test_every_category_carries_the_art_15_metadata_once(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    data, _ = unzip(service.export(request_id))

    policy = runtime.policy
    categories = data["categories"]
    for collection in policy.datamap.subject_owned():
        fields = data["collections"][collection.name]["fields"]
        assert set(fields) == set(collection.fields)
        assert (
            data["collections"][collection.name]["storage"]["period"]
            == collection.retention.period.text
        )
        for name, meta in fields.items():
            field = collection.fields[name]
            assert meta == {"label": field.display_label, "category": field.category}
            category = categories[field.category]
            expected = policy.access.purposes_for(collection.name, name)
            assert set(expected) <= set(category["purposes"])
            assert {
                "collection": collection.name,
                "period": collection.retention.period.text,
                "counted_from": collection.retention.counted_from,
                "basis": collection.retention.basis,
            } in category["storage"]
            assert (collection.source or "you, when you gave it to us") in category["sources"]
    for meta in categories.values():
        purposes = [policy.purposes.get(p) for p in meta["purposes"]]
        assert meta["legal_bases"] == sorted({str(p.legal_basis) for p in purposes})
        assert meta["recipients"] == [p.id for p in purposes if p.sells_or_shares]
    assert categories["user.contact.email"]["purposes"], "the email is processed"
    # stated once: the per-category metadata is not repeated under each field
    text = archive_file(service.export(request_id), "data.json")
    assert text.count('"legal_bases"') == len(categories)


def test_a_field_kept_shorter_than_its_row_says_so_in_its_categorys_storage(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    data, _ = unzip(service.export(request_id))

    storage = data["categories"]["user.content.private"]["storage"]
    assert {
        "collection": "interactions",
        "field": "body",
        "period": "P1Y",
        "counted_from": "occurred_at",
        "basis": runtime.policy.datamap.collection("interactions").fields["body"].retention.basis,
    } in storage


def test_the_export_answers_every_item_of_article_15_1(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    data, _ = unzip(service.export(request_id))

    # (a) purposes, each with its legal basis
    assert set(data["purposes"]) == set(runtime.policy.purposes.ids())
    assert all(p["description"] and p["legal_basis"] for p in data["purposes"].values())
    # (b) categories of personal data, by name
    assert data["categories"]["user.name.first"]["name"] == "First Name"
    # (c) recipients: the purposes that share with others
    assert [r["purpose"] for r in data["recipients"]] == ["third_party_sharing"]
    # (d) storage periods, per category
    assert all(c["storage"] for c in data["categories"].values())
    # (e) rectification, erasure, restriction, objection
    assert {"rectification", "erasure", "restriction", "objection"} <= {
        r["right"] for r in data["rights"]
    }
    # (f) a complaint to a supervisory authority
    assert "supervisory authority" in data["complaint"]["what"]
    assert data["complaint"]["authority"]
    # (g) the source, where the data did not come from the subject
    assert (
        "Observed: recorded by our website while you were signed in."
        in data["categories"]["user.behavior.browsing_history"]["sources"]
    )
    # (h) profiling, with meaningful information about it
    adm = data["automated_decision_making"]
    assert adm["exists"] is True and adm["solely_automated_decisions"] is False
    assert {a["purpose"] for a in adm["purposes"]} == {
        "churn_prediction",
        "personalised_recommendations",
    }
    assert all(a["logic"] and a["significance"] for a in adm["purposes"])
    assert set(data["article_15_1"]) == {
        "a_purposes",
        "b_categories",
        "c_recipients",
        "d_storage_period",
        "e_rights",
        "f_complaint",
        "g_source",
        "h_automated_decisions",
    }


def test_a_ccpa_export_names_the_ccpa_rights(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    request = service.create("access", "ccpa", {"subject_id": sid})
    service.verify(request.id, "account login")
    service.start(request.id)
    session.commit()
    RequestExecutor(runtime, OFFICER).run(request.id)
    data, _ = unzip(service.export(request.id))
    assert {"know", "delete", "correct", "opt_out"} <= {r["right"] for r in data["rights"]}
    assert "California Privacy Protection Agency" in data["complaint"]["what"]


def test_consent_reads_not_applicable_where_a_purpose_does_not_rest_on_it(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    data, _ = unzip(service.export(request_id))

    assert data["purposes"]["customer_support"]["consent"] == "not applicable (contract)"
    assert data["purposes"]["analytics"]["consent"] == "not applicable (legitimate interests)"
    assert data["purposes"]["email_marketing"]["consent"] == "not given"
    assert data["consent"]["current"]["billing"]["status"] == "not applicable (contract)"


def test_every_timestamp_is_utc_with_z(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    ConsentService(session, runtime, OFFICER).record_consent(
        sid, "email_marketing", "grant", ConsentSource.WEB_FORM, "notice-1"
    )
    service, request_id = run_export(runtime, session, sid)
    content = service.export(request_id)
    data, tables = unzip(content)

    stamps = [
        data["generated_at"],
        *(e[k] for e in data["consent"]["history"] for k in ("occurred_at", "recorded_at")),
        *(
            r[k]
            for c in data["collections"].values()
            for r in c["records"]
            for k in ("created_at", "updated_at")
        ),
        *(r["occurred_at"] for r in data["collections"]["interactions"]["records"]),
        *(row["created_at"] for rows in tables.values() for row in rows),
    ]
    assert stamps and all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", s) for s in stamps
    ), stamps
    assert "+00:00" not in archive_file(content, "data.json")


def test_csv_headers_are_readable_labels_with_the_field_name(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    header = next(
        csv.reader(io.StringIO(archive_file(service.export(request_id), "customers.csv")))
    )
    assert header[:3] == ["Record id (id)", "Created (created_at)", "Last updated (updated_at)"]
    assert "First name (first_name)" in header and "Date of birth (date_of_birth)" in header
    web = next(csv.reader(io.StringIO(archive_file(service.export(request_id), "web_events.csv"))))
    assert "IP address (ip_address)" in web  # the data map's own label


def test_the_cover_page_is_self_contained_and_runs_nothing(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    page = archive_file(service.export(request_id), "index.html")

    assert page.startswith("<!doctype html>")
    assert "Example Retail Ltd (demo)" in page and request_id in page
    assert "supervisory authority" in page and "How it works:" in page
    assert "data.json" in page and "customers.csv" in page
    assert "not applicable (contract)" in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched


def test_the_export_carries_the_consent_history(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    consent = ConsentService(session, runtime, OFFICER)
    consent.record_consent(sid, "email_marketing", "grant", ConsentSource.WEB_FORM, "notice-1")
    consent.object(sid, "analytics", ConsentSource.WEB_FORM)

    service, request_id = run_export(runtime, session, sid)
    data, _ = unzip(service.export(request_id))

    assert [(e["purpose"], e["action"]) for e in data["consent"]["history"]] == [
        ("email_marketing", "grant"),
        ("analytics", "object"),
    ]
    assert data["consent"]["current"]["email_marketing"]["status"] == "granted"


def test_portability_exports_only_what_the_subject_provided(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid, kind="portability")
    data, tables = unzip(service.export(request_id))

    for collection in runtime.policy.datamap.subject_owned():
        fields = set(data["collections"][collection.name]["fields"])
        assert fields == {f.name for f in collection.fields.values() if f.is_personal}
        for row in tables[collection.name]:
            assert set(row) == {"id", "created_at", "updated_at", *fields}
    assert "status" not in data["collections"]["orders"]["fields"]  # business.operations


def test_the_export_is_stored_sealed_and_produced_once(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    stored = session.get(DsrExport, request_id)
    assert stored is not None
    assert b"PK" not in stored.sealed[:16] and b"Ada" not in stored.sealed
    assert stored.expires_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(days=29)
    first = service.export(request_id)
    assert service.export(request_id) == first

    # sealed for this request only: moved to another request's row it does not open
    from governance.requests.export import EXPORT_KEY_LABEL, open_sealed

    with pytest.raises(InvalidTag):
        open_sealed(
            runtime.keys.derived_key(EXPORT_KEY_LABEL), b"export", "another-request", stored.sealed
        )


def test_an_export_past_its_retention_is_gone_and_purged(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    stored = session.get(DsrExport, request_id)
    stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()

    with pytest.raises(ExportExpired) as gone:
        service.export(request_id)
    assert gone.value.status == 410
    assert service.purge_exports() >= 1
    assert session.scalar(select(DsrExport).where(DsrExport.request_id == request_id)) is None
    with pytest.raises(ExportExpired):
        service.export(request_id)


def test_there_is_no_export_before_completion_or_for_other_types(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service = RequestService(session, runtime, OFFICER)
    access = service.create("access", "gdpr", {"subject_id": sid})
    with pytest.raises(ExportNotAvailable):
        service.export(access.id)
    erasure = service.create("erasure", "gdpr", {"subject_id": sid})
    with pytest.raises(ExportNotAvailable):
        service.export(erasure.id)
