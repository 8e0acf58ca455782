"""Consent tables: the append-only history, and the current state materialised from it.

``consent_events`` is the truth. ``consent_state`` (one row per subject and purpose that has
events) and ``consent_restrictions`` (one row per subject that was ever restricted) hold the
latest event's outcome; the service writes them in the same transaction as the event, and
:func:`governance.consent.services.rebuild_state` recomputes them from the history.

``consent_erasure_permits`` exists for the append-only guard: a trigger refuses every UPDATE
of ``consent_events``, and every DELETE unless the same transaction first wrote a permit for
that row's subject (only the erasure service does, and removes it again before commit).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base

Seq = BigInteger().with_variant(Integer(), "sqlite")
SUBJECT_ID_LENGTH = 32
PURPOSE_LENGTH = 64


class ConsentEvent(Base):
    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_subject_seq", "subject_id", "seq"),)

    # The order of the history: the latest event (highest seq) of a key is its state.
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH))
    purpose: Mapped[str | None] = mapped_column(String(PURPOSE_LENGTH), nullable=True)
    action: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    evidence: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[str] = mapped_column(String(128))


class ConsentState(Base):
    __tablename__ = "consent_state"
    __table_args__ = (
        Index("ix_consent_state_purpose_status", "purpose", "status", "subject_id"),
        {"sqlite_with_rowid": False},
    )

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(PURPOSE_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(32))


class ConsentRestriction(Base):
    __tablename__ = "consent_restrictions"
    __table_args__ = {"sqlite_with_rowid": False}

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    restricted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(32))


class ConsentErasurePermit(Base):
    __tablename__ = "consent_erasure_permits"

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


EVENTS: Table = ConsentEvent.__table__  # type: ignore[assignment]
STATE: Table = ConsentState.__table__  # type: ignore[assignment]
RESTRICTIONS: Table = ConsentRestriction.__table__  # type: ignore[assignment]
PERMITS: Table = ConsentErasurePermit.__table__  # type: ignore[assignment]


class ConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"
    OBJECT = "object"
    LIFT_OBJECTION = "lift_objection"
    RESTRICT = "restrict"
    LIFT_RESTRICTION = "lift_restriction"


class ConsentSource(StrEnum):
    API = "api"
    GPC = "gpc"  # a Global Privacy Control signal; only ever set by the service
    IMPORT = "import"
    OFFICER = "officer"  # recorded by a compliance officer
    REQUEST = "request"  # the execution of a data-subject request
    WEB_FORM = "web_form"
