"""Legal holds: keep what a litigation, an inquiry or an audit needs, whatever the retention
period says, and say so.

A hold covers one data subject (every record of theirs) or one collection. While it is
active (placed, not released, not past its optional expiry) the retention sweep skips what
it covers and counts it as held, and an erasure request for a covered subject stops before
its destructive steps in the state ``on_hold`` with the hold's id, so the officer can
answer the subject under GDPR Art. 17(3)(e); releasing the hold resumes it.

Holds are append-only like consent: placing and releasing each add an event to
``legal_hold_events`` (a trigger refuses UPDATE and DELETE), the current state in
``legal_holds`` is written in the same transaction, and both are audited. A hold carries
codes and ids only: a reason from a closed list and a matter reference (the case or
inquiry number in another system), never free text that could name a person.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, Table, exists, or_, select
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission, require
from governance.consent.services import SUBJECT_ID
from governance.errors import shown_name
from governance.retention.errors import HoldAlreadyReleased, HoldNotFound, InvalidHold
from governance.retention.models import LegalHold, LegalHoldEvent
from governance.shared import Shared
from governance.store.schema import CrmTables
from governance.timestamps import as_utc
from policies.types import ID_COLUMN, DataMap

HOLDS: Table = LegalHold.__table__  # type: ignore[assignment]
# A reference to the matter in another system (a case number, an inquiry id): no spaces and
# no '@', so a sentence or an e-mail address cannot pass.
MATTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,99}$")
CLOCK_SKEW = timedelta(minutes=5)


class HoldScope(StrEnum):
    SUBJECT = "subject"
    COLLECTION = "collection"


class HoldReason(StrEnum):
    LITIGATION = "litigation"
    REGULATORY_INQUIRY = "regulatory_inquiry"
    TAX_AUDIT = "tax_audit"
    FRAUD_INVESTIGATION = "fraud_investigation"
    OTHER = "other"


class ReleaseReason(StrEnum):
    MATTER_CLOSED = "matter_closed"
    SETTLED = "settled"
    PLACED_IN_ERROR = "placed_in_error"
    OTHER = "other"


def _now() -> datetime:
    return datetime.now(UTC)


def active_clause(now: datetime) -> Any:
    return (HOLDS.c.released_at.is_(None)) & or_(
        HOLDS.c.expires_at.is_(None), HOLDS.c.expires_at > now
    )


def held_subjects(now: datetime) -> Select[Any]:
    """The ids of subjects under an active hold (for ``NOT IN`` / ``NOT EXISTS``)."""
    return select(HOLDS.c.subject_id).where(
        HOLDS.c.scope == HoldScope.SUBJECT.value, active_clause(now)
    )


def held_collections(session: Session, now: datetime) -> dict[str, str]:
    """Collection name -> the id of an active hold on it (the earliest placed)."""
    rows = session.execute(
        select(HOLDS.c.collection, HOLDS.c.id)
        .where(HOLDS.c.scope == HoldScope.COLLECTION.value, active_clause(now))
        .order_by(HOLDS.c.placed_at.desc())
    ).all()
    return {collection: hold_id for collection, hold_id in rows}


def blocking_hold(
    session: Session,
    datamap: DataMap,
    tables: CrmTables,
    subject_id: str,
    now: datetime | None = None,
) -> str | None:
    """The id of an active hold that covers anything an erasure of this subject would
    remove: a hold on the subject, or on a collection holding records of theirs."""
    now = now or _now()
    own = session.scalar(
        select(HOLDS.c.id)
        .where(
            HOLDS.c.scope == HoldScope.SUBJECT.value,
            HOLDS.c.subject_id == subject_id,
            active_clause(now),
        )
        .order_by(HOLDS.c.placed_at)
        .limit(1)
    )
    if own is not None:
        return own
    for collection, hold_id in sorted(held_collections(session, now).items()):
        spec = datamap.collections.get(collection)
        if spec is None or spec.owner_column is None:
            continue
        table = tables[collection]
        if session.scalar(select(exists().where(table.c[spec.owner_column] == subject_id))):
            return hold_id
    return None


class HoldService:
    """Place, release and read holds in the caller's unit of work (flush, never commit)."""

    def __init__(
        self, session: Session, runtime: Shared, actor: Actor, *, request_id: str | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.actor = actor
        self.request_id = request_id

    # -- writing -------------------------------------------------------------------------
    def place(
        self,
        scope: Any,
        reason: Any,
        matter: Any,
        *,
        subject_id: Any = None,
        collection: Any = None,
        expires_at: datetime | None = None,
    ) -> LegalHold:
        require(self.actor.role, Permission.HOLDS_MANAGE)
        kind, code, ref, expiry = self._validated(
            scope, reason, matter, subject_id, collection, expires_at
        )
        now = _now()
        hold = LegalHold(
            id=uuid.uuid4().hex,
            scope=str(kind),
            subject_id=subject_id if kind is HoldScope.SUBJECT else None,
            collection=collection if kind is HoldScope.COLLECTION else None,
            reason=str(code),
            matter=ref,
            expires_at=expiry,
            placed_at=now,
            placed_by=self.actor.id,
        )
        self.session.add(hold)
        self._event(hold, "placed", str(code), now)
        self.session.flush()
        details: dict[str, Any] = {
            "hold_id": hold.id,
            "scope": hold.scope,
            "reason_code": hold.reason,
            "matter": hold.matter,
        }
        if expiry is not None:
            details["due_date"] = expiry.date().isoformat()
        self._audit(AuditAction.HOLD_PLACED, hold, details)
        return hold

    def release(self, hold_id: str, reason: Any) -> LegalHold:
        """Release the hold (once); the erasures waiting on it are the requests package's
        to resume (``governance.requests.holds.release_hold``)."""
        require(self.actor.role, Permission.HOLDS_MANAGE)
        code = _choice(ReleaseReason, reason, "reason")
        hold = self.get(hold_id, lock=True)
        if hold.released_at is not None:
            raise HoldAlreadyReleased(hold.id)
        now = _now()
        hold.released_at = now
        hold.released_by = self.actor.id
        hold.release_reason = str(code)
        self._event(hold, "released", str(code), now)
        self.session.flush()
        self._audit(
            AuditAction.HOLD_RELEASED,
            hold,
            {"hold_id": hold.id, "scope": hold.scope, "reason_code": str(code)},
        )
        return hold

    # -- reading -------------------------------------------------------------------------
    def get(self, hold_id: str, *, lock: bool = False) -> LegalHold:
        if not isinstance(hold_id, str) or len(hold_id) > 32:
            raise HoldNotFound()
        hold = self.session.get(LegalHold, hold_id, with_for_update=lock or None)
        if hold is None:
            raise HoldNotFound()
        return hold

    def find(
        self,
        *,
        active: bool | None = None,
        subject_id: str | None = None,
        collection: str | None = None,
        limit: int = 100,
    ) -> list[LegalHold]:
        stmt = select(LegalHold)
        now = _now()
        if active is True:
            stmt = stmt.where(active_clause(now))
        elif active is False:
            stmt = stmt.where(~active_clause(now))
        if subject_id is not None:
            stmt = stmt.where(LegalHold.subject_id == subject_id)
        if collection is not None:
            stmt = stmt.where(LegalHold.collection == collection)
        return list(
            self.session.scalars(
                stmt.order_by(LegalHold.placed_at.desc(), LegalHold.id).limit(limit)
            )
        )

    def history(self, hold_id: str) -> Sequence[LegalHoldEvent]:
        return list(
            self.session.scalars(
                select(LegalHoldEvent)
                .where(LegalHoldEvent.hold_id == hold_id)
                .order_by(LegalHoldEvent.seq)
            )
        )

    # -- internals -----------------------------------------------------------------------
    def _validated(
        self,
        scope: Any,
        reason: Any,
        matter: Any,
        subject_id: Any,
        collection: Any,
        expires_at: datetime | None,
    ) -> tuple[HoldScope, HoldReason, str, datetime | None]:
        errors: dict[str, list[str]] = {}
        kind = code = None
        try:
            kind = _choice(HoldScope, scope, "scope")
        except InvalidHold as exc:
            errors.update(exc.extra["errors"])
        try:
            code = _choice(HoldReason, reason, "reason")
        except InvalidHold as exc:
            errors.update(exc.extra["errors"])
        if not isinstance(matter, str) or not MATTER.match(matter):
            errors["matter"] = [
                "a reference to the matter (letters, digits and ._:/-, no "
                "spaces, at most 100): an id, never a description"
            ]
        if kind is HoldScope.SUBJECT:
            if collection is not None:
                errors["collection"] = ["a subject hold names no collection"]
            if not isinstance(subject_id, str) or not SUBJECT_ID.match(subject_id):
                errors["subject_id"] = ["a subject hold names the subject's id"]
            elif not self._subject_exists(subject_id):
                errors["subject_id"] = ["no such data subject"]
        elif kind is HoldScope.COLLECTION:
            if subject_id is not None:
                errors["subject_id"] = ["a collection hold names no subject"]
            if collection not in self.runtime.policy.datamap.collections:
                errors["collection"] = [
                    f"{shown_name(collection)!r} is not a collection of the data map"
                ]
        expiry = as_utc(expires_at)
        if expiry is not None and expiry <= _now() - CLOCK_SKEW:
            errors["expires_at"] = ["must be in the future"]
        if errors or kind is None or code is None:
            raise InvalidHold("the legal hold is not valid", errors)
        return kind, code, str(matter), expiry

    def _subject_exists(self, subject_id: str) -> bool:
        table = self.runtime.tables[self.runtime.policy.datamap.subject_collection]
        return (
            self.session.scalar(select(table.c[ID_COLUMN]).where(table.c[ID_COLUMN] == subject_id))
            is not None
        )

    def _event(self, hold: LegalHold, action: str, reason: str, now: datetime) -> None:
        self.session.add(
            LegalHoldEvent(
                id=uuid.uuid4().hex,
                hold_id=hold.id,
                action=action,
                scope=hold.scope,
                subject_id=hold.subject_id,
                collection=hold.collection,
                reason=reason,
                matter=hold.matter if action == "placed" else None,
                expires_at=hold.expires_at,
                actor_id=self.actor.id,
                recorded_at=now,
            )
        )

    def _audit(self, action: AuditAction, hold: LegalHold, details: dict[str, Any]) -> None:
        self.runtime.audit.record(
            self.session,
            AuditEvent(
                action=str(action),
                actor=self.actor,
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                target=Target(
                    collection=hold.collection, record_id=hold.id, subject_id=hold.subject_id
                ),
                details=details,
            ),
        )


def _choice(enum: Any, value: Any, name: str) -> Any:
    text = value.strip().lower() if isinstance(value, str) else None
    try:
        return enum(text)
    except ValueError:
        raise InvalidHold(
            f"the {name} is not one this service records",
            {name: [f"one of {', '.join(e.value for e in enum)}"]},
        ) from None


def hold_view(hold: LegalHold, now: datetime | None = None) -> dict[str, Any]:
    """The hold as the API and the CLI show it."""
    now = now or _now()
    expires = as_utc(hold.expires_at)
    active = hold.released_at is None and (expires is None or expires > now)
    return {
        "id": hold.id,
        "scope": hold.scope,
        "subject_id": hold.subject_id,
        "collection": hold.collection,
        "reason": hold.reason,
        "matter": hold.matter,
        "expires_at": expires,
        "active": active,
        "placed_at": as_utc(hold.placed_at),
        "placed_by": hold.placed_by,
        "released_at": as_utc(hold.released_at),
        "released_by": hold.released_by,
        "release_reason": hold.release_reason,
    }
