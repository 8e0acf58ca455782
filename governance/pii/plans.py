"""How each field of the data map is scanned, and the scan of one field's values.

Kept apart from ``services.py`` because scan worker processes (``pool.py``) import it: a
worker needs the plans and the analyzer, not the database, the store or the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from governance.pii.engine import PiiEngine
from governance.pii.models import Entity
from policies.types import DataMap, Field, FieldType

_TEXT_TYPES = (FieldType.STRING, FieldType.TEXT)


@dataclass(frozen=True)
class FieldPlan:
    collection: str
    field: Field
    method: str  # "ner+patterns" | "patterns" | "typed"


def plan_fields(datamap: DataMap) -> list[FieldPlan]:
    """Every field of every collection, with the way the data map says to scan it."""
    plans = []
    for collection in datamap.collections.values():
        for f in collection.fields.values():
            if f.type not in _TEXT_TYPES or f.choices:
                method = "typed"  # numbers, dates, booleans, refs and enumerations hold no text
            elif f.free_text or f.type is FieldType.TEXT:
                method = "ner+patterns"
            else:
                method = "patterns"
            plans.append(FieldPlan(collection.name, f, method))
    return plans


def scan_values(engine: PiiEngine, plan: FieldPlan, values: Sequence[str]) -> list[list[Entity]]:
    """The entities in each sampled value of a field, as its plan says: free text through
    NER and patterns; a structured string through patterns only, knowing from the data map
    what the field should hold; typed fields not at all."""
    if plan.method == "typed":
        return [[] for _ in values]
    if plan.method == "ner+patterns":
        return engine.analyze_batch(values, free_text=True)
    declared = engine.config.declared_entities(plan.field.category)
    return engine.analyze_batch(values, free_text=False, declared=declared)
