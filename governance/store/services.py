"""Create, read, update and list records of any collection the data map declares.

The read and write paths are sequences of steps over a record's cells, so field encryption,
policy masks and PII checks slot in as steps rather than rewrites:

write: check names against the map -> coerce each value to its type -> encode stored cells
       (encrypted fields to bytes) -> insert/update
read:  select only the requested columns -> decode stored cells -> JSON values

No CRM field name is written here: everything comes from :class:`policies.types.DataMap`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance.errors import shown_name
from governance.store.errors import (
    InvalidRecord,
    RecordNotFound,
    UnknownCollection,
    UnknownFields,
)
from governance.store.schema import CrmTables
from governance.store.values import (
    InvalidValue,
    coerce,
    from_plain_bytes,
    to_json,
    to_plain_bytes,
)
from policies.types import (
    CREATED_COLUMN,
    ID_COLUMN,
    SUBJECT_COLUMN,
    UPDATED_COLUMN,
    Collection,
    DataMap,
)

MAX_PAGE = 500


@dataclass(frozen=True)
class Record:
    collection: str
    id: str
    subject_id: str | None
    values: dict[str, Any]  # JSON-ready values of the fields that were read
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.subject_id is not None:
            body["subject_id"] = self.subject_id
        body.update(self.values)
        return body


@dataclass(frozen=True)
class Page:
    items: list[Record]
    next_after: str | None


def new_id() -> str:
    return uuid.uuid4().hex


class RecordStore:
    def __init__(self, session: Session, datamap: DataMap, tables: CrmTables) -> None:
        self.session = session
        self.datamap = datamap
        self.tables = tables

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
                value = coerce(field, values.get(name))
            except InvalidValue as exc:
                errors[name] = [str(exc)]
                continue
            cells[name] = self._encode(field, value)
        if errors:
            raise InvalidRecord(f"the {collection.name} record is not valid", errors)
        return cells

    def _encode(self, field: Any, value: Any) -> Any:
        if field.encrypted:
            return None if value is None else to_plain_bytes(field, value)
        return value

    def _decode(self, field: Any, stored: Any) -> Any:
        if stored is None:
            return None
        if field.encrypted:
            return to_json(field, from_plain_bytes(field, bytes(stored)))
        return to_json(field, stored)

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
            self._require_subject(subject_id)
            row[SUBJECT_COLUMN] = subject_id
        row.update(cells)
        self._execute(insert(table).values(row), collection)
        return self.get(collection.name, record_id)

    def insert_many(self, collection_name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Bulk insert already-valid rows (each with its ``id`` and, if owned, ``subject_id``).

        Values are still coerced and encoded per the data map; what is skipped is the per-row
        read-back, which is what makes loading a million customers practical.
        """
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        now = datetime.now(UTC)
        prepared = []
        for raw in rows:
            fields = {k: v for k, v in raw.items() if k not in (ID_COLUMN, SUBJECT_COLUMN)}
            row = {ID_COLUMN: raw[ID_COLUMN], CREATED_COLUMN: now, UPDATED_COLUMN: now}
            if collection.has_subject_column:
                row[SUBJECT_COLUMN] = raw[SUBJECT_COLUMN]
            row.update(self._cells(collection, fields, partial=False))
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
        cells[UPDATED_COLUMN] = datetime.now(UTC)
        result = self._execute(
            update(table).where(table.c[ID_COLUMN] == record_id).values(cells), collection
        )
        if result.rowcount == 0:
            raise RecordNotFound(collection.name)
        return self.get(collection.name, record_id)

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

    def _require_subject(self, subject_id: str) -> None:
        subjects = self.tables[self.datamap.subject_collection]
        if self.session.scalar(select(subjects.c[ID_COLUMN]).where(subjects.c[ID_COLUMN] == subject_id)) is None:
            raise InvalidRecord("no such data subject", {SUBJECT_COLUMN: ["must name an existing subject"]})

    # -- read path ----------------------------------------------------------------------
    def _columns(self, table: Table, collection: Collection, names: list[str]) -> list[Any]:
        columns = [table.c[ID_COLUMN], table.c[CREATED_COLUMN], table.c[UPDATED_COLUMN]]
        if collection.has_subject_column:
            columns.append(table.c[SUBJECT_COLUMN])
        return columns + [table.c[n] for n in names]

    def _record(self, collection: Collection, names: list[str], row: Row[Any]) -> Record:
        mapping = row._mapping
        if collection.is_subject:
            subject_id = mapping[ID_COLUMN]
        elif collection.has_subject_column:
            subject_id = mapping[SUBJECT_COLUMN]
        else:
            subject_id = None
        values = {n: self._decode(collection.fields[n], mapping[n]) for n in names}
        return Record(
            collection=collection.name,
            id=mapping[ID_COLUMN],
            subject_id=subject_id,
            values=values,
            created_at=mapping[CREATED_COLUMN],
            updated_at=mapping[UPDATED_COLUMN],
        )

    def get(self, collection_name: str, record_id: str, fields: Iterable[str] | None = None) -> Record:
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        names = self._field_names(collection, fields)
        row = self.session.execute(
            select(*self._columns(table, collection, names)).where(table.c[ID_COLUMN] == record_id)
        ).first()
        if row is None:
            raise RecordNotFound(collection.name)
        return self._record(collection, names, row)

    def list(
        self,
        collection_name: str,
        fields: Iterable[str] | None = None,
        *,
        subject_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Page:
        collection = self.collection(collection_name)
        table = self.tables[collection.name]
        names = self._field_names(collection, fields)
        limit = max(1, min(limit, MAX_PAGE))
        query = select(*self._columns(table, collection, names)).order_by(table.c[ID_COLUMN])
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
        if after is not None:
            query = query.where(table.c[ID_COLUMN] > after)
        rows = self.session.execute(query.limit(limit + 1)).all()
        items = [self._record(collection, names, r) for r in rows[:limit]]
        next_after = items[-1].id if len(rows) > limit else None
        return Page(items=items, next_after=next_after)

    def count(self, collection_name: str) -> int:
        table = self.tables[self.collection(collection_name).name]
        return int(self.session.scalar(select(func.count()).select_from(table)) or 0)
