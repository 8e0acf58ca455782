"""Access and portability exports: every record of the subject and none of another's, with
the Art. 15 metadata per field and the consent history, as data.json and one CSV per
collection; produced once, stored sealed, expired after the retention period."""

from __future__ import annotations

import csv
import io
import json
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


def run_export(runtime: Runtime, session: Session, sid: str, kind: str = "access"
               ) -> tuple[RequestService, str]:
    service = RequestService(session, runtime, OFFICER)
    request = service.create(kind, "gdpr", {"subject_id": sid})
    service.verify(request.id, "account login")
    service.start(request.id)
    session.commit()
    RequestExecutor(runtime, OFFICER).run(request.id)
    session.expire_all()
    return service, request.id


def unzip(content: bytes) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("data.json"))
        tables = {n[:-4]: list(csv.DictReader(io.StringIO(archive.read(n).decode())))
                  for n in names if n.endswith(".csv")}
    return data, tables


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


def test_every_field_carries_the_art_15_metadata(
    runtime: Runtime, session: Session, store: RecordStore
) -> None:
    sid = subject_records(store)["customers"][0]
    service, request_id = run_export(runtime, session, sid)
    data, _ = unzip(service.export(request_id))

    policy = runtime.policy
    for collection in policy.datamap.subject_owned():
        fields = data["collections"][collection.name]["fields"]
        assert set(fields) == set(collection.fields)
        for name, meta in fields.items():
            field = collection.fields[name]
            assert meta["category"] == field.category
            expected = policy.access.purposes_for(collection.name, name)
            assert [p["id"] for p in meta["purposes"]] == list(expected)
            assert meta["legal_bases"] == sorted(
                {str(policy.purposes.get(p).legal_basis) for p in expected})
            assert [r["purpose"] for r in meta["recipients"]] == [
                p for p in expected if policy.purposes.get(p).sells_or_shares]
            assert meta["retention"]["period"] == collection.retention.period.text
            assert meta["retention"]["basis"] == collection.retention.basis
    email = data["collections"]["customers"]["fields"]["email"]
    assert email["purposes"], "the email is processed for some purpose"
    assert all(p["legal_basis"] for p in email["purposes"])


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
        ("email_marketing", "grant"), ("analytics", "object")]
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
        open_sealed(runtime.keys.derived_key(EXPORT_KEY_LABEL), b"export", "another-request",
                    stored.sealed)


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
