"""CRM reads and writes through policy: what applications live on.

Per request: the pure evaluator decides (purpose, collection, fields); the store selects only
the returned fields and decrypts only those; rows of subjects who may not be processed for
the purpose are excluded inside the SQL query (lists) or refused with the reason (by id);
masks are applied; free-text writes pass the PII check the policy names; one audit event
records what was returned (ids or a count and digest, field names, masked fields, policy
version). A refusal carries its own audit event, recorded by the request after rollback.
"""

from __future__ import annotations

import builtins
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Outcome, Target
from governance.access.errors import AccessDenied
from governance.access.masks import Masker
from governance.audit_actions import AuditAction
from governance.consent.services import SubjectStanding, erasing_subjects, processable_clause
from governance.retention.rules import RetentionFilter
from governance.store.errors import RecordNotFound, UnknownFields
from governance.store.services import Page, Record, RecordStore
from policies.access import SYSTEM_FIELDS, Effect, FreeTextPii
from policies.consent import SubjectConsentState
from policies.engine import AccessRequest, Action, Decision, PolicyEngine
from policies.loader import PolicySet
from policies.types import ID_COLUMN, SUBJECT_COLUMN


@dataclass(frozen=True)
class Caller:
    """The application asking: its client id, role and the purposes it may use."""

    client_id: str
    role: str
    purposes: frozenset[str]

    @property
    def actor(self) -> Actor:
        return Actor(id=self.client_id, role=self.role)


@dataclass(frozen=True)
class ReadResult:
    body: dict[str, Any]
    decision: Decision


@dataclass(frozen=True)
class ListResult:
    items: list[dict[str, Any]]
    next_after: str | None
    decision: Decision


