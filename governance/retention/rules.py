"""The retention rules of the data map as SQL: which rows and fields are past their period.

One rule per collection (its rows) and one per field-level override (that field). A rule's
cut-off is ``now`` minus its period; a row is expired when the date it runs from is before
the cut-off. The same conditions serve two readers, so they cannot disagree:

- the policy read path (:class:`RetentionFilter`), which leaves expired rows out of the
  query that reads them, reads an expired field as null, and says which row read by id is
  expired, for every purpose that is not ``retention_exempt``: there is no window between
  expiry and the sweep;
- the sweep (``governance.retention.sweep``), which removes what the read path hides.

A record of an anonymising collection that was anonymised (it names no subject any more)
is no longer due: it is kept, about nobody, for the obligation the data map names. A record
whose data subject's own record expired is expired with it: the subject is erased whole.
"""

from __future__ import annotations

from collections.abc import Collection as Collection_
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, exists, or_, select

from governance.requests.erasure import erasure_order
from governance.store.schema import CrmTables
from policies.types import (
    ID_COLUMN,
    SUBJECT_COLUMN,
    Collection,
    DataMap,
    ErasureStrategy,
    FieldType,
    RetentionPeriod,
)


@dataclass(frozen=True)
class RetentionRule:
    """One rule: a collection's rows, or one field of them (``field``)."""

    collection: str
    period: RetentionPeriod
    counted_from: str
    basis: str
    field: str | None = None
    strategy: str = "delete"  # delete | anonymize | erase (the subject) | null (a field)

    @property
    def name(self) -> str:
        """``delete:web_events``, ``anonymize:orders``, ``erase:customers``,
        ``null:interactions.body``: what the plan, the run and the audit event call it."""
        target = f"{self.collection}.{self.field}" if self.field else self.collection
        return f"{self.strategy}:{target}"

    @property
    def param(self) -> str:
        return f"rcut_{self.collection}" + (f"__{self.field}" if self.field else "")


def rules(datamap: DataMap) -> list[RetentionRule]:
    """Every rule, in the order a sweep applies them: owned collections (what refers to
    another first), the subjects (erased whole), field overrides, then collections that
    belong to no subject (once nothing the sweep removes refers to them)."""
    owned = [c for c in erasure_order(datamap) if not c.is_subject]
    unowned = [c for c in datamap.collections.values() if c.owner_column is None]
    subject = datamap.subject()
    found = [
        _rule(c, "anonymize" if c.erasure.strategy is ErasureStrategy.ANONYMIZE else "delete")
        for c in owned
    ]
    found.append(_rule(subject, "erase"))
    found += [
        RetentionRule(
            c.name,
            f.retention.period,
            f.retention.counted_from,
            f.retention.basis,
            field=f.name,
            strategy="null",
        )
        for c in (*owned, subject, *unowned)
        for f in c.fields.values()
        if f.retention is not None
    ]
    found += [_rule(c, "delete") for c in unowned]
    return found


def _rule(collection: Collection, strategy: str) -> RetentionRule:
    r = collection.retention
    return RetentionRule(collection.name, r.period, r.counted_from, r.basis, strategy=strategy)


def cutoff_value(datamap: DataMap, rule: RetentionRule, now: datetime) -> datetime | date:
    """The cut-off in the type of the column the rule runs from."""
    moment = rule.period.before(now)
    field = datamap.collection(rule.collection).fields.get(rule.counted_from)
    return moment.date() if field is not None and field.type is FieldType.DATE else moment


class RetentionFilter:
    """The read path's view of the rules: conditions and columns with bound cut-offs
    (``params(now)`` gives their values), so a prepared statement is built once."""

    def __init__(self, datamap: DataMap, tables: CrmTables) -> None:
        self.datamap = datamap
        self.tables = tables
        self.by_collection: dict[str, RetentionRule] = {}
        self.by_field: dict[tuple[str, str], RetentionRule] = {}
        for rule in rules(datamap):
            if rule.field is None:
                self.by_collection[rule.collection] = rule
            else:
                self.by_field[(rule.collection, rule.field)] = rule

    def params(self, now: datetime, names: Collection_[str] | None = None) -> dict[str, Any]:
        """The cut-offs at ``now``; with ``names``, only those a statement binds (a read by
        id binds its collection's few, and each costs a calendar computation)."""
        every = [*self.by_collection.values(), *self.by_field.values()]
        return {
            r.param: cutoff_value(self.datamap, r, now)
            for r in every
            if names is None or r.param in names
        }

    def _cut(self, table: Table, rule: RetentionRule) -> Any:
        return bindparam(rule.param, type_=table.c[rule.counted_from].type)

    def row_retained(self, collection: Collection) -> ColumnElement[bool]:
        """NOT :meth:`row_expired`, spelled as conjuncts (``NOT EXISTS`` for the subject)
        so the planner can make the subject check an anti-join or a key probe per row."""
        table = self.tables[collection.name]
        rule = self.by_collection[collection.name]
        own: ColumnElement[bool] = table.c[rule.counted_from] >= self._cut(table, rule)
        if collection.erasure.strategy is ErasureStrategy.ANONYMIZE and (
            collection.has_subject_column
        ):
            own = or_(own, table.c[SUBJECT_COLUMN].is_(None))
        if not collection.has_subject_column:
            return own
        return and_(own, ~self._subject_expired(table))

    def _subject_expired(self, table: Table) -> ColumnElement[bool]:
        subject = self.datamap.subject()
        subjects = self.tables[subject.name]
        srule = self.by_collection[subject.name]
        return exists(
            select(subjects.c[ID_COLUMN]).where(
                subjects.c[ID_COLUMN] == table.c[SUBJECT_COLUMN],
                subjects.c[srule.counted_from] < self._cut(subjects, srule),
            )
        )

    def row_expired(self, collection: Collection) -> ColumnElement[bool]:
        """The row is past its own period, or (owned rows) its subject's record is."""
        table = self.tables[collection.name]
        rule = self.by_collection[collection.name]
        own = table.c[rule.counted_from] < self._cut(table, rule)
        if collection.erasure.strategy is ErasureStrategy.ANONYMIZE and (
            collection.has_subject_column
        ):
            own = and_(own, table.c[SUBJECT_COLUMN].is_not(None))
        if not collection.has_subject_column:
            return own
        return or_(own, self._subject_expired(table))

    def column(self, collection: Collection, name: str) -> Any:
        """The column as a non-exempt purpose reads it: null once its override expired."""
        table = self.tables[collection.name]
        rule = self.by_field.get((collection.name, name))
        if rule is None:
            return table.c[name]
        return case(
            (table.c[rule.counted_from] < self._cut(table, rule), None), else_=table.c[name]
        ).label(name)

    def overridden(self, collection: str) -> Mapping[str, RetentionRule]:
        return {f: r for (c, f), r in self.by_field.items() if c == collection}
