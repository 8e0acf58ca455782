"""Access (GDPR Art. 15, CCPA right to know) and portability (Art. 20) exports.

``build_export`` reads every record of the subject in every collection the data map relates
to a subject (through :class:`RecordStore`, decrypted in memory) and states what GDPR
Art. 15(1)(a)-(h) lists: the purposes with their legal bases and the subject's consent to
each, and per data category (once, fields refer to it) the purposes using it, the
recipients, the storage periods and where the data comes from; whether there is profiling
and what it does; the subject's rights and where to complain; and the consent history. It
returns a ZIP holding ``data.json``, one CSV per collection with readable headers, and
``index.html``, a cover page a person can open without anything else.

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
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.requests.cover_page import cover_page
from governance.requests.notice import complaint_for, how_to_exercise, rights_for
from governance.store.services import Record, RecordStore
from governance.store.values import format_datetime
from policies.loader import PolicySet
from policies.purposes import Purpose
from policies.types import Collection, Field

EXPORT_KEY_LABEL = "dsr-exports"
DETAILS_KEY_LABEL = "dsr-details"
_SEAL_VERSION = b"\x01"
_PAGE = 500


# -- the Art. 15 metadata -----------------------------------------------------------------------
EXPORT_FORMAT = "crm-privacy-gateway/access-export/2"
# Where each item of GDPR Art. 15(1) is answered in data.json.
ARTICLE_15_1 = {
    "a_purposes": "purposes",
    "b_categories": "categories",
    "c_recipients": "recipients",
    "d_storage_period": "categories.*.storage",
    "e_rights": "rights",
    "f_complaint": "complaint",
    "g_source": "categories.*.sources",
    "h_automated_decisions": "automated_decision_making",
}
FROM_THE_SUBJECT = "you, when you gave it to us"


def field_purposes(policy: PolicySet, collection: str, field: str) -> tuple[str, ...]:
    """The purposes whose access rules let an application read or mask the field."""
    return policy.access.purposes_for(collection, field)


def basis_words(purpose: Purpose) -> str:
    return str(purpose.legal_basis).replace("_", " ")


def consent_status(purpose: Purpose, status: str) -> str:
    """The consent status as the subject should read it: a purpose that does not rest on
    consent has none to give, which "none" would misstate."""
    if not purpose.requires_consent:
        return f"not applicable ({basis_words(purpose)})"
    return "not given" if status == "none" else status


@lru_cache(maxsize=1)
def _fideslang_names() -> dict[str, str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return {c.fides_key: c.name or c.fides_key for c in DEFAULT_TAXONOMY.data_category}


def category_name(policy: PolicySet, category: str) -> str:
    return policy.datamap.custom_categories.get(category) or _fideslang_names().get(
        category, category
    )


def exported_fields(collection: Collection, portability: bool) -> list[Field]:
    fields = list(collection.fields.values())
    return [f for f in fields if f.is_personal] if portability else fields


def _storage(collection: Collection) -> dict[str, Any]:
    return {
        "collection": collection.name,
        "period": collection.retention.period.text,
        "counted_from": collection.retention.counted_from,
        "basis": collection.retention.basis,
    }


class _Categories:
    """The Art. 15 metadata, stated once per data category: the purposes that use it, their
    legal bases, recipients, storage periods and sources, gathered over every exported field
    of the category."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        self.found: dict[str, dict[str, Any]] = {}

    def add(self, collection: Collection, field: Field) -> None:
        entry = self.found.setdefault(
            field.category,
            {
                "name": category_name(self.policy, field.category),
                "purposes": set(),
                "storage": {},
                "sources": set(),
            },
        )
        entry["purposes"].update(field_purposes(self.policy, collection.name, field.name))
        entry["storage"][collection.name] = _storage(collection)
        if field.retention is not None:  # the field goes before its row: say when
            entry["storage"][f"{collection.name}.{field.name}"] = {
                "collection": collection.name,
                "field": field.name,
                "period": field.retention.period.text,
                "counted_from": field.retention.counted_from,
                "basis": field.retention.basis,
            }
        entry["sources"].add(collection.source or FROM_THE_SUBJECT)

    def document(self) -> dict[str, Any]:
        result = {}
        for key in sorted(self.found):
            entry = self.found[key]
            purposes = [
                p
                for pid in sorted(entry["purposes"])
                if (p := self.policy.purposes.get(pid)) is not None
            ]
            result[key] = {
                "name": entry["name"],
                "purposes": [p.id for p in purposes],
                "legal_bases": sorted({str(p.legal_basis) for p in purposes}),
                "recipients": [p.id for p in purposes if p.sells_or_shares],
                "storage": list(entry["storage"].values()),
                "sources": sorted(entry["sources"]),
            }
        return result