class DataAccessService:
    def __init__(
        self,
        session: Session,
        store: RecordStore,
        policy: PolicySet,
        engine: PolicyEngine,
        masker: Masker,
        consent_states: Callable[[Iterable[str]], Mapping[str, SubjectConsentState]],
        write_checker: Callable[[], Any],
        record_audit: Callable[[AuditEvent], None],
        caller: Caller,
        request_id: str | None = None,
        suppressed: Callable[[str, Mapping[str, Any], str], bool] | None = None,
        retention: RetentionFilter | None = None,
        subject_standing: Callable[[str], SubjectStanding] | None = None,
    ) -> None:
        self.session = session
        self.store = store
        self.policy = policy
        self.engine = engine
        self.masker = masker
        self.consent_states = consent_states
        self.write_checker = write_checker
        self.record_audit = record_audit
        self.caller = caller
        self.request_id = request_id
        # After an erasure: does a write recreate an erased subject? (audits a match)
        self.suppressed = suppressed
        # The data map's retention rules on the read path (None: not enforced, tests only).
        self.retention = retention
        # A subject's consent state with its erasure and hold flags in one prepared
        # statement (ConsentService.standing); None: the state and _being_erased apart.
        self.subject_standing = subject_standing

    # -- decisions ------------------------------------------------------------------------
    def _decide(
        self,
        action: AuditAction,
        collection: str,
        purpose: str,
        kind: Action,
        fields: tuple[str, ...] | None,
        subject: SubjectConsentState | None = None,
        target: Target | None = None,
    ) -> Decision:
        self.store.collection(collection)  # unknown collection: 404 before any decision
        decision = self.engine.evaluate(
            AccessRequest(
                client_id=self.caller.client_id,
                client_purposes=self.caller.purposes,
                purpose=purpose,
                collection=collection,
                action=kind,
                fields=fields,
                subject=subject,
            )
        )
        if not decision.allowed:
            denial = decision.denial or "policy"
            raise _denied(
                decision,
                denial,
                self._event(
                    action,
                    collection,
                    purpose,
                    decision,
                    target or Target(collection=collection),
                    outcome=Outcome.DENIED,
                    reason=_reason_code(denial),
                ),
            )
        return decision

    def _event(
        self,
        action: AuditAction,
        collection: str,
        purpose: str,
        decision: Decision,
        target: Target,
        *,
        outcome: Outcome = Outcome.ALLOWED,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        subjects: tuple[str, ...] = (),
    ) -> AuditEvent:
        return AuditEvent(
            action=str(action),
            actor=self.caller.actor,
            outcome=outcome,
            target=target,
            purpose=purpose if purpose in self.policy.purposes else None,
            reason=reason,
            policy_version=decision.policy_version,
            request_id=self.request_id,
            details=dict(details or {}),
            subjects=subjects,
        )

    # -- reads ----------------------------------------------------------------------------
    def _known(self, collection: str, fields: tuple[str, ...] | None) -> None:
        spec = self.store.collection(collection)
        unknown = [f for f in fields or () if f not in spec.fields and f not in SYSTEM_FIELDS]
        if unknown:
            raise UnknownFields(collection, unknown)

    def _addressable_by_id(self, collection: str, purpose: str) -> None:
        """A purpose addresses records by the id form it is shown. One that sees ids only
        hashed cannot read or change a record by its raw id, which would confirm which raw
        id a hashed one stands for; it is answered exactly as an id that does not exist."""
        access = self.policy.access.access(purpose, collection)
        shown = access.read.get(ID_COLUMN) if access is not None else None
        if shown is None or shown.effect is not Effect.ALLOW:
            raise RecordNotFound(collection)

    def read(
        self, collection: str, record_id: str, purpose: str, fields: tuple[str, ...] | None = None
    ) -> ReadResult:
        self._known(collection, fields)
        decision = self._decide(
            AuditAction.DATA_READ,
            collection,
            purpose,
            Action.READ,
            fields,
            target=Target(collection=collection, record_id=_id_or_none(record_id)),
        )
        self._addressable_by_id(collection, purpose)
        subject_id: str | None = None

        def may_process(owner: str | None) -> None:
            nonlocal decision, subject_id
            subject_id = owner
            if owner is not None:
                state, erased = self._standing(owner, purpose)
                target = Target(
                    collection=collection, record_id=_id_or_none(record_id), subject_id=owner
                )
                decision = self._decide(
                    AuditAction.DATA_READ,
                    collection,
                    purpose,
                    Action.READ,
                    fields,
                    state,
                    target,
                )
                if erased:
                    refusal = Decision(
                        False,
                        "subject: an erasure of this subject is being "
                        "executed or waits on a legal hold; it is processed "
                        "for no purpose but legal claims while it waits",
                        decision.policy_version,
                        "erasure",
                    )
                    raise _denied(
                        refusal,
                        "erasure",
                        self._event(
                            AuditAction.DATA_READ,
                            collection,
                            purpose,
                            refusal,
                            target,
                            outcome=Outcome.DENIED,
                            reason=_reason_code("erasure"),
                        ),
                    )

        def expired(owner: str | None) -> None:
            target = Target(
                collection=collection, record_id=_id_or_none(record_id), subject_id=owner
            )
            refusal = Decision(
                False,
                f"retention: the record is past the retention period "
                f"of the data map; purpose {purpose} may not read it",
                decision.policy_version,
                "retention",
            )
            raise _denied(
                refusal,
                "retention",
                self._event(
                    AuditAction.DATA_READ,
                    collection,
                    purpose,
                    refusal,
                    target,
                    outcome=Outcome.DENIED,
                    reason=_reason_code("retention"),
                ),
            )

        # The row (404 if none), then the subject's consent and the record's retention, then
        # decryption of what is returned.
        record = self.store.get(
            collection,
            record_id,
            decision.returned,
            check=may_process,
            retention=self._retention_for(purpose),
            on_expired=expired,
        )
        body = self._masked(record, decision)
        self.record_audit(
            self._event(
                AuditAction.DATA_READ,
                collection,
                purpose,
                decision,
                Target(
                    collection=collection, record_id=_id_or_none(record_id), subject_id=subject_id
                ),
                details=self._field_details(decision),
            )
        )
        return ReadResult(body, decision)

    def list(
        self,
        collection: str,
        purpose: str,
        *,
        fields: tuple[str, ...] | None = None,
        subject_id: str | None = None,
        email: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> ListResult:
        self._known(collection, fields)
        decision = self._decide(AuditAction.DATA_LISTED, collection, purpose, Action.READ, fields)
        spec = self.store.collection(collection)
        self._filters_allowed(decision, collection, purpose, subject_id, email)
        purpose_spec = self.policy.purposes.get(purpose)
        assert purpose_spec is not None  # the decision allowed it
        dialect = self.session.get_bind().dialect.name
        keep: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None
        if spec.is_subject or spec.has_subject_column:

            def keep(owner: ColumnElement[Any]) -> ColumnElement[bool]:
                return processable_clause(owner, purpose_spec, dialect=dialect)

        lookup = {"email": email} if email is not None else None
        page: Page = self.store.list(
            collection,
            decision.returned,
            subject_id=subject_id,
            lookup=lookup,
            after=after,
            limit=limit,
            where=keep,
            retention=self._retention_for(purpose),
        )
        items = [self._masked(r, decision) for r in page.items]
        ids = [r.id for r in page.items]
        self.record_audit(
            self._event(
                AuditAction.DATA_LISTED,
                collection,
                purpose,
                decision,
                Target(collection=collection, subject_id=_id_or_none(subject_id)),
                details={
                    **self._field_details(decision),
                    "count": len(ids),
                    "digest": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
                },
                # Whose records the page returned: the log's subject index, so that the
                # events of a subject include every list that showed them.
                subjects=tuple(r.subject_id for r in page.items if r.subject_id is not None),
            )
        )
        return ListResult(items, page.next_after, decision)

    def _retention_for(self, purpose: str) -> RetentionFilter | None:
        """The retention filter, unless the purpose reads records past their period (a
        legal obligation to keep them, legal claims)."""
        spec = self.policy.purposes.get(purpose)
        return None if spec is None or spec.retention_exempt else self.retention

    def _standing(self, subject_id: str, purpose: str) -> tuple[SubjectConsentState, bool]:
        """The subject's consent state, and whether an erasure (or one waiting on a legal
        hold) stops ``purpose`` from processing it: on every read by id, so one prepared
        statement when the runtime gives ``subject_standing`` (it always does), instead of
        the state's read and a query built per request (issue 27)."""
        if self.subject_standing is None:
            return self.consent_states([subject_id])[subject_id], self._being_erased(
                subject_id, purpose
            )
        standing = self.subject_standing(subject_id)
        return standing.state, standing.erased_for(self.policy.purposes.get(purpose))

    def _being_erased(self, subject_id: str, purpose: str) -> bool:
        erasing = erasing_subjects(self.policy.purposes.get(purpose))
        table = erasing.selected_columns[0].table
        return (
            self.session.execute(erasing.where(table.c.subject_id == subject_id).limit(1)).first()
            is not None
        )

    def _filters_allowed(
        self,
        decision: Decision,
        collection: str,
        purpose: str,
        subject_id: str | None,
        email: str | None,
    ) -> None:
        """A filter is an oracle: a purpose that sees ids only hashed (or no email) must not
        learn which raw id (or email) a record has by filtering on it."""
        access = self.policy.access.access(purpose, collection)
        assert access is not None
        for name, used in ((SUBJECT_COLUMN, subject_id), ("email", email)):
            if used is None:
                continue
            d = access.read.get(name)
            if d is None or d.effect is not Effect.ALLOW:
                reason = (
                    f"field {name}: cannot filter on it ("
                    f"{d.reason if d is not None else 'not a field of ' + collection})"
                )
                raise _denied(
                    Decision(False, reason, decision.policy_version, "field"),
                    "field",
                    self._event(
                        AuditAction.DATA_LISTED,
                        collection,
                        purpose,
                        decision,
                        Target(collection=collection),
                        outcome=Outcome.DENIED,
                        reason=_reason_code("field"),
                    ),
                )

    def _masked(self, record: Record, decision: Decision) -> dict[str, Any]:
        body = record.as_json()
        for name, d in decision.fields.items():
            if name not in body:
                continue
            if d.effect is Effect.MASK and d.mask is not None:
                body[name] = self.masker.apply(d.mask, body[name])
            elif d.effect is Effect.DENY:  # a denied system field never leaves
                del body[name]
        return body

    @staticmethod
    def _field_details(decision: Decision) -> dict[str, Any]:
        return {"fields": list(decision.returned), "masked_fields": list(decision.masked)}

    # -- writes ---------------------------------------------------------------------------
    def create(self, collection: str, purpose: str, values: Mapping[str, Any]) -> ReadResult:
        spec = self.store.collection(collection)
        # The store issues ids, and a subject record is its own subject: a client that sends
        # either expects it to be kept, so it is refused rather than silently dropped.
        issued = [
            k
            for k in values
            if k == ID_COLUMN or (k == SUBJECT_COLUMN and not spec.has_subject_column)
        ]
        if issued:
            raise UnknownFields(collection, issued)
        subject_id = values.get(SUBJECT_COLUMN)
        fields = {k: v for k, v in values.items() if k not in (ID_COLUMN, SUBJECT_COLUMN)}
        target = Target(collection=collection, subject_id=_id_or_none(subject_id))
        self._known(collection, tuple(fields))
        decision = self._decide(
            AuditAction.DATA_CREATED,
            collection,
            purpose,
            Action.WRITE,
            tuple(fields),
            target=target,
        )
        # Before the first use of the store, which on SQLite takes the write lock.
        cleaned, redacted = self._pii_checked(collection, purpose, fields)
        if spec.has_subject_column and isinstance(subject_id, str):
            self.store.require_subject(subject_id)
            state = self.consent_states([subject_id])[subject_id]
            decision = self._decide(
                AuditAction.DATA_CREATED,
                collection,
                purpose,
                Action.WRITE,
                tuple(fields),
                state,
                target,
            )
            self._refuse_write_while_erasing(
                AuditAction.DATA_CREATED, collection, purpose, decision, subject_id, target
            )
        record = self.store.create(
            collection, cleaned, subject_id=subject_id if isinstance(subject_id, str) else None
        )
        owner = record.id if spec.is_subject else record.subject_id
        self.record_audit(
            self._event(
                AuditAction.DATA_CREATED,
                collection,
                purpose,
                decision,
                Target(collection=collection, record_id=record.id, subject_id=owner),
                details={"fields": sorted(fields), "redacted_fields": redacted},
            )
        )
        body: dict[str, Any] = {"id": record.id}
        if redacted:
            body["redacted_fields"] = redacted
        if self.suppressed is not None:
            # Neither refused nor flagged to the application: the person may have come back
            # on their own, and a flag in this answer would let any application test
            # whether someone was erased. The match is audited against the new subject and
            # shown to compliance officers (their queue and subject look-up), who decide.
            self.suppressed(collection, cleaned, record.id)
        return ReadResult(body, decision)

    def update(
        self, collection: str, record_id: str, purpose: str, changes: Mapping[str, Any]
    ) -> ReadResult:
        target = Target(collection=collection, record_id=_id_or_none(record_id))
        self._known(collection, tuple(changes))
        decision = self._decide(
            AuditAction.DATA_UPDATED,
            collection,
            purpose,
            Action.WRITE,
            tuple(changes),
            target=target,
        )
        self._addressable_by_id(collection, purpose)
        # Before the first use of the store, which on SQLite takes the write lock.
        cleaned, redacted = self._pii_checked(collection, purpose, changes)
        subject_id = self.store.owner(collection, record_id)
        target = Target(
            collection=collection, record_id=_id_or_none(record_id), subject_id=subject_id
        )
        if subject_id is not None:
            state = self.consent_states([subject_id])[subject_id]
            decision = self._decide(
                AuditAction.DATA_UPDATED,
                collection,
                purpose,
                Action.WRITE,
                tuple(changes),
                state,
                target,
            )
            self._refuse_write_while_erasing(
                AuditAction.DATA_UPDATED, collection, purpose, decision, subject_id, target
            )
        retention = self._retention_for(purpose)
        if retention is not None:
            # A record past its period is not changed either: a write would restart the
            # period it runs from (``updated_at``) and keep what should be gone.
            def expired(owner: str | None) -> None:
                refusal = Decision(
                    False,
                    f"retention: the record is past the retention "
                    f"period of the data map; purpose {purpose} may not "
                    "change it",
                    decision.policy_version,
                    "retention",
                )
                raise _denied(
                    refusal,
                    "retention",
                    self._event(
                        AuditAction.DATA_UPDATED,
                        collection,
                        purpose,
                        refusal,
                        target,
                        outcome=Outcome.DENIED,
                        reason=_reason_code("retention"),
                    ),
                )

            self.store.get(collection, record_id, (), retention=retention, on_expired=expired)
        self.store.update(collection, record_id, cleaned)
        read = self.engine.evaluate(
            AccessRequest(
                client_id=self.caller.client_id,
                client_purposes=self.caller.purposes,
                purpose=purpose,
                collection=collection,
                action=Action.READ,
            )
        )
        body: dict[str, Any] = (
            self._masked(self.store.get(collection, record_id, read.returned), read)
            if read.allowed
            else {"id": record_id}
        )
        if redacted:
            body["redacted_fields"] = redacted
        self.record_audit(
            self._event(
                AuditAction.DATA_UPDATED,
                collection,
                purpose,
                decision,
                target,
                details={"fields": sorted(changes), "redacted_fields": redacted},
            )
        )
        return ReadResult(body, decision)

    def _refuse_write_while_erasing(
        self,
        action: AuditAction,
        collection: str,
        purpose: str,
        decision: Decision,
        subject_id: str,
        target: Target,
    ) -> None:
        """403 ``erasure`` for a write to a subject whose erasure is executing, failed (to
        be resumed) or waits on a legal hold: the same states in which reads are refused,
        and the same exemption (a legal-claims purpose, while the erasure is held). A write
        would put back what the erasure deletes, or add rows it has already passed; kept
        apart from the read path, which asks the same question in its own way."""
        erasing = erasing_subjects(self.policy.purposes.get(purpose))
        table = erasing.selected_columns[0].table
        if (
            self.session.execute(erasing.where(table.c.subject_id == subject_id).limit(1)).first()
            is None
        ):
            return
        refusal = Decision(
            False,
            "subject: an erasure of this subject is being executed or "
            "waits on a legal hold; nothing may be written for them while it "
            "stands",
            decision.policy_version,
            "erasure",
        )
        raise _denied(
            refusal,
            "erasure",
            self._event(
                action,
                collection,
                purpose,
                refusal,
                target,
                outcome=Outcome.DENIED,
                reason=_reason_code("erasure"),
            ),
        )

    def _pii_checked(
        self, collection: str, purpose: str, values: Mapping[str, Any]
    ) -> tuple[dict[str, Any], builtins.list[str]]:
        """The values to store after the PII check of their free text. It runs before the
        write's first use of the store: analysis grows with the text, and a lock held
        meanwhile would make every other write wait (issue 14 item 5)."""
        spec = self.store.collection(collection)
        if not any(spec.fields[n].free_text for n in values if n in spec.fields):
            return dict(values), []
        access = self.policy.access.purposes[purpose]
        on_pii = "refuse" if access.free_text_pii is FreeTextPii.REFUSE else "redact"
        result = self.write_checker().enforce(collection, values, on_pii)
        return dict(result.values), sorted({f.field for f in result.findings})


def _denied(decision: Decision, denial: str, event: AuditEvent) -> AccessDenied:
    error = AccessDenied(decision.reason, denial, decision.policy_version)
    error.audit_event = event
    return error


def _reason_code(denial: str) -> str:
    return f"denied: {denial}"


_STORE_ID = re.compile(r"^[0-9a-f]{32}$")


def _id_or_none(value: Any) -> str | None:
    """A client-supplied id for the audit event, or None unless it has the shape the store
    issues (32 hex digits): a looser "identifier" would let an IBAN or a phone number sent
    in place of an id into the append-only log."""
    return value if isinstance(value, str) and _STORE_ID.match(value) else None
