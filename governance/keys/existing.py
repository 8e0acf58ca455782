"""Encrypt the plaintext values of an adopted CRM store in place (``keys encrypt-existing``).

A company that puts the service in front of its current CRM store has plaintext in columns
the data map marks ``encrypted``. This job seals them under each subject's data key and
fills the blind indexes, one batch of rows per CRM transaction, and keeps its resume point
in the key store. It is idempotent: sealed values are recognised by their header and left
alone, so a batch redone after a crash (CRM commit done, resume point not yet saved) changes
nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from governance.audit_actions import AuditAction
from governance.db import unit_of_work
from governance.keys.cipher import is_sealed
from governance.keys.events import KeyAuditor
from governance.keys.services import FieldCrypto
from governance.store.schema import CrmTables
from governance.store.values import InvalidValue, coerce, from_plain_bytes
from policies.types import ID_COLUMN, Collection, DataMap, Field

ENCRYPT_EXISTING = "encrypt_existing"


@dataclass
class EncryptReport:
    job_id: str
    resumed: bool
    rows: int = 0  # rows changed
    sealed: int = 0  # values sealed
    indexed: int = 0  # blind indexes filled for values that were already sealed
    without_subject: int = 0  # plaintext in rows that belong to no subject: left, reported
    unreadable: int = 0  # plaintext that is not a value of the field's type: left, reported


def legacy_value(field: Field, stored: bytes) -> Any:
    """The value of a plaintext cell: our JSON plain form, else UTF-8 text of the value."""
    relaxed = replace(field, required=False)
    try:
        return coerce(relaxed, from_plain_bytes(field, stored))
    except (ValueError, InvalidValue, UnicodeDecodeError):
        return coerce(relaxed, stored.decode("utf-8").strip())


def encrypt_existing(
    sessions: sessionmaker[Session],
    datamap: DataMap,
    tables: CrmTables,
    crypto: FieldCrypto,
    events: KeyAuditor | None,
    *,
    batch_size: int = 500,
    progress: Callable[[str, int], None] | None = None,
) -> EncryptReport:
    keystore = crypto.keys.keystore
    job = keystore.running_job(ENCRYPT_EXISTING)
    resumed = job is not None
    if job is None:
        job = keystore.start_job(ENCRYPT_EXISTING, None)
    report = EncryptReport(job_id=job.id, resumed=resumed)
    position = json.loads(job.position) if job.position else {"collection": None, "after": ""}
    names = list(datamap.collections)
    start = names.index(position["collection"]) if position["collection"] in names else 0
    for name in names[start:]:
        collection = datamap.collections[name]
        if not crypto.encrypted_fields(name):
            continue
        after = str(position["after"] or "") if name == position["collection"] else ""
        while True:
            with unit_of_work(sessions) as session:
                last = _batch(session, collection, tables, crypto, after, batch_size, report)
            if last is None:
                break
            after = last
            keystore.save_position(job.id, json.dumps({"collection": name, "after": after}), 0)
            if progress is not None:
                progress(name, report.rows)
    keystore.finish_job(job.id)
    if events is not None:
        events.record(
            AuditAction.KEY_EXISTING_ENCRYPTED,
            {
                "job_id": job.id,
                "rows": report.rows,
                "count": report.sealed,
            },
        )
    return report


def _batch(
    session: Session,
    collection: Collection,
    tables: CrmTables,
    crypto: FieldCrypto,
    after: str,
    limit: int,
    report: EncryptReport,
) -> str | None:
    table = tables[collection.name]
    codecs = crypto.encrypted_fields(collection.name)
    owner = collection.owner_column
    columns = [table.c[ID_COLUMN]] + ([table.c[owner]] if owner and owner != ID_COLUMN else [])
    columns += [table.c[n] for n in codecs]
    columns += [table.c[c.index_column] for c in codecs.values() if c.index_column]
    rows = session.execute(
        select(*columns).where(table.c[ID_COLUMN] > after).order_by(table.c[ID_COLUMN]).limit(limit)
    ).all()
    if not rows:
        return None
    owners = {r._mapping[ID_COLUMN]: (r._mapping[owner] if owner else None) for r in rows}
    keys = crypto.keys.data_keys([o for o in owners.values() if o], create=True)
    for row in rows:
        m = row._mapping
        record_id = m[ID_COLUMN]
        subject = owners[record_id]
        key = keys.get(subject) if subject else None
        plain: dict[str, Any] = {}
        for name, codec in codecs.items():
            stored = m[name]
            if stored is None:
                continue
            stored = bytes(stored)
            if is_sealed(stored):
                if codec.index_column and m[codec.index_column] is None and key is not None:
                    value = crypto.open_value(collection.name, name, record_id, key, stored)
                    session.execute(
                        update(table)
                        .where(table.c[ID_COLUMN] == record_id)
                        .values(
                            {codec.index_column: crypto.blind_index(collection.name, name, value)}
                        )
                    )
                    report.indexed += 1
                continue
            if key is None:
                report.without_subject += 1
                continue
            try:
                plain[name] = legacy_value(codec.field, stored)
            except (ValueError, InvalidValue, UnicodeDecodeError):
                report.unreadable += 1
        if plain:
            crypto.seal_cells(collection.name, record_id, key, plain)
            session.execute(update(table).where(table.c[ID_COLUMN] == record_id).values(plain))
            report.rows += 1
            report.sealed += sum(1 for n in plain if n in codecs)
    return rows[-1]._mapping[ID_COLUMN]
