"""Record consent, objection and restriction events; read and filter by the current state.

Writing an event (one transaction, the caller's; flushed, never committed):

1. validate everything (subject exists, purpose known, the action applies to the purpose's
   legal basis, source allowed for the actor, references well-formed) and, for an
   application, its authority (:mod:`governance.consent.authority`: its own purposes only,
   no loosening over a protected withdrawal or objection) - nothing is written if anything
   is wrong;
2. upsert the materialised state row of the key (subject + purpose, or subject for a
   restriction). Doing this first takes the row's lock on PostgreSQL, so two concurrent
   writers of one key serialise there and the second's event gets the higher ``seq``: the
   history's order and the state always agree;
3. insert the event (the history: the truth, never updated, deleted only by erasure);
4. record the audit event (ids, purpose, action and source; no personal value).

Latest event wins: the state of a key is the outcome of its event with the highest ``seq``
(the order the gateway recorded them; ``occurred_at`` is when it happened, as reported).
A purpose based on consent with no grant is not granted.

Filtering many subjects (issue 6 reads) uses :func:`processable_clause`, an SQL condition on
the materialised state that mirrors :func:`policies.consent.may_process` for one subject.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Target
from audit.log import AuditLog
from governance.audit_actions import AuditAction
from governance.consent.authority import (
    LOOSENING_ACTIONS,
    check_application_change,
    latest_protected,
)
from governance.consent.errors import (
    ConsentNotApplicable,
    InvalidConsentEvent,
    NotObjected,
    NotRestricted,
    ObjectionNotApplicable,
    UnknownPurpose,
    UnknownSubject,
)
from governance.consent.models import (
    EVENTS,
    PERMITS,
    RESTRICTIONS,
    STATE,
    ConsentAction,
    ConsentEvent,
    ConsentSource,
)
from governance.db import in_chunks
from governance.errors import shown_name
from governance.prepared import PreparedSelect
from governance.requests.models import DsrRequest
from governance.store.schema import CrmTables
from governance.timestamps import as_utc
from policies.consent import ConsentStatus, PurposeConsent, SubjectConsentState
from policies.loader import PolicySet
from policies.purposes import Purpose, RestrictionExemption
from policies.types import ID_COLUMN

# What each purpose-level action makes the purpose's status; subject-level actions.
PURPOSE_OUTCOME = {
    ConsentAction.GRANT: ConsentStatus.GRANTED,
    ConsentAction.WITHDRAW: ConsentStatus.WITHDRAWN,
    ConsentAction.OBJECT: ConsentStatus.OBJECTED,
    ConsentAction.LIFT_OBJECTION: ConsentStatus.NONE,
}
RESTRICTION_OUTCOME = {ConsentAction.RESTRICT: True, ConsentAction.LIFT_RESTRICTION: False}
AUDIT_ACTIONS = {
    ConsentAction.GRANT: AuditAction.CONSENT_GRANTED,
    ConsentAction.WITHDRAW: AuditAction.CONSENT_WITHDRAWN,
    ConsentAction.OBJECT: AuditAction.CONSENT_OBJECTED,
    ConsentAction.LIFT_OBJECTION: AuditAction.CONSENT_OBJECTION_LIFTED,
    ConsentAction.RESTRICT: AuditAction.CONSENT_RESTRICTED,
    ConsentAction.LIFT_RESTRICTION: AuditAction.CONSENT_RESTRICTION_LIFTED,
}
# The source an application's events carry: decided by the gateway from its key (see
# governance.consent.authority.source_for), never claimed; officers and the service record
# the others.
APPLICATION_SOURCES = frozenset({ConsentSource.API})

SUBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
POLICY_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+\-]{0,63}$")
# A reference to evidence kept elsewhere (a form submission id, a document path), never the
# evidence itself: no spaces and no '@', so an email address or a sentence cannot pass.
EVIDENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#\-]{0,199}$")
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class NewConsentEvent:
    subject_id: str
    action: ConsentAction
    source: ConsentSource
    purpose: str | None = None
    policy_version: str | None = None
    evidence: str | None = None
    occurred_at: datetime | None = None  # when it happened; now unless imported


@dataclass(frozen=True)
class ConsentWrite:
    """The event a consent write recorded, and the GPC opt-outs its header added."""

    event: ConsentEvent
    gpc_opt_outs: list[ConsentEvent] = field(default_factory=list)


@dataclass(frozen=True)
class SubjectStanding:
    """What a read by id must know of its subject before it returns anything: the consent
    state, and whether an erasure of the subject is executing (or failed half-way) or
    waits on a legal hold. Read in one prepared statement (:meth:`ConsentService.standing`),
    so that the erasure and hold refusals cost no query of their own (issue 27)."""

    state: SubjectConsentState
    erasing: bool  # an erasure request in progress or failed (ERASING_STATUSES)
    erasure_held: bool  # an erasure request waiting on a legal hold (HELD_STATUSES)

    def erased_for(self, purpose: Purpose | None) -> bool:
        """Whether an erasure stops ``purpose`` from processing the subject: the rule of
        :func:`erasing_subjects`, on this subject's flags."""
        return self.erasing or (self.erasure_held and _holds_block(purpose))


@cache
def _one_subject() -> PreparedSelect:
    """The subject's restriction, erasure and hold flags and its consent state rows, in one
    statement: a one-row derived table of scalar subqueries (so that a subject with no
    events still answers one row), outer-joined to its rows of the state table. Built at
    first use."""
    subject: Any = bindparam("subject_id")
    requests = DsrRequest.__table__

    def restriction(column: Any) -> Any:
        return select(column).where(RESTRICTIONS.c.subject_id == subject).scalar_subquery()

    def erasure(statuses: tuple[str, ...]) -> Any:
        # Equalities, not IN: a prepared statement takes no expanding parameter.
        return exists().where(
            requests.c.type == "erasure",
            or_(*(requests.c.status == s for s in statuses)),
            requests.c.subject_id == subject,
        )

    standing = select(
        restriction(RESTRICTIONS.c.restricted).label("restricted"),
        restriction(RESTRICTIONS.c.at).label("restricted_at"),
        restriction(RESTRICTIONS.c.source).label("restricted_source"),
        erasure(ERASING_STATUSES).label("erasing"),
        erasure(HELD_STATUSES).label("erasure_held"),
    ).subquery("standing")
    return PreparedSelect(
        select(
            *standing.c, STATE.c.purpose, STATE.c.status, STATE.c.at, STATE.c.source
        ).select_from(standing.outerjoin(STATE, STATE.c.subject_id == subject))
    )


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT with ON CONFLICT (both backends spell it the same)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]
) -> None:
    if not rows:
        return
    stmt = _insert_for(session)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys},
    )
    session.execute(stmt, rows)


class ConsentParts(Protocol):
    """What consent reads of the process: the policy set (purposes, its version, the data
    map), the CRM tables (whether a subject exists) and the audit log."""

    @property
    def policy(self) -> PolicySet: ...

    @property
    def tables(self) -> CrmTables: ...

    @property
    def audit(self) -> AuditLog: ...


class ConsentService:
    """Consent for one unit of work, acting as ``actor``; audits through the runtime's log.

    When the actor is an application, ``held_purposes`` are the purposes its client holds:
    the service itself enforces what an application may record (none when not given), so no
    caller can forget the check."""

    def __init__(
        self,
        session: Session,
        runtime: ConsentParts,
        actor: Actor,
        *,
        request_id: str | None = None,
        held_purposes: Collection[str] | None = None,
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.purposes = runtime.policy.purposes
        self.actor = actor
        self.request_id = request_id
        self.held_purposes = frozenset(held_purposes or ())

    # -- writing -------------------------------------------------------------------------
    def record(self, new: NewConsentEvent) -> ConsentEvent:
        """Validate and record one event with its state and audit event."""
        self._validate(new)
        self._check_subjects([new.subject_id])
        self._check_current(new)
        self._check_authority(new)
        return self._write(new)

    def record_consent(
        self,
        subject_id: str,
        purpose: str,
        action: ConsentAction,
        source: ConsentSource,
        policy_version: str | None,
        evidence: str | None = None,
        *,
        gpc: bool = False,
    ) -> ConsentWrite:
        """A grant or withdrawal. With ``gpc`` (the request carried ``Sec-GPC: 1``) every
        purpose that sells or shares is opted out first (CCPA section 7025), except the one
        this same request explicitly grants: that grant is the customer's own, later choice
        (7025(c)(3) lets a consumer consent despite the signal)."""
        if action not in (ConsentAction.GRANT, ConsentAction.WITHDRAW):
            raise InvalidConsentEvent(
                "a consent write grants or withdraws", {"action": ["must be grant or withdraw"]}
            )
        new = NewConsentEvent(subject_id, action, source, purpose, policy_version, evidence)
        self._validate(new)
        self._check_subjects([subject_id])
        self._check_authority(new)
        opt_outs: list[ConsentEvent] = []
        if gpc:
            keep = purpose if action is ConsentAction.GRANT else None
            opt_outs = self.opt_out(
                subject_id, ConsentSource.GPC, policy_version, except_purpose=keep
            )
        return ConsentWrite(event=self._write(new), gpc_opt_outs=opt_outs)

    def opt_out(
        self,
        subject_id: str,
        source: ConsentSource,
        policy_version: str | None = None,
        *,
        except_purpose: str | None = None,
    ) -> list[ConsentEvent]:
        """Withdraw every purpose that sells or shares (CCPA opt-out), skipping those already
        withdrawn or objected to. Returns the events recorded."""
        self._check_subjects([subject_id])
        state = self.state(subject_id)
        events = []
        for purpose in self.purposes.selling_or_sharing():
            if purpose.id == except_purpose:
                continue
            if state.of(purpose.id).status in (ConsentStatus.WITHDRAWN, ConsentStatus.OBJECTED):
                continue
            new = NewConsentEvent(
                subject_id, ConsentAction.WITHDRAW, source, purpose.id, policy_version
            )
            self._validate(new, service=True)
            events.append(self._write(new))
        return events

    def object(
        self,
        subject_id: str,
        purpose: str,
        source: ConsentSource,
        policy_version: str | None = None,
        evidence: str | None = None,
    ) -> ConsentEvent:
        return self.record(
            NewConsentEvent(
                subject_id, ConsentAction.OBJECT, source, purpose, policy_version, evidence
            )
        )

    def lift_objection(
        self,
        subject_id: str,
        purpose: str,
        source: ConsentSource,
        policy_version: str | None = None,
        evidence: str | None = None,
    ) -> ConsentEvent:
        return self.record(
            NewConsentEvent(
                subject_id, ConsentAction.LIFT_OBJECTION, source, purpose, policy_version, evidence
            )
        )

    def restrict(
        self,
        subject_id: str,
        source: ConsentSource,
        policy_version: str | None = None,
        evidence: str | None = None,
    ) -> ConsentEvent:
        return self.record(
            NewConsentEvent(
                subject_id, ConsentAction.RESTRICT, source, None, policy_version, evidence
            )
        )

    def lift_restriction(
        self,
        subject_id: str,
        source: ConsentSource,
        policy_version: str | None = None,
        evidence: str | None = None,
    ) -> ConsentEvent:
        return self.record(
            NewConsentEvent(
                subject_id, ConsentAction.LIFT_RESTRICTION, source, None, policy_version, evidence
            )
        )

    def import_events(self, events: Sequence[NewConsentEvent]) -> int:
        """Record a history in bulk (oldest first): the demo, a migration from another
        system; the CLI and demo, never HTTP. The same validation as :meth:`record` except the
        checks against the current state and the sources reserved to officers and the GPC
        header; one audit event for the batch. Returns the number of events written."""
        if not events:
            return 0
        for new in events:
            # A trusted bulk path (not exposed over HTTP): history from elsewhere may carry
            # any source, GPC signals included.
            self._validate(new, service=True)
        self._check_subjects({e.subject_id for e in events})
        recorded_at = datetime.now(UTC)
        rows = [self._row(new, recorded_at) for new in events]
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        restrictions: dict[str, dict[str, Any]] = {}
        for new, row in zip(events, rows, strict=True):
            if new.purpose is not None:
                latest[(new.subject_id, new.purpose)] = _state_row(new, row)
            else:
                restrictions[new.subject_id] = _restriction_row(new, row)
        _upsert(self.session, STATE, list(latest.values()), ("subject_id", "purpose"))
        _upsert(self.session, RESTRICTIONS, list(restrictions.values()), ("subject_id",))
        self.session.execute(insert(EVENTS), rows)
        self._audit(
            AuditEvent(
                action=str(AuditAction.CONSENT_IMPORTED),
                actor=self.actor,
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                details={"count": len(rows), "rows": len(latest) + len(restrictions)},
            )
        )
        self.session.flush()
        return len(rows)

    def erase_subject(self, subject_id: str) -> int:
        """Delete the subject's consent history and state (GDPR erasure). The only deletion
        the append-only trigger lets through: it sees this transaction's permit for exactly
        this subject. Returns the number of events deleted."""
        if not isinstance(subject_id, str) or not SUBJECT_ID.match(subject_id):
            raise UnknownSubject()
        # An upsert: a resumed erasure step may run this twice in one transaction.
        _upsert(
            self.session,
            PERMITS,
            [{"subject_id": subject_id, "created_at": datetime.now(UTC)}],
            ("subject_id",),
        )
        result: Any = self.session.execute(delete(EVENTS).where(EVENTS.c.subject_id == subject_id))
        deleted = int(result.rowcount)
        self.session.execute(delete(STATE).where(STATE.c.subject_id == subject_id))
        self.session.execute(delete(RESTRICTIONS).where(RESTRICTIONS.c.subject_id == subject_id))
        self.session.execute(delete(PERMITS).where(PERMITS.c.subject_id == subject_id))
        self._audit(
            AuditEvent(
                action=str(AuditAction.CONSENT_ERASED),
                actor=self.actor,
                target=Target(subject_id=subject_id),
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                details={"count": deleted},
            )
        )
        self.session.flush()
        return deleted

    # -- reading -------------------------------------------------------------------------
    def state(self, subject_id: str) -> SubjectConsentState:
        """The subject's current state from the materialised tables (one indexed read each)."""
        return self.states([subject_id])[subject_id]

    def states(self, subject_ids: Iterable[str]) -> dict[str, SubjectConsentState]:
        ids = list(dict.fromkeys(subject_ids))
        purposes: dict[str, dict[str, PurposeConsent]] = {sid: {} for sid in ids}
        restricted: dict[str, Any] = {}
        if len(ids) == 1:  # the per-request case: one prepared statement, no IN list
            return {ids[0]: self.standing(ids[0]).state}
        for chunk in in_chunks(ids):
            for row in self.session.execute(
                select(
                    STATE.c.subject_id, STATE.c.purpose, STATE.c.status, STATE.c.at, STATE.c.source
                ).where(STATE.c.subject_id.in_(chunk))
            ):
                purposes[row.subject_id][row.purpose] = PurposeConsent(
                    ConsentStatus(row.status), as_utc(row.at), row.source
                )
            for row in self.session.execute(
                select(RESTRICTIONS).where(RESTRICTIONS.c.subject_id.in_(chunk))
            ):
                restricted[row.subject_id] = row
        result = {}
        for sid in ids:
            r = restricted.get(sid)
            result[sid] = SubjectConsentState(
                subject_id=sid,
                purposes=purposes[sid],
                restricted=bool(r.restricted) if r is not None else False,
                restricted_at=as_utc(r.at) if r is not None else None,
                restricted_source=r.source if r is not None else None,
            )
        return result

    def standing(self, subject_id: str) -> SubjectStanding:
        """The subject's consent state and erasure flags, in one prepared statement: what
        every read by id asks (:class:`SubjectStanding`)."""
        rows = _one_subject().rows(self.session, {"subject_id": subject_id})
        first = rows[0]  # always one row at least: the derived table has no FROM
        restricted = first["restricted"]
        return SubjectStanding(
            state=SubjectConsentState(
                subject_id=subject_id,
                purposes={
                    row["purpose"]: PurposeConsent(
                        ConsentStatus(row["status"]), as_utc(row["at"]), row["source"]
                    )
                    for row in rows
                    if row["purpose"] is not None
                },
                restricted=bool(restricted) if restricted is not None else False,
                restricted_at=as_utc(first["restricted_at"]) if restricted is not None else None,
                restricted_source=first["restricted_source"] if restricted is not None else None,
            ),
            erasing=bool(first["erasing"]),
            erasure_held=bool(first["erasure_held"]),
        )

    def history(self, subject_id: str) -> list[ConsentEvent]:
        """Every event of the subject, oldest first."""
        return list(
            self.session.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.subject_id == subject_id)
                .order_by(ConsentEvent.seq)
            )
        )

    def require_subject(self, subject_id: str) -> None:
        self._check_subjects([subject_id])

    # -- internals -----------------------------------------------------------------------
    def _purpose(self, purpose_id: str | None) -> Purpose:
        purpose = self.purposes.get(purpose_id) if isinstance(purpose_id, str) else None
        if purpose is None:
            raise UnknownPurpose(
                f"purposes.yaml declares no purpose {shown_name(purpose_id)}",
                {"purpose": [f"must be one of {', '.join(self.purposes.ids())}"]},
            )
        return purpose

    def _validate(self, new: NewConsentEvent, *, service: bool = False) -> None:
        errors: dict[str, list[str]] = {}
        if not isinstance(new.subject_id, str) or not SUBJECT_ID.match(new.subject_id):
            raise UnknownSubject()
        try:
            action = ConsentAction(new.action)
        except ValueError:
            errors["action"] = [f"must be one of {', '.join(a.value for a in ConsentAction)}"]
            action = None
        try:
            source = ConsentSource(new.source)
        except ValueError:
            errors["source"] = [f"must be one of {', '.join(s.value for s in ConsentSource)}"]
            source = None
        if source is ConsentSource.GPC and not service:
            errors["source"] = ["gpc is recorded from the Sec-GPC header, not claimed in a body"]
        elif (
            not service
            and source is not None
            and source not in APPLICATION_SOURCES
            and self.actor.role == "application"
        ):
            allowed = ", ".join(sorted(APPLICATION_SOURCES))
            errors["source"] = [f"an application records {allowed}"]
        if new.policy_version is not None and (
            not isinstance(new.policy_version, str) or not POLICY_VERSION.match(new.policy_version)
        ):
            errors["policy_version"] = ["a version label: letters, digits, '.', '_', ':', '+', '-'"]
        elif new.policy_version is None and action is ConsentAction.GRANT:
            errors["policy_version"] = ["a grant names the version of the notice the subject saw"]
        if new.evidence is not None and (
            not isinstance(new.evidence, str) or not EVIDENCE.match(new.evidence)
        ):
            errors["evidence"] = ["a reference (an id or a path) to stored evidence, not evidence"]
        if new.occurred_at is not None:
            if new.occurred_at.tzinfo is None:
                errors["occurred_at"] = ["must carry a time zone"]
            elif new.occurred_at > datetime.now(UTC) + CLOCK_SKEW:
                errors["occurred_at"] = ["must not be in the future"]
        if errors:
            raise InvalidConsentEvent("the consent event is not valid", errors)
        assert action is not None  # errors above otherwise
        if action in RESTRICTION_OUTCOME:
            if new.purpose is not None:
                raise InvalidConsentEvent(
                    "a restriction covers the subject, not one purpose",
                    {"purpose": ["must be absent for restrict and lift_restriction"]},
                )
            return
        purpose = self._purpose(new.purpose)
        if action in (ConsentAction.GRANT, ConsentAction.WITHDRAW) and not purpose.requires_consent:
            raise ConsentNotApplicable(
                f"purpose {purpose.id} rests on {purpose.legal_basis}, not consent: there is "
                "no consent to grant or withdraw"
                + (" (object to it instead)" if purpose.objectable else ""),
                {"purpose": [f"legal basis is {purpose.legal_basis}"]},
            )
        objecting = action in (ConsentAction.OBJECT, ConsentAction.LIFT_OBJECTION)
        if objecting and not purpose.objectable:
            raise ObjectionNotApplicable(
                f"an objection does not stop purpose {purpose.id} (legal basis "
                f"{purpose.legal_basis}; Art. 21 covers legitimate interests, public task and "
                "direct marketing, and not legal claims)"
                + (" - withdraw consent instead" if purpose.requires_consent else ""),
                {"purpose": [f"legal basis is {purpose.legal_basis}"]},
            )

    def _check_subjects(self, subject_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(subject_ids))
        for sid in ids:
            if not isinstance(sid, str) or not SUBJECT_ID.match(sid):
                raise UnknownSubject()
        table = self.runtime.tables[self.runtime.policy.datamap.subject_collection]
        column = table.c[ID_COLUMN]
        found: set[str] = set()
        for chunk in in_chunks(ids):
            found.update(self.session.scalars(select(column).where(column.in_(chunk))))
        if len(found) != len(ids):
            raise UnknownSubject()

    def _check_current(self, new: NewConsentEvent) -> None:
        action = ConsentAction(new.action)
        if action is ConsentAction.LIFT_OBJECTION:
            assert new.purpose is not None  # validated
            if self.state(new.subject_id).of(new.purpose).status is not ConsentStatus.OBJECTED:
                raise NotObjected(f"the subject has no standing objection to {new.purpose}")
        elif action is ConsentAction.LIFT_RESTRICTION:
            if not self.state(new.subject_id).restricted:
                raise NotRestricted("the subject's processing is not restricted")

    def _check_authority(self, new: NewConsentEvent) -> None:
        """An application's event: its own purposes only, and a loosening judged against
        the latest protected event of the history (403 otherwise). Officers and the service
        itself may record anything valid."""
        if self.actor.role != "application":
            return
        action = str(new.action)
        protected = None
        if new.purpose is not None and action in LOOSENING_ACTIONS:
            protected = latest_protected(self.session, new.subject_id, new.purpose)
        check_application_change(
            action=action,
            purpose=new.purpose,
            held_purposes=self.held_purposes,
            protected=protected,
        )

    def _row(self, new: NewConsentEvent, recorded_at: datetime) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "subject_id": new.subject_id,
            "purpose": new.purpose,
            "action": str(new.action),
            "source": str(new.source),
            "policy_version": new.policy_version,
            "evidence": new.evidence,
            "occurred_at": new.occurred_at or recorded_at,
            "recorded_at": recorded_at,
            "actor_id": self.actor.id,
        }

    def _write(self, new: NewConsentEvent) -> ConsentEvent:
        row = self._row(new, datetime.now(UTC))
        # State first: on PostgreSQL the upsert locks the key's row, so concurrent writers of
        # one key take their seq (below) in the order they update the state.
        if new.purpose is not None:
            _upsert(self.session, STATE, [_state_row(new, row)], ("subject_id", "purpose"))
        else:
            _upsert(self.session, RESTRICTIONS, [_restriction_row(new, row)], ("subject_id",))
        event = ConsentEvent(**row)
        self.session.add(event)
        self.session.flush()
        self._audit(
            AuditEvent(
                action=str(AUDIT_ACTIONS[ConsentAction(new.action)]),
                actor=self.actor,
                target=Target(subject_id=new.subject_id, record_id=event.id),
                purpose=new.purpose,
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                details={"type": str(new.action), "source": str(new.source)},
            )
        )
        return event

    def _audit(self, event: AuditEvent) -> None:
        self.runtime.audit.record(self.session, event)


def _state_row(new: NewConsentEvent, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject_id": new.subject_id,
        "purpose": new.purpose,
        "status": str(PURPOSE_OUTCOME[ConsentAction(new.action)]),
        "at": row["occurred_at"],
        "source": row["source"],
        "event_id": row["id"],
    }


def _restriction_row(new: NewConsentEvent, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject_id": new.subject_id,
        "restricted": RESTRICTION_OUTCOME[ConsentAction(new.action)],
        "at": row["occurred_at"],
        "source": row["source"],
        "event_id": row["id"],
    }


# -- filtering many subjects inside a query ------------------------------------------------


def erasing_subjects(purpose: Purpose | None = None) -> Select[Any]:
    """The ids of subjects with an erasure request in progress or failed (to be resumed);
    with ``purpose``, the subjects that purpose may not process because of an erasure:
    also those whose erasure waits on a legal hold, unless the purpose serves legal claims.
    A hold keeps the data for the claims it was placed for (Art. 17(3)(e)); the erasure
    still stands, so nothing else may use it meanwhile."""
    statuses: tuple[str, ...] = ERASING_STATUSES
    if _holds_block(purpose):
        statuses = (*ERASING_STATUSES, *HELD_STATUSES)
    table = DsrRequest.__table__
    return select(table.c.subject_id).where(
        table.c.type == "erasure", table.c.status.in_(statuses), table.c.subject_id.is_not(None)
    )


def _holds_block(purpose: Purpose | None) -> bool:
    """Whether an erasure waiting on a legal hold stops ``purpose``: every purpose but
    legal claims (no purpose given: the erasures under way only)."""
    return purpose is not None and purpose.restriction_exemption is not (
        RestrictionExemption.LEGAL_CLAIMS
    )


#: Request statuses in which an erasure has begun and the subject must not be served.
ERASING_STATUSES = ("in_progress", "failed")
#: Request statuses in which an erasure waits on a legal hold: only legal claims are served.
HELD_STATUSES = ("on_hold",)


def processable_clause(
    subject_id: ColumnElement[Any], purpose: Purpose, *, dialect: str
) -> ColumnElement[bool]:
    """An SQL condition: the subject in ``subject_id`` may be processed for ``purpose`` now.

    The same rule as :func:`policies.consent.may_process`: not restricted unless the purpose
    is exempt; a current grant where the purpose needs consent; no standing objection where
    an objection stops it. For the WHERE clause of the query that reads the rows (never a
    filter after fetching); ``dialect`` is ``session.get_bind().dialect.name``.

    The SQL differs by backend, with the same answers (a test runs both forms on both):
    PostgreSQL plans ``EXISTS`` / ``NOT EXISTS`` as hash semi- and anti-joins at any size.
    SQLite has no hash join and evaluates a correlated ``EXISTS`` per row, a B-tree probe
    into the state table; ``IN (SELECT ...)`` it materialises once into an ephemeral index,
    which is cheaper to probe, and the blocking sets (restrictions, objections) are small.
    (On PostgreSQL ``NOT IN`` would not become an anti-join, hence the two forms.)

    A row without a subject (an anonymised row) is processable unless the purpose needs
    consent: it is no longer about anyone.
    """
    granted = None
    # A subject whose erasure is being executed (or failed half-way and waits to be resumed)
    # is processable for no purpose at all, exempt ones included: Art. 17 leaves nothing
    # to serve from the moment the officer set the erasure going. One whose erasure waits
    # on a legal hold is processable for legal claims only.
    blocking = [erasing_subjects(purpose)]
    if not purpose.exempt_from_restriction:
        blocking.append(
            select(RESTRICTIONS.c.subject_id).where(RESTRICTIONS.c.restricted == true())
        )
    if purpose.requires_consent:
        granted = select(STATE.c.subject_id).where(
            STATE.c.purpose == purpose.id, STATE.c.status == str(ConsentStatus.GRANTED)
        )
    elif purpose.objectable:
        blocking.append(
            select(STATE.c.subject_id).where(
                STATE.c.purpose == purpose.id, STATE.c.status == str(ConsentStatus.OBJECTED)
            )
        )
    conditions: list[ColumnElement[bool]] = []
    if dialect == "sqlite":
        if granted is not None:
            conditions.append(subject_id.in_(granted))
        if blocking:
            blocked = blocking[0] if len(blocking) == 1 else union_all(*blocking)
            not_blocked: ColumnElement[bool] = subject_id.not_in(blocked)
            if granted is None and getattr(subject_id, "nullable", True):
                not_blocked = or_(subject_id.is_(None), not_blocked)
            conditions.append(not_blocked)
    else:
        if granted is not None:
            conditions.append(exists(granted.where(STATE.c.subject_id == subject_id)))
        for query in blocking:
            table = query.selected_columns[0].table
            conditions.append(~exists(query.where(table.c.subject_id == subject_id)))
    return and_(true(), *conditions)


# -- the history is the truth: recompute the state from it ----------------------------------


@dataclass(frozen=True)
class StateDifference:
    key: str  # "<subject_id>/<purpose>" or "<subject_id>/restriction"
    stored: tuple[Any, ...] | None
    computed: tuple[Any, ...] | None


def computed_state(
    session: Session,
) -> tuple[dict[tuple[str, str], tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """Fold the whole history in ``seq`` order: the latest event of each key wins."""
    purposes: dict[tuple[str, str], tuple[Any, ...]] = {}
    restrictions: dict[str, tuple[Any, ...]] = {}
    rows = session.execute(
        select(
            EVENTS.c.subject_id,
            EVENTS.c.purpose,
            EVENTS.c.action,
            EVENTS.c.occurred_at,
            EVENTS.c.source,
            EVENTS.c.id,
        )
        .order_by(EVENTS.c.seq)
        .execution_options(yield_per=10_000)
    )
    for sid, purpose, action, at, source, event_id in rows:
        act = ConsentAction(action)
        if purpose is not None:
            purposes[(sid, purpose)] = (str(PURPOSE_OUTCOME[act]), as_utc(at), source, event_id)
        else:
            restrictions[sid] = (RESTRICTION_OUTCOME[act], as_utc(at), source, event_id)
    return purposes, restrictions


def stored_state(
    session: Session,
) -> tuple[dict[tuple[str, str], tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    purposes = {
        (r.subject_id, r.purpose): (r.status, as_utc(r.at), r.source, r.event_id)
        for r in session.execute(select(STATE))
    }
    restrictions = {
        r.subject_id: (bool(r.restricted), as_utc(r.at), r.source, r.event_id)
        for r in session.execute(select(RESTRICTIONS))
    }
    return purposes, restrictions


def state_differences(session: Session) -> list[StateDifference]:
    """Where the materialised state disagrees with the history (empty when they agree)."""
    want_purposes, want_restrictions = computed_state(session)
    have_purposes, have_restrictions = stored_state(session)
    found = []
    for key in sorted(set(want_purposes) | set(have_purposes)):
        if want_purposes.get(key) != have_purposes.get(key):
            found.append(
                StateDifference("/".join(key), have_purposes.get(key), want_purposes.get(key))
            )
    for sid in sorted(set(want_restrictions) | set(have_restrictions)):
        if want_restrictions.get(sid) != have_restrictions.get(sid):
            found.append(
                StateDifference(
                    f"{sid}/restriction", have_restrictions.get(sid), want_restrictions.get(sid)
                )
            )
    return found


def rebuild_state(session: Session) -> int:
    """Replace the materialised state with the one computed from the history; returns the
    number of state rows written. Run it after restoring the history from a backup, or if
    :func:`state_differences` reports anything."""
    purposes, restrictions = computed_state(session)
    session.execute(delete(STATE))
    session.execute(delete(RESTRICTIONS))
    state_rows = [
        {
            "subject_id": sid,
            "purpose": p,
            "status": v[0],
            "at": v[1],
            "source": v[2],
            "event_id": v[3],
        }
        for (sid, p), v in purposes.items()
    ]
    restriction_rows = [
        {"subject_id": sid, "restricted": v[0], "at": v[1], "source": v[2], "event_id": v[3]}
        for sid, v in restrictions.items()
    ]
    for rows, table in ((state_rows, STATE), (restriction_rows, RESTRICTIONS)):
        for at in range(0, len(rows), 10_000):
            session.execute(insert(table), rows[at : at + 10_000])
    session.flush()
    return len(state_rows) + len(restriction_rows)
