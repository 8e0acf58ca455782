"""What PII detection produces, and the tables a store scan keeps its state and results in.

Nothing here holds matched text: an entity is a type, a position, a score and the name of
the recognizer that found it; a scan result is counts and mean scores per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base


@dataclass(frozen=True)
class Entity:
    type: str
    start: int
    end: int
    score: float
    recognizer: str

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "recognizer": self.recognizer,
        }


@dataclass(frozen=True)
class FieldFinding:
    """An entity a write put in a field that its data category does not declare."""

    field: str
    entity_type: str
    start: int
    end: int
    score: float


class OnPii(StrEnum):
    """What the policy says to do with undeclared personal data in a written field."""

    REFUSE = "refuse"
    REDACT = "redact"


@dataclass(frozen=True)
class WriteCheck:
    collection: str
    findings: tuple[FieldFinding, ...]
    values: dict[str, Any]  # the values to store: redacted where the policy said so

    @property
    def clean(self) -> bool:
        return not self.findings


class ScanState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


#: The states of a scan not yet finished; the database holds at most one scan in them
#: (migration 0009's unique index ``uq_pii_scans_one_unfinished``).
UNFINISHED_STATES = (ScanState.QUEUED.value, ScanState.RUNNING.value)


class PiiScan(Base):
    """One store scan. At most one is queued or running at any time: a scan reads every
    collection, and two at once only share the store's reads and the CPUs between them."""

    __tablename__ = "pii_scans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    sample_size: Mapped[int] = mapped_column(Integer)
    fields_total: Mapped[int] = mapped_column(Integer)
    fields_done: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PiiScanField(Base):
    """One field of one scan: its result once done (counts and scores, never text)."""

    __tablename__ = "pii_scan_fields"

    scan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("pii_scans.id", name="fk_pii_scan_fields_scan"), primary_key=True
    )
    collection: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    done: Mapped[bool] = mapped_column(default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
