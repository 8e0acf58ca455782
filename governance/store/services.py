"""Create, read, update and list records of any collection the data map declares.

The read and write paths are sequences of steps over a record's cells, so field encryption,
policy masks and PII checks slot in as steps rather than rewrites:

write: check names against the map -> coerce each value to its type -> seal encrypted fields
       under the subject's data key and set blind indexes -> insert/update
read:  select only the requested columns -> open only the encrypted fields asked for -> JSON
       values; a field whose subject key was shredded reads as erased (null, named in
       ``Record.erased``), a ciphertext that fails authentication raises the integrity error

No CRM field name is written here: everything comes from :class:`policies.types.DataMap`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.errors import shown_name
from governance.keys.cipher import DataKey
from governance.keys.services import FieldCrypto
from governance.prepared import PreparedSelect
from governance.retention.rules import RetentionFilter
from governance.store.errors import (
    DuplicateIdentity,
    InvalidRecord,
    RecordNotFound,
    UnknownCollection,
    UnknownFields,
)
from governance.store.schema import CrmTables
from governance.store.values import InvalidValue, coerce, to_json
from policies.types import (
    CREATED_COLUMN,
    ID_COLUMN,
    SUBJECT_COLUMN,
    UPDATED_COLUMN,
    Collection,
    DataMap,
)

MAX_PAGE = 500
EXPIRED_LABEL = "_expired"


@dataclass(frozen=True)
class Record:
    collection: str
    id: str
    subject_id: str | None
    values: dict[str, Any]  # JSON-ready values of the fields that were read
    created_at: datetime
    updated_at: datetime
    erased: tuple[str, ...] = ()  # encrypted fields whose subject key was shredded

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.subject_id is not None:
            body["subject_id"] = self.subject_id
        body.update(self.values)
        if self.erased:
            body["erased_fields"] = list(self.erased)
        return body


@dataclass(frozen=True)
class Page:
    items: list[Record]
    next_after: str | None


def new_id() -> str:
    return uuid.uuid4().hex


class RecordStore:
    def __init__(
        self, session: Session, datamap: DataMap, tables: CrmTables, crypto: FieldCrypto
    ) -> None:
        self.session = session
        self.datamap = datamap
        self.tables = tables
        self.crypto = crypto

    # -- collections and fields ---------------------------------------------------------
    def collection(self, name: str) -> Collection:
        try:
            return self.datamap.collections[name]
        except KeyError:
            raise UnknownCollection(
                f"the data map has no collection {shown_name(name)!r}"
            ) from None

    def _field_names(self, collection: Collection, fields: Iterable[str] | None) -> list[str]:
        if fields is None:
            return list(collection.fields)
        names = list(dict.fromkeys(fields))
        unknown = [n for n in names if n not in collection.fields]
        if unknown:
            raise UnknownFields(collection.name, unknown)
        return names

    # -- write path ---------------------------------------------------------------------
    def _cells(
        self, collection: Collection, values: Mapping[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        unknown = [k for k in values if k not in collection.fields]
        if unknown:
            raise UnknownFields(collection.name, unknown)
        errors: dict[str, list[str]] = {}
        cells: dict[str, Any] = {}
        for name, field in collection.fields.items():
            if partial and name not in values:
                continue
            try:
                cells[name] = coerce(field, values.get(name))
            except InvalidValue as exc:
                errors[name] = [str(exc)]
        if errors:
            raise InvalidRecord(f"the {collection.name} record is not valid", errors)
        return cells

    def _needs_key(self, collection: Collection, cells: Mapping[str, Any]) -> bool:
        encrypted = self.crypto.encrypted_fields(collection.name)
        return any(cells.get(name) is not None for name in encrypted)

    def create(
        self, collection_name: str, values: Mapping[str, Any], *, subject_id: str | None = None
    ) -> Record:
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        cells = self._cells(collection, values, partial=False)
        now = datetime.now(UTC)
        record_id = new_id()
        row: dict[str, Any] = {ID_COLUMN: record_id, CREATED_COLUMN: now, UPDATED_COLUMN: now}
        if collection.has_subject_column:
            if not subject_id:
                raise InvalidRecord(
                    f"a {collection.name} record belongs to a data subject",
                    {SUBJECT_COLUMN: ["is required"]},
                )
            self.require_subject(subject_id)
            row[SUBJECT_COLUMN] = subject_id
        owner = record_id if collection.is_subject else subject_id
        self._seal(collection, record_id, owner, cells)
        row.update(cells)
        self._refuse_duplicate_identity(collection, record_id, cells)
        try:
            self._execute(insert(table).values(row), collection)
        except InvalidRecord:
            # A writer that committed the same identity after our check (the unique index
            # refused this one): the same 409 as if it had been seen first.
            self._refuse_duplicate_identity(collection, record_id, cells)
            raise
        return self.get(collection.name, record_id)

    def _seal(
        self, collection: Collection, record_id: str, owner: str | None, cells: dict[str, Any]
    ) -> None:
        key = None
        if self._needs_key(collection, cells):
            if owner is None:
                raise InvalidRecord(
                    f"this {collection.name} record belongs to no data subject (anonymised); "
                    "its encrypted fields cannot be set",
                    {
                        name: ["cannot be set on an anonymised record"]
                        for name in self.crypto.encrypted_fields(collection.name)
                        if cells.get(name) is not None
                    },
                )
            key = self.crypto.keys.data_keys([owner], create=True)[owner]
        self.crypto.seal_cells(collection.name, record_id, key, cells)

    def insert_many(self, collection_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Bulk insert already-valid rows (each with its ``id`` and, if owned, ``subject_id``).

        Values are still coerced, sealed and indexed per the data map; what is skipped is the
        per-row read-back, and data keys are fetched or created once per batch, which is what
        makes loading a million customers practical.
        """
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        now = datetime.now(UTC)
        staged = []
        for raw in rows:
            fields = {k: v for k, v in raw.items() if k not in (ID_COLUMN, SUBJECT_COLUMN)}
            owner = raw[ID_COLUMN] if collection.is_subject else raw.get(SUBJECT_COLUMN)
            staged.append((raw, owner, self._cells(collection, fields, partial=False)))
        owners = [
            owner
            for _, owner, cells in staged
            if owner is not None and self._needs_key(collection, cells)
        ]
        keys = self.crypto.keys.data_keys(owners, create=True) if owners else {}
        prepared = []
        for raw, owner, cells in staged:
            key = keys.get(owner) if owner is not None else None
            self.crypto.seal_cells(collection.name, raw[ID_COLUMN], key, cells)
            row = {ID_COLUMN: raw[ID_COLUMN], CREATED_COLUMN: now, UPDATED_COLUMN: now}
            if collection.has_subject_column:
                row[SUBJECT_COLUMN] = raw[SUBJECT_COLUMN]
            row.update(cells)
            prepared.append(row)
        if prepared:
            self.session.execute(insert(table), prepared)
        return len(prepared)

    def update(self, collection_name: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        if not changes:
            raise InvalidRecord("nothing to update", {"_body": ["name at least one field"]})
        cells = self._cells(collection, changes, partial=True)
        if self._needs_key(collection, cells):
            self._seal(collection, record_id, self.owner(collection.name, record_id), cells)
        else:
            self.crypto.seal_cells(collection.name, record_id, None, cells)
        cells[UPDATED_COLUMN] = datetime.now(UTC)
        self._refuse_duplicate_identity(collection, record_id, cells)
        try:
            result = self._execute(
                update(table).where(table.c[ID_COLUMN] == record_id).values(cells), collection
            )
        except InvalidRecord:
            self._refuse_duplicate_identity(collection, record_id, cells)  # see create
            raise
        if result.rowcount == 0:
            raise RecordNotFound(collection.name)
        return self.get(collection.name, record_id)

    def _refuse_duplicate_identity(
        self, collection: Collection, record_id: str, cells: Mapping[str, Any]
    ) -> None:
        """DuplicateIdentity if another record of the collection has the blind index that
        ``cells`` (sealed) give an identity field: a request taken in by that value must
        name one person. The check runs under a transaction-scoped lock on the value on
        PostgreSQL, so two writers of one new value cannot both pass it where the unique
        index is missing (a store that held duplicates before the rule); SQLite has one
        writer at a time (writes begin IMMEDIATE). Where the unique index exists it refuses
        the loser of a race too, and :meth:`create` and :meth:`update` report that alike."""
        for field in collection.identity_fields():
            column = field.blind_index_column
            index = cells.get(column) if column else None
            if column is None or index is None:
                continue
            self._lock_identity(collection.name, field.name, index)
            table = self.tables[collection.name]
            other = self.session.scalar(
                select(table.c[ID_COLUMN])
                .where(table.c[column] == index, table.c[ID_COLUMN] != record_id)
                .limit(1)
            )
            if other is not None:
                raise DuplicateIdentity(collection.name, field.name)

    def _lock_identity(self, collection: str, field: str, index: bytes) -> None:
        if self.session.get_bind().dialect.name != "postgresql":
            return
        digest = hashlib.sha256(
            b"\x00".join((b"identity", collection.encode(), field.encode(), index))
        ).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        self.session.execute(select(func.pg_advisory_xact_lock(key)))

    def owner(self, collection_name: str, record_id: str) -> str | None:
        """The data subject a record belongs to (None: no subject, or anonymised);
        RecordNotFound if there is no such record."""
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        if collection.is_subject:
            column = table.c[ID_COLUMN]
        elif collection.has_subject_column:
            column = table.c[SUBJECT_COLUMN]
        else:
            return None
        row = self.session.execute(select(column).where(table.c[ID_COLUMN] == record_id)).first()
        if row is None:
            raise RecordNotFound(collection.name)
        return row[0]

    def _execute(self, statement: Any, collection: Collection) -> Any:
        try:
            with self.session.begin_nested():
                return self.session.execute(statement)
        except IntegrityError:
            refs = [f.name for f in collection.fields.values() if f.references]
            raise InvalidRecord(
                f"the {collection.name} record refers to a record that does not exist",
                {name: ["must name an existing record"] for name in refs},
            ) from None

    def require_subject(self, subject_id: str) -> None:
        subjects = self.tables[self.datamap.subject_collection]
        if (
            self.session.scalar(
                select(subjects.c[ID_COLUMN]).where(subjects.c[ID_COLUMN] == subject_id)
            )
            is None
        ):
            raise InvalidRecord(
                "no such data subject", {SUBJECT_COLUMN: ["must name an existing subject"]}
            )

    # -- read path ----------------------------------------------------------------------
    def _columns(
        self,
        table: Table,
        collection: Collection,
        names: list[str],
        retention: RetentionFilter | None = None,
    ) -> list[Any]:
        columns = [table.c[ID_COLUMN], table.c[CREATED_COLUMN], table.c[UPDATED_COLUMN]]
        if collection.has_subject_column:
            columns.append(table.c[SUBJECT_COLUMN])
        if retention is not None:  # a field past its own period reads as null
            return columns + [retention.column(collection, n) for n in names]
        return columns + [table.c[n] for n in names]

    def _records(
        self, collection: Collection, names: list[str], rows: Sequence[Mapping[str, Any]]
    ) -> list[Record]:
        """Records from rows, opening only the encrypted fields among ``names`` with one key
        store look-up for all the rows' subjects."""
        owner_column = collection.owner_column
        encrypted = [n for n in names if n in self.crypto.encrypted_fields(collection.name)]
        keys: dict[str, DataKey | None] = {}
        if encrypted and owner_column is not None:
            keys = self.crypto.keys.data_keys(r[owner_column] for r in rows)
        return [self._record(collection, names, encrypted, owner_column, keys, r) for r in rows]

    def _record(
        self,
        collection: Collection,
        names: list[str],
        encrypted: list[str],
        owner_column: str | None,
        keys: Mapping[str, DataKey | None],
        mapping: Mapping[str, Any],
    ) -> Record:
        record_id = mapping[ID_COLUMN]
        subject_id = mapping[owner_column] if owner_column is not None else None
        values: dict[str, Any] = {}
        erased: list[str] = []
        for name in names:
            stored = mapping[name]
            field = collection.fields[name]
            if stored is None:
                values[name] = None
            elif name in encrypted:
                key = keys.get(subject_id) if subject_id is not None else None
                if key is None:
                    values[name] = None
                    erased.append(name)
                else:
                    plain = self.crypto.open_value(
                        collection.name, name, record_id, key, bytes(stored)
                    )
                    values[name] = to_json(field, plain)
            else:
                values[name] = to_json(field, stored)
        return Record(
            collection=collection.name,
            id=record_id,
            subject_id=subject_id,
            values=values,
            created_at=mapping[CREATED_COLUMN],
            updated_at=mapping[UPDATED_COLUMN],
            erased=tuple(erased),
        )

    def get(
        self,
        collection_name: str,
        record_id: str,
        fields: Iterable[str] | None = None,
        *,
        check: Callable[[str | None], None] | None = None,
        retention: RetentionFilter | None = None,
        now: datetime | None = None,
        on_expired: Callable[[str | None], None] | None = None,
    ) -> Record:
        """One record with ``fields`` opened. ``check`` is called with the record's data
        subject after the row is read and before anything is decrypted (the consent check
        of a policy read: one query, and nothing opened for a subject it refuses).

        With ``retention`` (a purpose not exempt from it), fields past their own period read
        as null, and ``on_expired`` is called (after ``check``) if the row is past its
        period, in the same query."""
        collection = self.collection(collection_name)
        names = self._field_names(collection, fields)
        key = ("get", collection.name, tuple(names), retention is not None)
        statement = self.tables.statements.get(key)
        if statement is None:  # built once per shape: building costs more than running it
            table = self.tables[collection.name]
            columns = self._columns(table, collection, names, retention)
            if retention is not None:
                columns.append(retention.row_expired(collection).label(EXPIRED_LABEL))
            statement = PreparedSelect(
                select(*columns).where(table.c[ID_COLUMN] == bindparam("record_id"))
            )
            self.tables.statements[key] = statement
        params: dict[str, Any] = {"record_id": record_id}
        if retention is not None:
            params.update(retention.params(now or datetime.now(UTC), statement.parameter_names))
        found = statement.rows(self.session, params)
        if not found:
            raise RecordNotFound(collection.name)
        row = found[0]
        owner = collection.owner_column
        if check is not None:
            check(row[owner] if owner is not None else None)
        if retention is not None and row[EXPIRED_LABEL] and on_expired is not None:
            on_expired(row[owner] if owner is not None else None)
        return self._records(collection, names, [row])[0]

    def list(
        self,
        collection_name: str,
        fields: Iterable[str] | None = None,
        *,
        subject_id: str | None = None,
        lookup: Mapping[str, str] | None = None,
        after: str | None = None,
        limit: int = 50,
        where: Callable[[Any], Any] | None = None,
        retention: RetentionFilter | None = None,
        now: datetime | None = None,
    ) -> Page:
        """A page of records in id order. ``lookup`` finds records by the blind index of
        lookup fields (e.g. ``{"email": ...}``) without decrypting anything. ``where`` gets
        the column holding each row's data subject and returns a condition on it (the
        consent filter), so excluded rows never leave the database. ``retention`` leaves
        out rows past their retention period and reads fields past theirs as null, in the
        same query."""
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        names = self._field_names(collection, fields)
        limit = max(1, min(limit, MAX_PAGE))
        query = select(*self._columns(table, collection, names, retention)).order_by(
            table.c[ID_COLUMN]
        )
        params: dict[str, Any] = {}
        if retention is not None:
            query = query.where(retention.row_retained(collection))
            params = retention.params(now or datetime.now(UTC))
        if subject_id is not None:
            if collection.is_subject:
                query = query.where(table.c[ID_COLUMN] == subject_id)
            elif collection.has_subject_column:
                query = query.where(table.c[SUBJECT_COLUMN] == subject_id)
            else:
                raise InvalidRecord(
                    f"{collection.name} records do not belong to data subjects",
                    {"subject_id": ["not applicable to this collection"]},
                )
        for name, value in (lookup or {}).items():
            field = collection.fields.get(name)
            if field is None or not field.lookup or not field.blind_index_column:
                raise InvalidRecord(
                    f"{collection.name} records cannot be looked up by that field",
                    {shown_name(name): ["is not a lookup field"]},
                )
            if not isinstance(value, str) or not value.strip():
                raise InvalidRecord(
                    "a lookup value must be a non-empty string", {name: ["is empty"]}
                )
            index = self.crypto.blind_index(collection.name, name, value)
            query = query.where(table.c[field.blind_index_column] == index)
        if where is not None:
            if collection.owner_column is not None:
                query = query.where(where(table.c[collection.owner_column]))
        if after is not None:
            query = query.where(table.c[ID_COLUMN] > after)
        rows = self.session.execute(query.limit(limit + 1), params).all()
        items = self._records(collection, names, [dict(r._mapping) for r in rows[:limit]])
        next_after = items[-1].id if len(rows) > limit else None
        return Page(items=items, next_after=next_after)

    def count(self, collection_name: str) -> int:
        table = self.tables[self.collection(collection_name).name]
        return int(self.session.scalar(select(func.count()).select_from(table)) or 0)
