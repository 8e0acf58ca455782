"""The migrated CRM store and the data map agree, column by column.

The migrations are static DDL; this is what makes a data map edit without a migration (or a
migration without a data map edit) fail CI. It reflects the real database, so it runs against
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, inspect, types
from sqlalchemy.engine import Inspector

from governance.store.schema import DECIMAL_PRECISION, DECIMAL_SCALE, ID_LENGTH, CrmTables
from policies.types import (
    CREATED_COLUMN,
    ID_COLUMN,
    SUBJECT_COLUMN,
    UPDATED_COLUMN,
    DataMap,
    ErasureStrategy,
    Field,
    FieldType,
)


def family(sql_type: types.TypeEngine) -> tuple[Any, ...]:
    """A column type reduced to what both backends preserve, so reflected and declared types
    compare: (kind, length) for strings, (kind, precision, scale) for decimals, else (kind,)."""
    if isinstance(sql_type, types.LargeBinary):
        return ("binary",)
    if isinstance(sql_type, types.Text):
        return ("text",)
    if isinstance(sql_type, types.String):
        return ("string", sql_type.length)
    if isinstance(sql_type, types.Boolean):
        return ("boolean",)
    if isinstance(sql_type, types.Integer):
        return ("integer",)
    if isinstance(sql_type, types.Numeric):
        return ("decimal", sql_type.precision, sql_type.scale)
    if isinstance(sql_type, types.DateTime):
        return ("datetime",)
    if isinstance(sql_type, types.Date):
        return ("date",)
    return ("unknown", repr(sql_type))


def expected_family(field: Field) -> tuple[Any, ...]:
    """What the data map says a field's column must be, independently of CrmTables."""
    if field.encrypted:
        return ("binary",)
    match field.type:
        case FieldType.STRING:
            return ("string", field.max_length or 255)
        case FieldType.TEXT:
            return ("text",)
        case FieldType.INTEGER:
            return ("integer",)
        case FieldType.DECIMAL:
            return ("decimal", DECIMAL_PRECISION, DECIMAL_SCALE)
        case FieldType.BOOLEAN:
            return ("boolean",)
        case FieldType.DATE:
            return ("date",)
        case FieldType.DATETIME:
            return ("datetime",)
        case FieldType.REF:
            return ("string", ID_LENGTH)
    raise AssertionError(field.type)


@pytest.fixture(scope="module")
def inspector(engine: Engine) -> Inspector:
    return inspect(engine)


@pytest.fixture(scope="module")
def datamap(policy) -> DataMap:  # noqa: ANN001
    return policy.datamap


def columns(inspector: Inspector, table: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in inspector.get_columns(table)}


def test_every_collection_has_a_table(inspector: Inspector, datamap: DataMap) -> None:
    missing = set(datamap.collections) - set(inspector.get_table_names())

    assert not missing


def test_every_declared_field_has_a_column_of_a_compatible_type(
    inspector: Inspector, datamap: DataMap
) -> None:
    mismatches = []
    for collection in datamap.collections.values():
        stored = columns(inspector, collection.name)
        for field in collection.fields.values():
            if field.name not in stored:
                mismatches.append(f"{collection.name}.{field.name}: no column")
                continue
            got, want = family(stored[field.name]["type"]), expected_family(field)
            if got != want:
                mismatches.append(f"{collection.name}.{field.name}: {got} != {want}")

    assert not mismatches


def test_string_columns_carry_the_declared_max_length(
    inspector: Inspector, datamap: DataMap
) -> None:
    checked = 0
    for collection in datamap.collections.values():
        stored = columns(inspector, collection.name)
        for field in collection.fields.values():
            if field.type is FieldType.STRING and not field.encrypted and field.max_length:
                column_type = stored[field.name]["type"]
                assert isinstance(column_type, types.String)
                assert not isinstance(column_type, types.Text)
                assert column_type.length == field.max_length, f"{collection.name}.{field.name}"
                checked += 1

    assert checked > 10  # the shipped map has many bounded strings; none was skipped


def test_encrypted_fields_are_binary_columns(inspector: Inspector, datamap: DataMap) -> None:
    encrypted = [
        (c.name, f.name)
        for c in datamap.collections.values()
        for f in c.fields.values()
        if f.encrypted
    ]
    assert encrypted
    for table, name in encrypted:
        assert isinstance(columns(inspector, table)[name]["type"], types.LargeBinary), (table, name)


