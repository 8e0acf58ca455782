"""Erasure (GDPR Art. 17, CCPA right to delete), driven by the data map, in recorded steps.

The plan, fixed when execution starts (``plan``):

1. one step per collection related to the subject, in an order where a collection that
   refers to another comes first: ``delete:<collection>`` removes the subject's rows;
   ``anonymize:<collection>`` keeps them for the data map's legal obligation but applies
   each field's ``on_erasure`` (``null``, ``keep``, ``year_only``), nulls every encrypted
   field (its key is about to be destroyed) and detaches the row from the subject; the
   subject's own record is deleted last;
2. ``consent``: the subject's consent history and state (``ConsentService.erase_subject``);
3. ``exports``: stored exports of the subject's earlier access requests;
4. ``suppress``: the suppression entry (the email's blind index only);
5. ``shred``: the subject's data key (crypto-shredding; backups become unreadable too);
6. ``verify``: look the subject up again by every lookup field (blind indexes captured
   when the plan was made; a remaining match of the email is a failure, of another lookup
   field such as a shared phone number a warning to review) and by id, check that no row
   of any collection still names the subject, that the anonymised rows hold nothing the
   data map says to remove, that the key is gone and the consent history empty; record
   the result.

Each step commits together with its ``done`` mark and audit event (consecutive steps 1-4
share a transaction, the shred has its own, verify shares one with the completion), so a
crash leaves every step either done or not started. Every step is idempotent (deleting or
anonymising rows that are gone changes nothing; shredding twice is harmless), which is what
makes re-running the step a crash interrupted between the key store's commit and ours safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, exists, func, literal, select, union_all, update
from sqlalchemy.orm import Session

from governance.consent.models import ConsentEvent
from governance.keys.services import FieldCrypto, KeyService
from governance.requests.models import DsrExport, DsrRequest, ErasureSuppression
from governance.store.schema import CrmTables
from policies.types import (
    ID_COLUMN,
    SUBJECT_COLUMN,
    UPDATED_COLUMN,
    Collection,
    DataMap,
    ErasureStrategy,
    Field,
    FieldType,
    OnErasure,
)

EMAIL_CATEGORY = "user.contact.email"


def erasure_order(datamap: DataMap) -> list[Collection]:
    """Owned collections, each before any collection it refers to; the subject's own last."""
    owned = [c for c in datamap.subject_owned() if c.has_subject_column]
    names = {c.name for c in owned}
    ordered: list[Collection] = []
    placed: set[str] = set()

    def place(collection: Collection, path: tuple[str, ...] = ()) -> None:
        if collection.name in placed or collection.name in path:
            return
        for other in owned:  # whoever refers to this collection goes first
            if other.name != collection.name and any(
                f.references == collection.name for f in other.fields.values()
            ):
                place(other, (*path, collection.name))
        placed.add(collection.name)
        ordered.append(collection)

    for collection in owned:
        if collection.name in names:
            place(collection)
    return [*ordered, datamap.subject()]


def step_names(datamap: DataMap) -> list[str]:
    steps = [f"{c.erasure.strategy}:{c.name}" for c in erasure_order(datamap)]
    return [*steps, "consent", "exports", "suppress", "shred", "verify"]


def email_field(datamap: DataMap) -> Field | None:
    """The subject collection's lookup field holding the email (by data category)."""
    for f in datamap.subject().fields.values():
        if f.lookup and f.category.startswith(EMAIL_CATEGORY):
            return f
    return None


def capture_lookups(
    session: Session, datamap: DataMap, tables: CrmTables, subject_id: str
) -> dict[str, Any]:
    """The subject's blind indexes (hex), read before anything is deleted, for ``verify``
    and ``suppress``. Blind indexes are keyed hashes: no value is stored."""
    subject = datamap.subject()
    table = tables[subject.name]
    lookups = [f for f in subject.fields.values() if f.blind_index_column]
    work: dict[str, Any] = {"lookups": {}, "suppress": None}
    if not lookups:
        return work
    row = session.execute(
        select(*(table.c[f.blind_index_column] for f in lookups)).where(  # type: ignore[index]
            table.c[ID_COLUMN] == subject_id
        )
    ).first()
    if row is None:
        return work
    email = email_field(datamap)
    for f, value in zip(lookups, row, strict=True):
        if value is not None:
            work["lookups"][f.name] = bytes(value).hex()
            if email is not None and f.name == email.name:
                work["suppress"] = bytes(value).hex()
    return work


# -- the collection steps ---------------------------------------------------------------
def delete_rows(
    session: Session, collection: Collection, tables: CrmTables, subject_id: str
) -> dict[str, Any]:
    table = tables[collection.name]
    column = table.c[_owner(collection)]
    result: Any = session.execute(delete(table).where(column == subject_id))
    return {"rows": int(result.rowcount)}


def anonymised_values(collection: Collection, crypto: FieldCrypto) -> dict[str, Any]:
    """The fixed part of an anonymising UPDATE (year_only fields are done per row)."""
    encrypted = crypto.encrypted_fields(collection.name)
    values: dict[str, Any] = {SUBJECT_COLUMN: None}
    for f in collection.fields.values():
        if f.name in encrypted or f.on_erasure is OnErasure.NULL:
            values[f.name] = None
            if f.blind_index_column:
                values[f.blind_index_column] = None
    return values


