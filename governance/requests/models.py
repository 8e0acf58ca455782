"""Data-subject request tables: the request, its recorded execution steps, its stored
export, and the erasure suppression list.

No plaintext personal value is stored here. A request names its subject by id and, when it
came in by email, by the email's blind index (so an unknown email can still be looked up
later, and a duplicate recognised). Details that carry values (a rectification's
corrections) are sealed with a key derived for that use, bound to the request id, and
dropped when the request finishes. An export is sealed the same way.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base
from governance.timestamps import as_utc


class RequestStatus(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    # An erasure whose subject (or one of whose collections) is under a legal hold: its
    # destructive steps wait (Art. 17(3)(e)) until the hold is released (``hold_id``).
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


OPEN_STATUSES = (
    RequestStatus.RECEIVED.value,
    RequestStatus.VERIFIED.value,
    RequestStatus.IN_PROGRESS.value,
    RequestStatus.FAILED.value,
    RequestStatus.ON_HOLD.value,
)


class StepState(StrEnum):
    PENDING = "pending"
    DONE = "done"


class DsrRequest(Base):
    __tablename__ = "dsr_requests"
    __table_args__ = (
        Index("ix_dsr_requests_status_due", "status", "due_at"),
        Index("ix_dsr_requests_subject", "subject_id"),
        Index("ix_dsr_requests_email_bidx", "email_bidx"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    regulation: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    subject_found: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    verification_method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Non-personal summary of the details (purposes objected to; fields corrected).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The details that carry values (corrections), sealed; None once the request finished.
    sealed_details: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Working state of an execution (e.g. the blind indexes an erasure verifies with);
    # cleared when the request finishes.
    work: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The legal hold an erasure waits on (status on_hold); None otherwise.
    hold_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def is_overdue(self, now: datetime) -> bool:
        """Still open (not completed or rejected) after its due time."""
        return self.status in OPEN_STATUSES and as_utc(self.due_at) < now

    @property
    def subject_note(self) -> str | None:
        """What the officer should know when intake matched no subject: a typo'd e-mail
        completes, correctly, as "no data held", which looks like an answer."""
        if self.subject_found:
            return None
        return (
            "No subject matched at intake: the request will be answered 'no data held'. "
            "Check the e-mail or id for a typo before executing it."
        )


class DsrStep(Base):
    """One recorded step of a request's execution; ``done`` commits with the step's work."""

    __tablename__ = "dsr_steps"

    request_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dsr_requests.id", name="fk_dsr_steps_request"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(96))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class DsrExport(Base):
    """An access or portability export: a ZIP sealed with AES-256-GCM under a derived key,
    bound to the request id; deleted after ``expires_at``."""

    __tablename__ = "dsr_exports"
    __table_args__ = (Index("ix_dsr_exports_expires_at", "expires_at"),)

    request_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("dsr_requests.id", name="fk_dsr_exports_request"), primary_key=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ErasureSuppression(Base):
    """The blind index of an erased subject's email, and nothing else (see README)."""

    __tablename__ = "erasure_suppressions"

    email_bidx: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