def test_every_lookup_field_has_an_indexed_blind_index_column(
    inspector: Inspector, datamap: DataMap
) -> None:
    lookups = [
        (c.name, f) for c in datamap.collections.values() for f in c.fields.values() if f.lookup
    ]
    assert lookups
    for table, field in lookups:
        blind = f"{field.name}_bidx"
        assert field.blind_index_column == blind
        stored = columns(inspector, table)
        assert blind in stored, f"{table}.{blind}"
        assert isinstance(stored[blind]["type"], types.LargeBinary)
        indexed = {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
        assert (blind,) in indexed, f"{table}.{blind} has no index"


def test_the_blind_index_of_every_identity_field_is_unique(
    inspector: Inspector, datamap: DataMap
) -> None:
    """A data-subject request is taken in by an identity: two records with one value would
    let it run on the wrong person (issue 26 item 3); the unique index holds under races."""
    identities = [(c.name, f) for c in datamap.collections.values() for f in c.identity_fields()]
    assert identities
    for table, field in identities:
        unique = {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
        assert (field.blind_index_column,) in unique, f"{table}.{field.blind_index_column}"


def test_owned_collections_have_a_subject_id_to_the_subject_collection(
    inspector: Inspector, datamap: DataMap
) -> None:
    for collection in datamap.collections.values():
        stored = columns(inspector, collection.name)
        if not collection.has_subject_column:
            assert SUBJECT_COLUMN not in stored, collection.name
            continue
        subject = stored[SUBJECT_COLUMN]
        assert family(subject["type"]) == ("string", ID_LENGTH)
        anonymized = collection.erasure.strategy is ErasureStrategy.ANONYMIZE
        assert subject["nullable"] is anonymized, collection.name
        foreign = [
            fk
            for fk in inspector.get_foreign_keys(collection.name)
            if fk["constrained_columns"] == [SUBJECT_COLUMN]
        ]
        assert [(fk["referred_table"], fk["referred_columns"]) for fk in foreign] == [
            (datamap.subject_collection, [ID_COLUMN])
        ], collection.name


def test_ref_fields_are_foreign_keys_to_their_collection(
    inspector: Inspector, datamap: DataMap
) -> None:
    refs = [
        (c.name, f)
        for c in datamap.collections.values()
        for f in c.fields.values()
        if f.type is FieldType.REF
    ]
    assert refs
    for table, field in refs:
        targets = {
            (fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(table)
            if fk["constrained_columns"] == [field.name]
        }
        assert targets == {(field.references, (ID_COLUMN,))}, f"{table}.{field.name}"


def test_no_table_has_an_undeclared_column(inspector: Inspector, datamap: DataMap) -> None:
    for collection in datamap.collections.values():
        allowed = {ID_COLUMN, CREATED_COLUMN, UPDATED_COLUMN, *collection.fields}
        if collection.has_subject_column:
            allowed.add(SUBJECT_COLUMN)
        allowed |= {f.blind_index_column for f in collection.fields.values() if f.lookup}

        undeclared = set(columns(inspector, collection.name)) - allowed

        assert not undeclared, f"{collection.name}: {sorted(undeclared)}"


def test_engine_owned_columns_are_present_and_timestamps_required(
    inspector: Inspector, datamap: DataMap
) -> None:
    for collection in datamap.collections.values():
        stored = columns(inspector, collection.name)
        assert inspector.get_pk_constraint(collection.name)["constrained_columns"] == [ID_COLUMN]
        assert family(stored[ID_COLUMN]["type"]) == ("string", ID_LENGTH)
        for name in (CREATED_COLUMN, UPDATED_COLUMN):
            assert family(stored[name]["type"]) == ("datetime",), (collection.name, name)
            assert stored[name]["nullable"] is False, (collection.name, name)


def test_datetime_columns_keep_the_time_zone_on_postgresql(
    inspector: Inspector, datamap: DataMap, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no time-zone-aware column type to reflect")
    for collection in datamap.collections.values():
        for name, column in columns(inspector, collection.name).items():
            if isinstance(column["type"], types.DateTime):
                assert column["type"].timezone is True, f"{collection.name}.{name}"


def test_migrated_tables_match_the_crm_tables_engine_code_queries(
    inspector: Inspector, datamap: DataMap
) -> None:
    tables = CrmTables(datamap)
    assert set(tables.tables) == set(datamap.collections)
    for name, table in tables.tables.items():
        stored = columns(inspector, name)
        assert set(stored) == {c.name for c in table.columns}, name
        for column in table.columns:
            reflected = stored[column.name]
            assert family(reflected["type"]) == family(column.type), f"{name}.{column.name}"
            if not column.primary_key:
                assert reflected["nullable"] is column.nullable, f"{name}.{column.name}"
        declared_fks = {
            (fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys
        }
        reflected_fks = {
            (fk["constrained_columns"][0], fk["referred_table"], fk["referred_columns"][0])
            for fk in inspector.get_foreign_keys(name)
        }
        assert reflected_fks == declared_fks, name
        declared_ix = {tuple(c.name for c in ix.columns) for ix in table.indexes}
        reflected_ix = {tuple(ix["column_names"]) for ix in inspector.get_indexes(name)}
        assert declared_ix <= reflected_ix, name