def _year_only(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.type is FieldType.DATE:
        return date(value.year, 1, 1)
    if field.type is FieldType.DATETIME:
        return datetime(value.year, 1, 1, tzinfo=UTC)
    if field.type is FieldType.INTEGER:
        return value
    return None  # a year of a string or number means nothing: remove it


def anonymize_rows(
    session: Session,
    collection: Collection,
    tables: CrmTables,
    crypto: FieldCrypto,
    subject_id: str,
) -> dict[str, Any]:
    if (
        collection.erasure.strategy is not ErasureStrategy.ANONYMIZE
        or not collection.has_subject_column
    ):
        raise ValueError(f"{collection.name} is not anonymised on erasure")
    table = tables[collection.name]
    ids = list(
        session.scalars(
            select(table.c[ID_COLUMN])
            .where(table.c[SUBJECT_COLUMN] == subject_id)
            .order_by(table.c[ID_COLUMN])
        )
    )
    encrypted = crypto.encrypted_fields(collection.name)
    fixed = anonymised_values(collection, crypto)
    fixed[UPDATED_COLUMN] = datetime.now(UTC)
    year_only = [
        f
        for f in collection.fields.values()
        if f.on_erasure is OnErasure.YEAR_ONLY and f.name not in encrypted
    ]
    if ids and year_only:
        rows = session.execute(
            select(table.c[ID_COLUMN], *(table.c[f.name] for f in year_only)).where(
                table.c[ID_COLUMN].in_(ids)
            )
        ).all()
        for row in rows:
            values = dict(fixed)
            for f, value in zip(year_only, row[1:], strict=True):
                values[f.name] = _year_only(f, value)
            session.execute(update(table).where(table.c[ID_COLUMN] == row[0]).values(values))
    elif ids:
        session.execute(update(table).where(table.c[SUBJECT_COLUMN] == subject_id).values(fixed))
    return {"rows": len(ids), "record_ids": ids[:1000]}


def delete_exports(session: Session, request: DsrRequest) -> dict[str, Any]:
    """Stored exports of this subject's requests (they hold its data, decrypted)."""
    ids = select(DsrRequest.id).where(DsrRequest.subject_id == request.subject_id)
    result: Any = session.execute(delete(DsrExport).where(DsrExport.request_id.in_(ids)))
    return {"rows": int(result.rowcount)}


def suppress(session: Session, work: Mapping[str, Any]) -> dict[str, Any]:
    index = work.get("suppress")
    if not index:
        return {"rows": 0}
    bidx = bytes.fromhex(index)
    if session.get(ErasureSuppression, bidx) is None:
        session.add(ErasureSuppression(email_bidx=bidx, created_at=datetime.now(UTC)))
        session.flush()
        return {"rows": 1}
    return {"rows": 0}


# -- verification -----------------------------------------------------------------------------
def verify(
    session: Session,
    datamap: DataMap,
    tables: CrmTables,
    crypto: FieldCrypto,
    keys: KeyService,
    subject_id: str,
    work: Mapping[str, Any],
    anonymised: Mapping[str, list[str]],
) -> dict[str, Any]:
    """Every check of step 6; ``problems`` names what failed (collections and fields only)."""
    problems: list[str] = []
    warnings: list[str] = []
    checks = 0
    subject = datamap.subject()
    subject_table = tables[subject.name]
    email = email_field(datamap)
    for name, index in (work.get("lookups") or {}).items():
        index_column = subject.fields[name].blind_index_column or ""
        checks += 1
        found = session.scalar(
            select(func.count())
            .select_from(subject_table)
            .where(subject_table.c[index_column] == bytes.fromhex(index))
        )
        if found:
            # The email identifies the person: another record with it is the same person,
            # still in the store. A phone number may be shared (a household): reported for
            # the officer to review as a possible duplicate, not a failed erasure.
            (problems if email is not None and name == email.name else warnings).append(
                f"lookup:{name}"
            )
    # One round trip: per collection, does any row still name the subject?
    remaining = []
    for collection in erasure_order(datamap):
        table = tables[collection.name]
        owner = table.c[_owner(collection)]
        remaining.append(
            select(literal(collection.name).label("name")).where(
                exists(select(table.c[ID_COLUMN]).where(owner == subject_id))
            )
        )
    checks += len(remaining)
    for name in session.scalars(union_all(*remaining)):
        problems.append(f"remaining:{name}")
    for collection in erasure_order(datamap):
        table = tables[collection.name]
        ids = anonymised.get(collection.name) or []
        if ids:
            checks += 1
            cleared = [c for c in anonymised_values(collection, crypto) if c != SUBJECT_COLUMN]
            if cleared:
                leftover = session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(
                        table.c[ID_COLUMN].in_(ids),
                        _any_not_null([table.c[c] for c in cleared]),
                    )
                )
                if leftover:
                    problems.append(f"anonymised:{collection.name}")
    checks += 1
    if keys.data_keys([subject_id]).get(subject_id) is not None:
        problems.append("key")
    checks += 1
    if session.scalar(
        select(func.count()).select_from(ConsentEvent).where(ConsentEvent.subject_id == subject_id)
    ):
        problems.append("consent")
    if work.get("suppress"):
        checks += 1
        if session.get(ErasureSuppression, bytes.fromhex(work["suppress"])) is None:
            problems.append("suppression")
    return {"verified": not problems, "problems": problems, "warnings": warnings, "count": checks}


def _any_not_null(columns: list[Any]) -> Any:
    from sqlalchemy import or_

    return or_(*(c.is_not(None) for c in columns))


def _owner(collection: Collection) -> str:
    """The owner column of a collection erasure touches (every one has subjects)."""
    column = collection.owner_column
    assert column is not None, collection.name
    return column
