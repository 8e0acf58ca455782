"""SQLAlchemy tables of the CRM store, derived from the data map.

The migrations create the reference store with static DDL; this module gives engine code a
``Table`` per collection to build queries with, and states the storage rule the two must
agree on (a test compares the migrated database with it):

- ``id`` (opaque string) is every row's key; ``created_at``/``updated_at`` are engine-owned.
- ``owned`` collections carry ``subject_id`` -> the subject collection; nullable only where
  erasure anonymises rows (an anonymised row belongs to nobody).
- The date columns retention runs from are indexed (reads and sweeps compare them).
- An encrypted field is stored as bytes (a self-describing ciphertext); a lookup field also
  has ``<name>_bidx``, its keyed blind index, indexed for equality search; the index of an
  identity field is unique (what a data-subject request is taken in by names one record).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from policies.types import (
    CREATED_COLUMN,
    ID_COLUMN,
    SUBJECT_COLUMN,
    UPDATED_COLUMN,
    Collection,
    DataMap,
    ErasureStrategy,
    Field,
    FieldType,
)

ID_LENGTH = 32
DECIMAL_PRECISION, DECIMAL_SCALE = 14, 2


def storage_type(field: Field) -> TypeEngine:
    if field.encrypted:
        return LargeBinary()
    match field.type:
        case FieldType.STRING:
            return String(field.max_length or 255)
        case FieldType.TEXT:
            return Text()
        case FieldType.INTEGER:
            return BigInteger()
        case FieldType.DECIMAL:
            return Numeric(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=True)
        case FieldType.BOOLEAN:
            return Boolean()
        case FieldType.DATE:
            return Date()
        case FieldType.DATETIME:
            return DateTime(timezone=True)
        case FieldType.REF:
            return String(ID_LENGTH)
    raise AssertionError(field.type)  # pragma: no cover - the enum is exhaustive


class CrmTables:
    """One ``Table`` per collection of a data map, on its own MetaData."""

    def __init__(self, datamap: DataMap) -> None:
        self.metadata = MetaData()
        self.datamap = datamap
        self.tables: dict[str, Table] = {}
        # Prebuilt statements of the store's hot paths, by shape (see RecordStore.get).
        self.statements: dict[tuple[object, ...], Any] = {}
        for collection in datamap.collections.values():
            self.tables[collection.name] = self._table(collection)

    def __getitem__(self, collection: str) -> Table:
        return self.tables[collection]

    def _table(self, collection: Collection) -> Table:
        columns: list[Column] = [Column(ID_COLUMN, String(ID_LENGTH), primary_key=True)]
        if collection.has_subject_column:
            columns.append(
                Column(
                    SUBJECT_COLUMN,
                    String(ID_LENGTH),
                    ForeignKey(f"{self.datamap.subject_collection}.{ID_COLUMN}"),
                    nullable=collection.erasure.strategy is ErasureStrategy.ANONYMIZE,
                    index=True,
                )
            )
        for field in collection.fields.values():
            args = []
            if field.type is FieldType.REF and field.references:
                args.append(ForeignKey(f"{field.references}.{ID_COLUMN}"))
            columns.append(
                Column(field.name, storage_type(field), *args, nullable=True, index=bool(args))
            )
            if field.blind_index_column:
                columns.append(Column(field.blind_index_column, LargeBinary(), nullable=True))
        columns.append(Column(CREATED_COLUMN, DateTime(timezone=True), nullable=False))
        columns.append(Column(UPDATED_COLUMN, DateTime(timezone=True), nullable=False))
        table = Table(collection.name, self.metadata, *columns)
        for field in collection.fields.values():
            if field.blind_index_column:
                Index(
                    f"ix_{collection.name}_{field.blind_index_column}",
                    table.c[field.blind_index_column],
                    unique=field.identity,
                )
        for dated in retention_columns(collection):
            # Retention compares these with a cut-off in every policy read and sweep batch.
            Index(f"ix_{collection.name}_retention_{dated}", table.c[dated])
        return table


def retention_columns(collection: Collection) -> list[str]:
    """The date columns the collection's retention rules (and field overrides) run from."""
    names = [collection.retention.counted_from]
    names += [f.retention.counted_from for f in collection.fields.values() if f.retention]
    return list(dict.fromkeys(names))
