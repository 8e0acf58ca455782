"""``fill_demo_store``: write demo customers that are not in the store yet, batch by batch,
through the store's own ``insert_many`` (values checked against the data map as the API's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from demo.generator import DemoGenerator
from demo.world import DEFAULT_SEED, MAX_CUSTOMERS
from governance.db import in_chunks, unit_of_work
from governance.keys.services import FieldCrypto
from governance.store.schema import CrmTables
from governance.store.services import RecordStore
from policies.types import ID_COLUMN, DataMap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSummary:
    customers_requested: int
    batches: int
    skipped_batches: int  # batches whose customers all existed already
    skipped_customers: int  # customers (with their rows) found already present
    inserted: dict[str, int] = field(default_factory=dict)  # rows written by this call

    @property
    def rows_inserted(self) -> int:
        return sum(self.inserted.values())


ProgressCallback = Callable[[int, int], None]
Rows = dict[str, list[dict[str, Any]]]


def fill_demo_store(
    session_factory: sessionmaker[Session],
    datamap: DataMap,
    crypto: FieldCrypto,
    *,
    customers: int = 2000,
    seed: int = DEFAULT_SEED,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Write demo customers ``0 .. customers-1`` of ``seed`` that are not in the store yet.

    One transaction per batch of ``batch_size`` customers; ``progress(done, total)`` is
    called after each batch, skipped or written.
    """
    if customers < 0 or customers > MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 0 and {MAX_CUSTOMERS}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    generator = DemoGenerator(datamap, seed)
    tables = CrmTables(datamap)
    subject_ids = tables[datamap.subject_collection].c[ID_COLUMN]
    inserted = dict.fromkeys(generator.collections, 0)
    batches = skipped_batches = skipped_customers = 0
    for start in range(0, customers, batch_size):
        stop = min(start + batch_size, customers)
        batches += 1
        with unit_of_work(session_factory) as session:
            wanted = {generator.customer_id(i): i for i in range(start, stop)}
            present = existing_ids(session, subject_ids, list(wanted))
            # A customer erased since (its data key shredded) stays erased: writing it again
            # would recreate the person (and its key cannot seal anything any more).
            missing = [c for c in wanted if c not in present]
            if missing:
                present |= {s for s, k in crypto.keys.keystore.fetch(missing).items() if k.shredded}
            todo = [i for customer_id, i in wanted.items() if customer_id not in present]
            skipped_customers += len(present)
            if not todo:
                skipped_batches += 1
                logger.debug("demo batch %d-%d already present, skipped", start, stop)
            else:
                rows = generator.rows_for(todo)
                store = RecordStore(session, datamap, tables, crypto)
                for collection in generator.collections:
                    if rows[collection]:
                        inserted[collection] += store.insert_many(collection, rows[collection])
                logger.debug("demo batch %d-%d: %d customers written", start, stop, len(todo))
        if progress is not None:
            progress(stop, customers)
    return DemoSummary(
        customers_requested=customers,
        batches=batches,
        skipped_batches=skipped_batches,
        skipped_customers=skipped_customers,
        inserted=inserted,
    )


def existing_ids(session: Session, column: Any, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in in_chunks(ids):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found
