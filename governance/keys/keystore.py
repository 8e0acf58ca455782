"""Reads and writes of the key store database (wrapped data keys and key jobs).

The key store commits on its own, outside the CRM unit of work: a data key must exist
before the first ciphertext sealed under it is committed to the CRM store, and a shred must
stand even if the CRM transaction that asked for it later fails (an erasure is retried, a
destroyed key is never restored). A key created for a CRM write that then rolls back is an
unused key of no one, which is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from governance.db import in_chunks
from governance.keys.models import key_jobs, subject_keys
from governance.prepared import PreparedSelect


@dataclass(frozen=True)
class StoredKey:
    subject_id: str
    key_id: str
    kek_version: int | None
    wrapped: bytes | None  # None once shredded

    @property
    def shredded(self) -> bool:
        return self.wrapped is None


@dataclass(frozen=True)
class KeyJob:
    id: str
    kind: str
    state: str
    target_version: int | None
    position: str | None
    processed: int
    started_at: datetime
    finished_at: datetime | None


# One subject's key: read on every policy read of an encrypted field, so prepared for the
# driver, and read in autocommit: one SELECT needs no transaction of ours.
_ONE_KEY = PreparedSelect(
    select(
        subject_keys.c.subject_id,
        subject_keys.c.key_id,
        subject_keys.c.kek_version,
        subject_keys.c.wrapped,
    ).where(subject_keys.c.subject_id == bindparam("subject_id"))
)


def _now() -> datetime:
    return datetime.now(UTC)


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- data keys ------------------------------------------------------------------------
    def fetch(self, subject_ids: Iterable[str]) -> dict[str, StoredKey]:
        ids = list(dict.fromkeys(subject_ids))
        found: dict[str, StoredKey] = {}
        if not ids:
            return found
        if len(ids) == 1:  # one record read: a prebuilt statement
            for one in _ONE_KEY.rows_on_engine(self.engine, {"subject_id": ids[0]}):
                wrapped = one["wrapped"]
                found[one["subject_id"]] = StoredKey(
                    one["subject_id"],
                    one["key_id"],
                    one["kek_version"],
                    None if wrapped is None else bytes(wrapped),
                )
            return found
        cols = (
            subject_keys.c.subject_id,
            subject_keys.c.key_id,
            subject_keys.c.kek_version,
            subject_keys.c.wrapped,
        )
        with self.engine.connect() as conn:
            for chunk in in_chunks(ids):
                query = select(*cols).where(subject_keys.c.subject_id.in_(chunk))
                for row in conn.execute(query):
                    found[row[0]] = StoredKey(
                        row[0], row[1], row[2], None if row[3] is None else bytes(row[3])
                    )
            conn.rollback()
        return found

    def insert(self, keys: Sequence[StoredKey]) -> None:
        """Insert new wrapped keys; a subject that got a key concurrently keeps that one."""
        if not keys:
            return
        now = _now()
        rows = [
            {
                "subject_id": k.subject_id,
                "key_id": k.key_id,
                "kek_version": k.kek_version,
                "wrapped": k.wrapped,
                "created_at": now,
            }
            for k in keys
        ]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(subject_keys), rows)
        except IntegrityError:
            # Another worker created some of these keys first: insert the others one by one.
            for row in rows:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(insert(subject_keys), [row])
                except IntegrityError:
                    pass

    def shred(self, subject_id: str) -> bool:
        """Destroy the subject's wrapped key; True if there was one to destroy."""
        now = _now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(subject_keys)
                .where(subject_keys.c.subject_id == subject_id, subject_keys.c.wrapped.is_not(None))
                .values(wrapped=None, kek_version=None, shredded_at=now)
            )
            if result.rowcount == 0:
                # Never had a key (no encrypted data yet): leave a tombstone so that a key is
                # never created for an erased subject by a late write.
                exists = conn.scalar(
                    select(subject_keys.c.subject_id).where(subject_keys.c.subject_id == subject_id)
                )
                if exists is None:
                    conn.execute(
                        insert(subject_keys).values(
                            subject_id=subject_id,
                            key_id=uuid.uuid4().hex[:16],
                            kek_version=None,
                            wrapped=None,
                            created_at=now,
                            shredded_at=now,
                        )
                    )
        self._scrub()
        return result.rowcount > 0

    def _scrub(self) -> None:
        """On SQLite, push the overwritten pages out of the write-ahead log (secure_delete is
        on for this engine, so freed bytes are zeroed in the main file)."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- rotation support -----------------------------------------------------------------
    def stale_batch(self, target_version: int, after: str, limit: int) -> list[StoredKey]:
        """Live keys wrapped by any version other than ``target_version``, in subject order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    subject_keys.c.subject_id,
                    subject_keys.c.key_id,
                    subject_keys.c.kek_version,
                    subject_keys.c.wrapped,
                )
                .where(
                    subject_keys.c.subject_id > after,
                    subject_keys.c.wrapped.is_not(None),
                    subject_keys.c.kek_version != target_version,
                )
                .order_by(subject_keys.c.subject_id)
                .limit(limit)
            ).all()
            conn.rollback()
        return [StoredKey(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def rewrap(
        self, rewrapped: Sequence[tuple[StoredKey, int, bytes]], job_id: str, position: str
    ) -> int:
        """Store new wrappings and the job's resume point in one transaction.

        Each update only applies if the row still holds the wrapping it was read with, so a
        key shredded meanwhile stays shredded.
        """
        now = _now()
        statement = (
            update(subject_keys)
            .where(
                subject_keys.c.subject_id == bindparam("b_subject"),
                subject_keys.c.kek_version == bindparam("b_old_version"),
                subject_keys.c.wrapped.is_not(None),
            )
            .values(
                kek_version=bindparam("b_version"), wrapped=bindparam("b_wrapped"), rewrapped_at=now
            )
        )
        params = [
            {
                "b_subject": key.subject_id,
                "b_old_version": key.kek_version,
                "b_version": version,
                "b_wrapped": wrapped,
            }
            for key, version, wrapped in rewrapped
        ]
        with self.engine.begin() as conn:
            if params:
                conn.execute(statement, params)
            conn.execute(
                update(key_jobs)
                .where(key_jobs.c.id == job_id)
                .values(
                    position=position, processed=key_jobs.c.processed + len(params), updated_at=now
                )
            )
        return len(params)

    def count_by_version(self) -> dict[int, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subject_keys.c.kek_version, func.count())
                .where(subject_keys.c.wrapped.is_not(None))
                .group_by(subject_keys.c.kek_version)
            ).all()
            conn.rollback()
        return {int(v): int(n) for v, n in rows}

    def one_live(self) -> StoredKey | None:
        """A live wrapped key (the first in subject order), for readiness to unwrap."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    subject_keys.c.subject_id,
                    subject_keys.c.key_id,
                    subject_keys.c.kek_version,
                    subject_keys.c.wrapped,
                )
                .where(subject_keys.c.wrapped.is_not(None))
                .order_by(subject_keys.c.subject_id)
                .limit(1)
            ).first()
            conn.rollback()
        return None if row is None else StoredKey(row[0], row[1], row[2], bytes(row[3]))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            live = conn.scalar(select(func.count()).where(subject_keys.c.wrapped.is_not(None)))
            shredded = conn.scalar(select(func.count()).where(subject_keys.c.wrapped.is_(None)))
            conn.rollback()
        return {"live": int(live or 0), "shredded": int(shredded or 0)}

    # -- jobs -----------------------------------------------------------------------------
    def running_job(self, kind: str) -> KeyJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(key_jobs)
                .where(and_(key_jobs.c.kind == kind, key_jobs.c.state == "running"))
                .order_by(key_jobs.c.started_at)
                .limit(1)
            ).first()
            conn.rollback()
        return None if row is None else _job(row._mapping)

    def latest_job(self, kind: str) -> KeyJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(key_jobs)
                .where(key_jobs.c.kind == kind)
                .order_by(key_jobs.c.started_at.desc())
                .limit(1)
            ).first()
            conn.rollback()
        return None if row is None else _job(row._mapping)

    def start_job(self, kind: str, target_version: int | None) -> KeyJob:
        now = _now()
        job_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(
                insert(key_jobs).values(
                    id=job_id,
                    kind=kind,
                    state="running",
                    target_version=target_version,
                    position=None,
                    processed=0,
                    started_at=now,
                    updated_at=now,
                )
            )
        return KeyJob(job_id, kind, "running", target_version, None, 0, now, None)

    def save_position(self, job_id: str, position: str, processed: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(key_jobs)
                .where(key_jobs.c.id == job_id)
                .values(
                    position=position, processed=key_jobs.c.processed + processed, updated_at=_now()
                )
            )

    def finish_job(self, job_id: str) -> KeyJob:
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                update(key_jobs)
                .where(key_jobs.c.id == job_id)
                .values(state="done", finished_at=now, updated_at=now)
            )
            row = conn.execute(select(key_jobs).where(key_jobs.c.id == job_id)).first()
        assert row is not None
        return _job(row._mapping)


def _job(m: Any) -> KeyJob:
    return KeyJob(
        id=m["id"],
        kind=m["kind"],
        state=m["state"],
        target_version=m["target_version"],
        position=m["position"],
        processed=int(m["processed"]),
        started_at=m["started_at"],
        finished_at=m["finished_at"],
    )
