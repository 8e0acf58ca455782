"""The typed, frozen form of the data map, shared by every room that reads it.

Engine code (store, encryption, scans, erasure) is written against these types and names no
CRM field, so a company fronting its own CRM only writes its own ``datamap.yaml``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class FieldType(StrEnum):
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    DECIMAL = "decimal"
    INTEGER = "integer"
    REF = "ref"
    STRING = "string"
    TEXT = "text"


class SubjectRelation(StrEnum):
    """How a collection's rows relate to the data subject."""

    NONE = "none"  # not personal data about a subject (e.g. firmographics)
    OWNED = "owned"  # each row carries the subject_id of the customer it is about
    SELF = "self"  # each row is a data subject (its subject_id is its id)


class ErasureStrategy(StrEnum):
    ANONYMIZE = "anonymize"  # keep the row for a named legal obligation, strip the person
    DELETE = "delete"


class OnErasure(StrEnum):
    """What anonymisation does to one field of a kept row."""

    KEEP = "keep"
    NULL = "null"
    YEAR_ONLY = "year_only"


# Columns the engine owns in every collection; the data map does not declare them.
ID_COLUMN = "id"
SUBJECT_COLUMN = "subject_id"
CREATED_COLUMN = "created_at"
UPDATED_COLUMN = "updated_at"
SYSTEM_COLUMNS = (ID_COLUMN, SUBJECT_COLUMN, CREATED_COLUMN, UPDATED_COLUMN)
BLIND_INDEX_SUFFIX = "_bidx"
# Keys the data API puts beside a record's fields (the write's `redacted_fields`, the
# `flags` of a created record, the `record` and `decision` of an explained read): no field
# may carry one of these names, so a client can always tell them apart.
RESPONSE_KEYS = ("decision", "flags", "record", "redacted_fields")

_PERIOD = re.compile(r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?$")


@dataclass(frozen=True)
class RetentionPeriod:
    """An ISO 8601 calendar period (years, months, days), e.g. ``P10Y`` or ``P13M``."""

    text: str
    years: int
    months: int
    days: int

    @classmethod
    def parse(cls, text: str) -> RetentionPeriod:
        match = _PERIOD.match(text)
        if not match or text == "P":
            raise ValueError(f"{text!r} is not a period like P10Y, P13M or P90D")
        parts = {k: int(v or 0) for k, v in match.groupdict().items()}
        if not any(parts.values()):
            raise ValueError(f"{text!r} is an empty period")
        return cls(text=text, **parts)

    @property
    def approximate_days(self) -> float:
        """The period's length in mean calendar days, to compare periods with each other
        (``P13M`` is longer than ``P1Y``); cut-offs use :meth:`before`, which is exact."""
        return self.years * 365.2425 + self.months * 30.436875 + self.days

    def before(self, moment: datetime) -> datetime:
        """``moment`` minus the period, calendar-wise: years and months first (a day that
        does not exist in the target month is its last day), then days."""
        months = moment.year * 12 + moment.month - 1 - (self.years * 12 + self.months)
        year, month = divmod(months, 12)
        month += 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) - timedelta(days=self.days)


@dataclass(frozen=True)
class Retention:
    period: RetentionPeriod
    counted_from: str  # a date/datetime column of the same collection
    basis: str


@dataclass(frozen=True)
class Field:
    name: str
    category: str
    type: FieldType
    description: str = ""
    required: bool = False
    encrypted: bool = False
    lookup: bool = False
    # What a data-subject request is taken in by (a lookup field): unique within its
    # collection, so that a request by its value names one person (issue 26 item 3).
    identity: bool = False
    free_text: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    references: str | None = None
    on_erasure: OnErasure = OnErasure.NULL
    label: str = ""  # what a person reads (CSV headers, the export's cover page)
    # A field that must go before its row (free-text notes after a year while the row is
    # kept longer): its own period, counted from a date column of the same collection.
    retention: Retention | None = None

    @property
    def display_label(self) -> str:
        """The data map's label, or the field name made readable (`date_of_birth`: "Date
        of birth")."""
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def is_personal(self) -> bool:
        return self.category.startswith("user.")

    @property
    def blind_index_column(self) -> str | None:
        return f"{self.name}{BLIND_INDEX_SUFFIX}" if self.lookup else None


@dataclass(frozen=True)
class Erasure:
    strategy: ErasureStrategy
    legal_obligation: str | None = None


@dataclass(frozen=True)
class Collection:
    name: str
    description: str
    relation: SubjectRelation
    retention: Retention
    erasure: Erasure
    fields: dict[str, Field] = field(default_factory=dict)
    # Where the records come from when not from the subject (GDPR Art. 14(2)(f), 15(1)(g));
    # empty: the subject gave them to us.
    source: str = ""

    @property
    def has_subject_column(self) -> bool:
        return self.relation is SubjectRelation.OWNED

    @property
    def is_subject(self) -> bool:
        return self.relation is SubjectRelation.SELF

    @property
    def owner_column(self) -> str | None:
        """The column holding each record's data subject: the id of a subject record, the
        subject column of an owned one, none for a collection without subjects."""
        if self.is_subject:
            return ID_COLUMN
        return SUBJECT_COLUMN if self.has_subject_column else None

    def field_names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def identity_fields(self) -> tuple[Field, ...]:
        """The fields whose values must be unique within the collection (``identity``)."""
        return tuple(f for f in self.fields.values() if f.identity)


@dataclass(frozen=True)
class DataMap:
    version: int
    subject_collection: str
    collections: dict[str, Collection]
    custom_categories: dict[str, str] = field(default_factory=dict)

    def collection(self, name: str) -> Collection:
        return self.collections[name]

    def subject(self) -> Collection:
        return self.collections[self.subject_collection]

    def subject_owned(self) -> tuple[Collection, ...]:
        """Collections holding rows about a subject, the subject's own collection last."""
        owned = [c for c in self.collections.values() if c.relation is SubjectRelation.OWNED]
        return (*owned, self.subject())
