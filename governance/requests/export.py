"""Access (GDPR Art. 15, CCPA right to know) and portability (Art. 20) exports.

``build_export`` reads every record of the subject in every collection the data map relates
to a subject (through :class:`RecordStore`, decrypted in memory), with the Art. 15 metadata
of each field: its data category, the purposes it is processed for, their legal bases, the
recipients (purposes that sell or share with third parties) and its retention period; and the
subject's consent history. It returns a ZIP holding ``data.json`` and one CSV per collection.

Portability exports only what the subject provided: the fields whose data category is about
the subject (``user.*``, which in fideslang covers data given directly and data observed
from their use of the service, as the EDPB guidelines on Art. 20 read "provided"), not the
operational fields the business sets (``business.*``). The data map's categories are the
rule, so a company refines it by categorising its fields.

Stored exports are sealed with AES-256-GCM under a key derived for this one use
(``KeyService.derived_key``), with the request id as associated data, so an export copied
to another request's row does not open.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.store.services import Record, RecordStore
from governance.store.values import format_datetime
from policies.loader import PolicySet
from policies.types import Collection, Field

EXPORT_KEY_LABEL = "dsr-exports"
DETAILS_KEY_LABEL = "dsr-details"
_SEAL_VERSION = b"\x01"
_PAGE = 500


# -- the Art. 15 metadata -----------------------------------------------------------------------
def field_purposes(policy: PolicySet, collection: str, field: str) -> tuple[str, ...]:
    """The purposes whose access rules let an application read or mask the field."""
    return policy.access.purposes_for(collection, field)


def field_disclosure(policy: PolicySet, collection: Collection, field: Field) -> dict[str, Any]:
    purposes = [policy.purposes.get(p) for p in field_purposes(policy, collection.name, field.name)]
    known = [p for p in purposes if p is not None]
    return {
        "category": field.category,
        # each purpose's description is in the document's "purposes" section, once
        "purposes": [{"id": p.id, "legal_basis": str(p.legal_basis)} for p in known],
        "legal_bases": sorted({str(p.legal_basis) for p in known}),
        "recipients": [
            {"purpose": p.id, "description": p.description} for p in known if p.sells_or_shares
        ],
        "retention": {
            "period": collection.retention.period.text,
            "counted_from": collection.retention.counted_from,
            "basis": collection.retention.basis,
        },
    }


def exported_fields(collection: Collection, portability: bool) -> list[Field]:
    fields = list(collection.fields.values())
    return [f for f in fields if f.is_personal] if portability else fields


# -- reading the subject's records ----------------------------------------------------------------
def subject_records(store: RecordStore, collection: Collection, subject_id: str,
                    names: Sequence[str]) -> Iterator[Record]:
    after = None
    while True:
        page = store.list(collection.name, names, subject_id=subject_id, after=after, limit=_PAGE)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


@dataclass(frozen=True)
class Export:
    content: bytes  # the ZIP
    records: dict[str, int]  # collection -> records exported


def build_export(
    store: RecordStore,
    policy: PolicySet,
    subject_id: str,
    *,
    request_id: str,
    request_type: str,
    regulation: str,
    consent: Mapping[str, Any],
    now: datetime | None = None,
) -> Export:
    now = now or datetime.now(UTC)
    portability = request_type == "portability"
    collections: dict[str, Any] = {}
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    counts: dict[str, int] = {}
    for collection in policy.datamap.subject_owned():
        fields = exported_fields(collection, portability)
        names = [f.name for f in fields]
        records = list(subject_records(store, collection, subject_id, names))
        counts[collection.name] = len(records)
        collections[collection.name] = {
            "description": collection.description,
            "fields": {f.name: field_disclosure(policy, collection, f) for f in fields},
            "records": [_record_json(r) for r in records],
        }
        header = ["id", "created_at", "updated_at", *names]
        rows = [[r.id, format_datetime(r.created_at), format_datetime(r.updated_at),
                 *(_cell(r.values.get(n)) for n in names)] for r in records]
        tables[collection.name] = (header, rows)
    document = {
        "request": {"id": request_id, "type": request_type, "regulation": regulation},
        "generated_at": format_datetime(now),
        "subject_id": subject_id,
        "scope": ("data the subject provided (personal data categories)" if portability
                  else "every record of the subject"),
        "purposes": {
            p.id: {"description": p.description, "legal_basis": str(p.legal_basis),
                   "sells_or_shares": p.sells_or_shares}
            for p in policy.purposes
        },
        "collections": collections,
        "consent": consent,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # Compact: the C encoder (indent= would switch to the pure-Python one, 10x slower).
        archive.writestr("data.json", json.dumps(document, ensure_ascii=False, default=str,
                                                 separators=(",", ":")))
        for name, (header, rows) in tables.items():
            archive.writestr(f"{name}.csv", _csv(header, rows))
    return Export(content=buffer.getvalue(), records=counts)


def _record_json(record: Record) -> dict[str, Any]:
    body: dict[str, Any] = {"id": record.id, "created_at": format_datetime(record.created_at),
            "updated_at": format_datetime(record.updated_at)}
    body.update(record.values)
    if record.erased:
        body["erased_fields"] = list(record.erased)
    return body


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv(header: list[str], rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(c) for c in row])
    return out.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@")
_LEADING_BLANKS = " \t\r\n\u00a0"


def spreadsheet_safe(cell: str) -> str:
    """The cell, with a leading ``'`` where a spreadsheet would run it as a formula (CSV
    injection, OWASP): it starts with = + - @, a tab or a carriage return, or with blanks
    followed by one of those. A plain number such as ``-5`` stays as it is."""
    if not cell or _number(cell):
        return cell
    if cell[0] in ("\t", "\r") or cell.lstrip(_LEADING_BLANKS)[:1] in _FORMULA_STARTS:
        return "'" + cell
    return cell


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- sealing ----------------------------------------------------------------------------------
def _aad(purpose: bytes, request_id: str) -> bytes:
    return b"crm-gw/dsr/" + purpose + b"/v1\x00" + request_id.encode()


def seal(key: bytes, purpose: bytes, request_id: str, plain: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return _SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plain, _aad(purpose, request_id))


def open_sealed(key: bytes, purpose: bytes, request_id: str, sealed: bytes) -> bytes:
    if sealed[:1] != _SEAL_VERSION:
        raise ValueError("unknown sealed format")
    return AESGCM(key).decrypt(sealed[1:13], sealed[13:], _aad(purpose, request_id))


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
