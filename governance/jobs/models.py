"""The jobs table: the source of truth for background work.

One row per job: what kind of work, the id of what it works on, its state, how many times it
was attempted and the cap, the lease of the worker running it, and the last error as a code
and a safe message (never personal data, never exception text). The queue (a thread, Celery)
only delivers job ids; whether a job still has to run is always read here, so a delivery that
is lost, repeated or late changes nothing.

``exclusive`` names work of which only one may be open at a time (a KEK rotation, a store
scan, one periodic sweep): a unique index on it, partial to open jobs, makes a second one
impossible on both databases, whatever the number of processes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for a worker (new, or retrying after not_before)
    RUNNING = "running"  # a worker holds its lease
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ended in a failure that running it again cannot fix
    DEAD = "dead"  # failed at every attempt up to the cap (or waited past the outage budget)


OPEN_STATES = (JobState.QUEUED.value, JobState.RUNNING.value)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queue: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    exclusive: Mapped[str | None] = mapped_column(String(80), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # An infrastructure failure (a database, the key store, the broker unreachable) is not
    # counted against the cap: the job waits on that dependency, retried with capped
    # backoff, from ``waiting_since`` for as long as ``job_outage_seconds`` allows.
    waiting_on: Mapped[str | None] = mapped_column(String(24), nullable=True)
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(128))  # the actor whose work it is
    requested_role: Mapped[str] = mapped_column(String(32))
    trace_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the HTTP exchange
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_jobs_state_not_before", "state", "not_before"),
        Index("ix_jobs_kind_target", "kind", "target_id"),
        Index(
            "uq_jobs_open_exclusive",
            "exclusive",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )
