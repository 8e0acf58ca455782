"""Parse and validate ``datamap.yaml`` into a :class:`policies.types.DataMap`.

Validation collects every problem before refusing, each with the file and the dotted path
inside it, so whoever edits the map fixes it in one pass instead of one crash at a time.
Data categories are checked against the fideslang default taxonomy plus the categories the
map itself declares under ``custom_categories`` (never under ``user.``, which fideslang owns).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from policies.errors import PolicyFileError, Problem
from policies.types import (
    BLIND_INDEX_SUFFIX,
    CREATED_COLUMN,
    RESPONSE_KEYS,
    SYSTEM_COLUMNS,
    UPDATED_COLUMN,
    Collection,
    DataMap,
    Erasure,
    ErasureStrategy,
    Field,
    FieldType,
    OnErasure,
    Retention,
    RetentionPeriod,
    SubjectRelation,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_TOP_KEYS = {"version", "subject", "collections", "custom_categories"}
_COLLECTION_KEYS = {"description", "relation", "retention", "erasure", "fields", "source"}
_RETENTION_KEYS = {"period", "from", "basis"}
_ERASURE_KEYS = {"strategy", "legal_obligation"}
_FIELD_KEYS = {
    "category",
    "type",
    "description",
    "required",
    "encrypted",
    "lookup",
    "identity",
    "free_text",
    "max_length",
    "choices",
    "references",
    "on_erasure",
    "label",
    "retention",
}


@lru_cache(maxsize=1)
def fideslang_categories() -> frozenset[str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)


class Checker:
    """Collects every problem of a policy file (file, dotted path, message) instead of
    stopping at the first, so one run reports all of them; shared by the policy parsers."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping, got {type(value).__name__}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    f"{path}.{key}" if path else str(key),
                    f"unknown key; expected one of {', '.join(sorted(allowed))}",
                )
        return value

    def string(self, value: Any, path: str, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {value!r}")
            return False
        return value

    def enum(self, enum: Any, value: Any, path: str) -> Any:
        try:
            return enum(value)
        except ValueError:
            self.fail(path, f"{value!r} is not one of {', '.join(e.value for e in enum)}")
            return None


def parse_datamap(document: Any, file: str = "datamap.yaml") -> DataMap:
    """Validate a parsed YAML document and build the frozen data map, or raise with all problems."""
    check = Checker(file)
    top = check.mapping(document, "", _TOP_KEYS)
    if top is None:
        raise PolicyFileError(check.problems)
    if top.get("version") != 1:
        check.fail("version", "must be 1 (the only data map format this service reads)")
    custom = _custom_categories(check, top.get("custom_categories") or {})
    known = fideslang_categories() | frozenset(custom)
    raw_collections = top.get("collections")
    if not isinstance(raw_collections, Mapping) or not raw_collections:
        check.fail("collections", "must be a non-empty mapping of collection name to collection")
        raise PolicyFileError(check.problems)
    names = set(raw_collections)
    collections: dict[str, Collection] = {}
    for name, raw in raw_collections.items():
        path = f"collections.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            check.fail(path, "collection names are lower_snake_case identifiers")
            continue
        built = _collection(check, name, raw, path, known, names)
        if built is not None:
            collections[name] = built
    subject = top.get("subject")
    # Read the relation from the raw document: a field error elsewhere in the subject
    # collection must not also be reported as "no subject collection".
    selves = [
        n
        for n, raw in raw_collections.items()
        if isinstance(raw, Mapping) and raw.get("relation") == SubjectRelation.SELF.value
    ]
    if not isinstance(subject, str) or subject not in raw_collections:
        check.fail("subject", "must name the collection whose rows are the data subjects")
    elif selves != [subject]:
        check.fail(
            "subject",
            f"exactly the subject collection {subject!r} must have relation 'self' "
            f"(found {selves or 'none'})",
        )
    if not check.problems:
        check_retention_consistency(
            check, collections, subject if isinstance(subject, str) else None
        )
    if check.problems:
        raise PolicyFileError(check.problems)
    return DataMap(
        version=1,
        subject_collection=str(subject),
        collections=collections,
        custom_categories=custom,
    )


def _custom_categories(check: Checker, raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        check.fail("custom_categories", "must be a mapping of category to description")
        return {}
    result: dict[str, str] = {}
    for key, description in raw.items():
        path = f"custom_categories.{key}"
        if not isinstance(key, str) or not _CATEGORY.match(key):
            check.fail(path, "a category is a dotted lower-case name")
        elif key == "user" or key.startswith("user."):
            check.fail(path, "user.* categories come from the fideslang taxonomy only")
        elif check.string(description, path) is not None:
            result[key] = description
    return result


def _collection(
    check: Checker,
    name: str,
    raw: Any,
    path: str,
    known_categories: frozenset[str],
    collection_names: set[str],
) -> Collection | None:
    body = check.mapping(raw, path, _COLLECTION_KEYS)
    if body is None:
        return None
    before = len(check.problems)
    description = check.string(body.get("description"), f"{path}.description") or ""
    source = check.string(body.get("source"), f"{path}.source", required=False) or ""
    relation = check.enum(SubjectRelation, body.get("relation"), f"{path}.relation")
    raw_fields = body.get("fields")
    fields: dict[str, Field] = {}
    if not isinstance(raw_fields, Mapping) or not raw_fields:
        check.fail(f"{path}.fields", "must be a non-empty mapping of field name to field")
    else:
        for field_name, raw_field in raw_fields.items():
            fpath = f"{path}.fields.{field_name}"
            built = _field(check, field_name, raw_field, fpath, known_categories, collection_names)
            if built is not None:
                fields[built.name] = built
    for f in fields.values():
        if f.encrypted and relation is SubjectRelation.NONE:
            check.fail(
                f"{path}.fields.{f.name}.encrypted",
                "only rows that belong to a data subject can be encrypted (under its key)",
            )
    retention = None
    if body.get("retention") is None:
        check.fail(
            f"{path}.retention",
            "every collection needs a retention rule "
            "(period, from, basis): the sweep and the record of processing read it",
        )
    else:
        retention = _retention(check, body.get("retention"), f"{path}.retention", fields)
    fields = _field_retention(check, raw_fields, path, fields, retention)
    erasure = _erasure(check, body.get("erasure"), f"{path}.erasure")
    if erasure and erasure.strategy is ErasureStrategy.DELETE:
        for f in fields.values():
            if f.on_erasure is not OnErasure.NULL:
                check.fail(
                    f"{path}.fields.{f.name}.on_erasure",
                    "only collections erased by 'anonymize' keep or generalise fields",
                )
    if len(check.problems) > before or relation is None or retention is None or erasure is None:
        return None
    return Collection(
        name=name,
        description=description,
        relation=relation,
        retention=retention,
        erasure=erasure,
        fields=fields,
        source=source,
    )


def _field(
    check: Checker,
    name: Any,
    raw: Any,
    path: str,
    known_categories: frozenset[str],
    collection_names: set[str],
) -> Field | None:
    if not isinstance(name, str) or not _NAME.match(name):
        check.fail(path, "field names are lower_snake_case identifiers")
        return None
    if name in SYSTEM_COLUMNS:
        check.fail(path, f"{name!r} is a column the engine owns; do not declare it")
        return None
    if name in RESPONSE_KEYS:
        check.fail(path, f"{name!r} is a key the data API puts beside a record's fields")
        return None
    if name.endswith(BLIND_INDEX_SUFFIX):
        check.fail(path, f"names ending in {BLIND_INDEX_SUFFIX!r} are reserved for blind indexes")
        return None
    body = check.mapping(raw, path, _FIELD_KEYS)
    if body is None:
        return None
    before = len(check.problems)
    category = check.string(body.get("category"), f"{path}.category")
    if category is not None and category not in known_categories:
        check.fail(
            f"{path}.category",
            f"{category!r} is neither a fideslang data category nor declared in custom_categories",
        )
    ftype = check.enum(FieldType, body.get("type"), f"{path}.type")
    flags = {
        key: check.boolean(body.get(key), f"{path}.{key}")
        for key in ("required", "encrypted", "lookup", "identity", "free_text")
    }
    if ftype is None:
        return None  # the type is wrong; checks that depend on it would only add noise
    max_length = body.get("max_length")
    if max_length is not None and (
        ftype is not FieldType.STRING or not isinstance(max_length, int) or max_length <= 0
    ):
        check.fail(f"{path}.max_length", "only string fields have a max_length, a positive integer")
    choices = body.get("choices") or ()
    if choices and (
        ftype is not FieldType.STRING
        or not isinstance(choices, list)
        or not all(isinstance(c, str) and c for c in choices)
    ):
        check.fail(f"{path}.choices", "only string fields have choices, a list of strings")
    references = body.get("references")
    if ftype is FieldType.REF and references not in collection_names:
        check.fail(f"{path}.references", "a ref field must name an existing collection")
    if ftype is not FieldType.REF and references is not None:
        check.fail(f"{path}.references", "only ref fields reference a collection")
    if flags["lookup"] and (not flags["encrypted"] or ftype is not FieldType.STRING):
        check.fail(
            f"{path}.lookup",
            "a lookup (blind-indexed) field must be an encrypted string field",
        )
    if flags["identity"] and not flags["lookup"]:
        check.fail(
            f"{path}.identity",
            "an identity field (what a data-subject request is taken in by) must be a lookup "
            "field: its uniqueness is kept on the blind index",
        )
    if flags["free_text"] and ftype not in (FieldType.TEXT, FieldType.STRING):
        check.fail(f"{path}.free_text", "only string or text fields hold free text")
    if flags["encrypted"] and ftype is FieldType.REF:
        check.fail(f"{path}.encrypted", "references are ids and stay in clear for joins")
    on_erasure = check.enum(OnErasure, body.get("on_erasure", "null"), f"{path}.on_erasure")
    if on_erasure is OnErasure.YEAR_ONLY and ftype not in (FieldType.DATE, FieldType.DATETIME):
        check.fail(f"{path}.on_erasure", "year_only applies to date and datetime fields")
    if len(check.problems) > before or category is None or ftype is None:
        return None
    return Field(
        name=name,
        category=category,
        type=ftype,
        description=str(body.get("description") or ""),
        label=check.string(body.get("label"), f"{path}.label", required=False) or "",
        max_length=max_length,
        choices=tuple(choices),
        references=references,
        on_erasure=on_erasure or OnErasure.NULL,
        required=flags["required"],
        encrypted=flags["encrypted"],
        lookup=flags["lookup"],
        identity=flags["identity"],
        free_text=flags["free_text"],
    )


def _retention(
    check: Checker,
    raw: Any,
    path: str,
    fields: Mapping[str, Field],
    default_from: str = CREATED_COLUMN,
) -> Retention | None:
    body = check.mapping(raw, path, _RETENTION_KEYS)
    if body is None:
        return None
    period = None
    try:
        period = RetentionPeriod.parse(str(body.get("period")))
    except ValueError as exc:
        check.fail(f"{path}.period", str(exc))
    counted_from = body.get("from", default_from)
    usable = _countable_from(check, counted_from, f"{path}.from", fields)
    basis = check.string(body.get("basis"), f"{path}.basis")
    if period is None or basis is None or not usable:
        return None
    return Retention(period=period, counted_from=counted_from, basis=basis)


def _countable_from(check: Checker, name: Any, path: str, fields: Mapping[str, Field]) -> bool:
    """A period runs from a date the database can compare in the query that reads or
    sweeps the rows: a date column of the collection, in clear, that every row has."""
    dated = {CREATED_COLUMN, UPDATED_COLUMN} | {
        f.name for f in fields.values() if f.type in (FieldType.DATE, FieldType.DATETIME)
    }
    if name not in dated:
        check.fail(path, f"must name a date column of this collection ({sorted(dated)})")
        return False
    field = fields.get(name)
    if field is not None and field.encrypted:
        check.fail(
            path,
            f"{name!r} is encrypted: a period must run from a date the "
            "database can compare, in clear",
        )
        return False
    if field is not None and not field.required:
        check.fail(path, f"{name!r} must be required: a record without it would never expire")
        return False
    return True


def _field_retention(
    check: Checker, raw_fields: Any, path: str, fields: dict[str, Field], row: Retention | None
) -> dict[str, Field]:
    """Field-level overrides: a field that must go before its row gets its own period (the
    row's ``from`` unless it names another). It is removed (set to null) when it expires,
    so it may not be required, a reference or the date the row's own period runs from."""
    if not isinstance(raw_fields, Mapping):
        return fields
    result = dict(fields)
    for name, raw in raw_fields.items():
        if not isinstance(raw, Mapping) or raw.get("retention") is None or name not in fields:
            continue
        field = fields[name]
        fpath = f"{path}.fields.{name}.retention"
        before = len(check.problems)
        if field.required:
            check.fail(fpath, "a required field cannot go before its row (it would be removed)")
        elif field.type is FieldType.REF:
            check.fail(fpath, "a reference stays as long as its row (it is a link, not a value)")
        elif row is not None and name == row.counted_from:
            check.fail(fpath, "the row's own period runs from this field")
        if len(check.problems) > before:
            continue
        own = _retention(
            check,
            raw["retention"],
            fpath,
            fields,
            default_from=row.counted_from if row is not None else CREATED_COLUMN,
        )
        if own is None or row is None:
            continue
        if own.period.approximate_days >= row.period.approximate_days:
            check.fail(
                f"{fpath}.period",
                f"a field's period must be shorter than its row's "
                f"({row.period.text}); a field cannot outlive its row",
            )
            continue
        result[name] = replace(field, retention=own)
    return result


def check_retention_consistency(
    check: Checker, collections: Mapping[str, Collection], subject: str | None
) -> None:
    """A row kept longer may not depend on a row deleted sooner: what it refers to would be
    gone first. A reference to a collection that is deleted (not anonymised) must be kept
    at least as long; an owned collection kept longer than its data subject, whose erasure
    deletes it, must be anonymised on erasure instead."""
    for collection in collections.values():
        mine = collection.retention.period
        for f in collection.fields.values():
            other = collections.get(f.references or "")
            if other is None or other.erasure.strategy is not ErasureStrategy.DELETE:
                continue
            if other.retention.period.approximate_days < mine.approximate_days:
                check.fail(
                    f"collections.{collection.name}.fields.{f.name}.references",
                    f"{collection.name} is kept {mine.text} but refers to {other.name}, "
                    f"deleted after {other.retention.period.text}: keep {other.name} as long "
                    "or anonymise it on erasure",
                )
        owner = collections.get(subject or "")
        if (
            owner is None
            or not collection.has_subject_column
            or collection.erasure.strategy is not ErasureStrategy.DELETE
        ):
            continue
        if mine.approximate_days > owner.retention.period.approximate_days:
            check.fail(
                f"collections.{collection.name}.retention.period",
                f"{collection.name} is kept longer than its data subject ({owner.name}: "
                f"{owner.retention.period.text}), whose erasure deletes it: shorten it or "
                "anonymise it on erasure",
            )


def _erasure(check: Checker, raw: Any, path: str) -> Erasure | None:
    body = check.mapping(raw, path, _ERASURE_KEYS)
    if body is None:
        return None
    strategy = check.enum(ErasureStrategy, body.get("strategy"), f"{path}.strategy")
    obligation = body.get("legal_obligation")
    if strategy is ErasureStrategy.ANONYMIZE:
        if check.string(obligation, f"{path}.legal_obligation") is None:
            return None
    elif strategy is ErasureStrategy.DELETE and obligation is not None:
        check.fail(f"{path}.legal_obligation", "only 'anonymize' keeps rows for a legal obligation")
        return None
    if strategy is None:
        return None
    return Erasure(strategy=strategy, legal_obligation=obligation)