def _purposes(policy: PolicySet, current: Mapping[str, Any]) -> dict[str, Any]:
    return {
        p.id: {
            "description": p.description,
            "legal_basis": str(p.legal_basis),
            "consent": consent_status(p, str(current.get(p.id, {}).get("status", "none"))),
            "sells_or_shares": p.sells_or_shares,
            "profiling": p.profiling is not None,
        }
        for p in policy.purposes
    }


def _recipients(policy: PolicySet) -> list[dict[str, Any]]:
    return [
        {"purpose": p.id, "description": p.description}
        for p in policy.purposes
        if p.sells_or_shares
    ]


def _automated_decisions(policy: PolicySet) -> dict[str, Any]:
    profiled = [p for p in policy.purposes if p.profiling is not None]
    return {
        "exists": bool(profiled),
        "solely_automated_decisions": any(
            p.profiling.solely_automated_decision for p in profiled if p.profiling
        ),
        "purposes": [
            {
                "purpose": p.id,
                "logic": p.profiling.logic,
                "significance": p.profiling.significance,
                "solely_automated_decision": p.profiling.solely_automated_decision,
            }
            for p in profiled
            if p.profiling is not None
        ],
    }


def _consent(policy: PolicySet, consent: Mapping[str, Any]) -> dict[str, Any]:
    current = {}
    for pid, state in (consent.get("current") or {}).items():
        purpose = policy.purposes.get(pid)
        status = str(state.get("status", "none"))
        current[pid] = {**state, "status": consent_status(purpose, status) if purpose else status}
    return {**consent, "current": current}


# -- reading the subject's records ----------------------------------------------------------------
def subject_records(
    store: RecordStore, collection: Collection, subject_id: str, names: Sequence[str]
) -> Iterator[Record]:
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


_RECORD_COLUMNS = (("id", "Record id"), ("created_at", "Created"), ("updated_at", "Last updated"))


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
    categories = _Categories(policy)
    for collection in policy.datamap.subject_owned():
        fields = exported_fields(collection, portability)
        names = [f.name for f in fields]
        records = list(subject_records(store, collection, subject_id, names))
        counts[collection.name] = len(records)
        for f in fields:
            categories.add(collection, f)
        collections[collection.name] = {
            "description": collection.description,
            "source": collection.source or FROM_THE_SUBJECT,
            "storage": _storage(collection),
            # each category's purposes, bases, recipients and storage: under "categories"
            "fields": {f.name: {"label": f.display_label, "category": f.category} for f in fields},
            "records": [_record_json(r) for r in records],
        }
        header = [
            *(f"{label} ({name})" for name, label in _RECORD_COLUMNS),
            *(f"{f.display_label} ({f.name})" for f in fields),
        ]
        rows = [
            [
                r.id,
                format_datetime(r.created_at),
                format_datetime(r.updated_at),
                *(_cell(r.values.get(n)) for n in names),
            ]
            for r in records
        ]
        tables[collection.name] = (header, rows)
    controller = policy.purposes.controller
    document = {
        "format": EXPORT_FORMAT,
        "request": {"id": request_id, "type": request_type, "regulation": regulation},
        "generated_at": format_datetime(now),
        "subject_id": subject_id,
        "controller": (
            {"name": controller.name, "contact": controller.contact} if controller else None
        ),
        "scope": (
            "data the subject provided (personal data categories)"
            if portability
            else "every record of the subject"
        ),
        "article_15_1": ARTICLE_15_1,
        "purposes": _purposes(policy, consent.get("current") or {}),
        "categories": categories.document(),
        "recipients": _recipients(policy),
        "automated_decision_making": _automated_decisions(policy),
        "rights": rights_for(regulation),
        "how_to_exercise_rights": how_to_exercise(controller),
        "complaint": complaint_for(regulation, controller),
        "collections": collections,
        "consent": _consent(policy, consent),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # Compact: the C encoder (indent= would switch to the pure-Python one, 10x slower).
        archive.writestr(
            "data.json",
            json.dumps(document, ensure_ascii=False, default=str, separators=(",", ":")),
        )
        for name, (header, rows) in tables.items():
            archive.writestr(f"{name}.csv", _csv(header, rows))
        archive.writestr(
            "index.html", cover_page(document, policy, counts, [f"{name}.csv" for name in tables])
        )
    return Export(content=buffer.getvalue(), records=counts)


def _record_json(record: Record) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "created_at": format_datetime(record.created_at),
        "updated_at": format_datetime(record.updated_at),
    }
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
    """RFC 4180 with every cell quoted: a spreadsheet that splits lines on ``;`` (most EU
    locales) or a tab would otherwise cut ``x;=cmd|...`` into a second cell that starts
    with ``=`` and runs, whatever :func:`spreadsheet_safe` did at the cell's start."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
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
