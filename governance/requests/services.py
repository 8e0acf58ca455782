"""Data-subject requests: intake, the officer's workflow, and crash-safe execution.

``RequestService`` works in the caller's unit of work (flush, never commit): intake (subject
by email through the blind index, or by id; due time by regulation; duplicates refused),
verification, rejection, extension, the start of execution (which records the plan: one
step row per step), the queue and the export download. Every transition is audited with the
acting officer's client id, in the same transaction.

``RequestExecutor`` runs the recorded steps of a started request from the first unfinished
one, each committed with its ``done`` mark and audit event (consecutive database-only steps
share a transaction; the key shred has one of its own); it is what the
task runner runs after the request that started it commits (a thread on the embedded
default, a queue worker when one is configured), and what ``governance requests execute``
runs to resume a request a crash interrupted.

    received -> verified -> in_progress -> completed | failed      (or -> rejected)
    (a CCPA opt-out may go received -> in_progress: it needs no verification;
     a failed request may be executed again: it resumes from its first unfinished step)
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from audit.events import Actor, AuditEvent, Outcome, Target
from governance.audit_actions import AuditAction
from governance.consent.services import SUBJECT_ID, ConsentService, ConsentSource
from governance.db import unit_of_work
from governance.errors import shown_name
from governance.jobs.after_commit import AfterCommit
from governance.jobs.service import JobKind, Jobs
from governance.keys.shredding import shred_subject
from governance.requests import erasure
from governance.requests.deadlines import (
    RIGHTS,
    ExtensionReason,
    Regulation,
    RequestType,
    due_at,
    extendable,
    needs_verification,
)
from governance.requests.errors import (
    AmbiguousSubject,
    DuplicateRequest,
    ExportExpired,
    ExportNotAvailable,
    ExtensionTooLate,
    InvalidRequest,
    InvalidTransition,
    NotExtendable,
    NotVerified,
    RequestNotFound,
)
from governance.requests.export import (
    DETAILS_KEY_LABEL,
    EXPORT_KEY_LABEL,
    build_export,
    digest,
    open_sealed,
    seal,
)
from governance.requests.failures import FailureReason, StepFailed, failure_reason
from governance.requests.models import (
    OPEN_STATUSES,
    DsrExport,
    DsrRequest,
    DsrStep,
    RequestStatus,
    StepState,
)
from governance.requests.suppression import returned_subjects
from governance.retention.holds import blocking_hold
from governance.shared import Shared
from governance.store.errors import RecordNotFound
from governance.store.values import InvalidValue, coerce, format_datetime
from governance.timestamps import as_utc
from policies.types import ID_COLUMN, SYSTEM_COLUMNS

# Exports are kept 30 days after they are made: long enough to send the copy to the subject
# (and for the subject to fetch it from a secure link), short enough that a decrypted copy
# of everything about a person does not linger (Art. 5(1)(c), (e)). Then they are deleted.
EXPORT_RETENTION = timedelta(days=30)
# How an identity may be verified: a closed list, because the method is recorded in the
# append-only audit log, where free text ("phone call to <name>") could never be erased.
VERIFICATION_METHODS = (
    "account_login",
    "email_code",
    "sms_code",
    "signed_letter",
    "id_document",
    "in_person",
    "authorised_agent",
)
MAX_REASON = 2000
MAX_CORRECTIONS = 50
# Subjects named when an identity value matches several (a store with old duplicates).
MAX_MATCHES_SHOWN = 50
CLOCK_SKEW = timedelta(minutes=5)
EXPORT_TYPES = (RequestType.ACCESS, RequestType.PORTABILITY)

Checkpoint = Callable[[str, str], None]
# Steps whose effect lies outside this database; each runs in a transaction of its own.
EXTERNAL_STEPS = frozenset({"shred"})
BATCH_ROWS = 5000


def _now() -> datetime:
    return datetime.now(UTC)


def method_slug(raw: Any) -> str:
    """ "email code" -> "email_code", one of :data:`VERIFICATION_METHODS`."""
    if not isinstance(raw, str):
        raise InvalidRequest("name the verification method", {"method": ["must be a string"]})
    slug = re.sub(r"[\s\-]+", "_", raw.strip().lower())
    if slug not in VERIFICATION_METHODS:
        raise InvalidRequest(
            "the verification method is not one this service records",
            {"method": [f"one of: {', '.join(VERIFICATION_METHODS)}"]},
        )
    return slug


@dataclass(frozen=True)
class QueueFilter:
    """Which requests the queue shows. With no ``statuses`` only open requests are shown:
    the officer's queue is what still needs an answer."""

    statuses: tuple[str, ...] = ()
    overdue: bool | None = None
    due_within_days: int | None = None
    types: tuple[str, ...] = ()
    regulations: tuple[str, ...] = ()
    #: Requests about one person: an e-mail (matched through its blind index, never stored),
    #: a subject id or a request id (the console's search box).
    search: str | None = None


@dataclass(frozen=True)
class QueueCounts:
    """Open requests by urgency: past due, due within the "soon" window, and the rest."""

    overdue: int
    due_soon: int
    on_time: int


class RequestService:
    """The officer's side of requests, in the caller's unit of work."""

    def __init__(
        self, session: Session, runtime: Shared, actor: Actor, *, request_id: str | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.actor = actor
        self.request_id = request_id
        self.datamap = runtime.policy.datamap

    # -- intake ---------------------------------------------------------------------------
    def create(
        self,
        request_type: str,
        regulation: str,
        subject: Mapping[str, Any],
        details: Mapping[str, Any] | None = None,
        received_at: datetime | None = None,
    ) -> DsrRequest:
        kind, law = self._kind(request_type, regulation)
        now = _now()
        received = as_utc(received_at) or now
        if received > now + CLOCK_SKEW:
            raise InvalidRequest(
                "a request cannot be received in the future",
                {"received_at": ["must not be in the future"]},
            )
        subject_id, email_bidx = self._subject(subject)
        summary, sealed_plain = self._details(kind, details or {}, subject_id)
        existing = self._open_duplicate(kind, subject_id, email_bidx)
        if existing is not None:
            raise DuplicateRequest(existing)
        request = DsrRequest(
            id=uuid.uuid4().hex,
            type=str(kind),
            regulation=str(law),
            status=RequestStatus.RECEIVED.value,
            subject_id=subject_id,
            email_bidx=email_bidx,
            subject_found=subject_id is not None and self._subject_exists(subject_id),
            received_at=received,
            due_at=due_at(law, kind, received),
            extended=False,
            details=summary,
            created_by=self.actor.id,
            created_at=now,
            updated_at=now,
        )
        if sealed_plain is not None:
            request.sealed_details = seal(
                self._key(DETAILS_KEY_LABEL), b"details", request.id, sealed_plain
            )
        self.session.add(request)
        self.session.flush()
        self._audit(AuditAction.REQUEST_CREATED, request, {"subject_found": request.subject_found})
        return request

    def _kind(self, request_type: str, regulation: str) -> tuple[RequestType, Regulation]:
        # A person types these ("GDPR", "Access"): the closed lists are matched in any case.
        request_type = request_type.strip().lower() if isinstance(request_type, str) else ""
        regulation = regulation.strip().lower() if isinstance(regulation, str) else ""
        errors: dict[str, list[str]] = {}
        try:
            kind = RequestType(request_type)
        except ValueError:
            errors["type"] = [f"must be one of {', '.join(t.value for t in RequestType)}"]
        try:
            law = Regulation(regulation)
        except ValueError:
            errors["regulation"] = ["must be gdpr or ccpa"]
        if errors:
            raise InvalidRequest("the request is not valid", errors)
        if kind not in RIGHTS[law]:
            raise InvalidRequest(
                f"{law} grants no {kind} right",
                {"type": [f"under {law}: {', '.join(sorted(t.value for t in RIGHTS[law]))}"]},
            )
        return kind, law

    def _subject(self, subject: Mapping[str, Any]) -> tuple[str | None, bytes | None]:
        """(subject id if known, email blind index if the request came by email)."""
        if (
            not isinstance(subject, Mapping)
            or len(subject) != 1
            or not (set(subject) <= {"email", "subject_id"})
        ):
            raise InvalidRequest(
                "name the subject by email or by subject_id (one of them)",
                {"subject": ["give exactly one of email, subject_id"]},
            )
        if "subject_id" in subject:
            sid = subject["subject_id"]
            if not isinstance(sid, str) or not SUBJECT_ID.match(sid):
                raise InvalidRequest(
                    "the subject id is not an id", {"subject_id": ["must be a record id"]}
                )
            return sid, None
        email = subject["email"]
        field = erasure.email_field(self.datamap)
        if field is None:
            raise InvalidRequest(
                "the data map has no email lookup field",
                {"email": ["not searchable in this store"]},
            )
        email = email.strip() if isinstance(email, str) else email  # as a person pastes it
        if (
            not isinstance(email, str)
            or "@" not in email
            or len(email) > 254
            or any(c.isspace() or c == "\x00" for c in email)
        ):
            raise InvalidRequest(
                "the email is not an email address", {"email": ["must be an email address"]}
            )
        index = self.runtime.crypto.blind_index(self.datamap.subject_collection, field.name, email)
        try:
            return self._find_by_index(field.blind_index_column or "", index), index
        except AmbiguousSubject as several:
            several.index = index
            raise

    def _find_by_index(self, column: str, index: bytes) -> str | None:
        """The one subject whose identity has this blind index, or None. Several (a store
        that held duplicates before identities were unique) is AmbiguousSubject with their
        ids: a request runs on the person the officer chose, never on the first match."""
        found = self._subjects_by_index(column, index)
        if len(found) > 1:
            raise AmbiguousSubject(found)
        return found[0] if found else None

    def _subjects_by_index(self, column: str, index: bytes) -> list[str]:
        table = self.runtime.tables[self.datamap.subject_collection]
        return list(
            self.session.scalars(
                select(table.c[ID_COLUMN])
                .where(table.c[column] == index)
                .order_by(table.c[ID_COLUMN])
                .limit(MAX_MATCHES_SHOWN)
            )
        )

    def _subject_exists(self, subject_id: str) -> bool:
        table = self.runtime.tables[self.datamap.subject_collection]
        return (
            self.session.scalar(select(table.c[ID_COLUMN]).where(table.c[ID_COLUMN] == subject_id))
            is not None
        )

    def _details(
        self, kind: RequestType, details: Mapping[str, Any], subject_id: str | None
    ) -> tuple[dict[str, Any], bytes | None]:
        """(a non-personal summary, the sealed plaintext of value-bearing details)."""
        if not isinstance(details, Mapping):
            raise InvalidRequest("details must be an object", {"details": ["must be an object"]})
        if kind is RequestType.OBJECTION:
            return {"purposes": self._objection_purposes(details)}, None
        if kind is RequestType.RECTIFICATION:
            corrections = self._corrections(details, subject_id)
            summary = [
                {
                    "collection": c["collection"],
                    "record_id": c.get("record_id"),
                    "fields": sorted(c["fields"]),
                }
                for c in corrections
            ]
            plain = json.dumps(corrections, separators=(",", ":")).encode()
            return {"corrections": summary}, plain
        if details:
            raise InvalidRequest(
                f"a {kind} request takes no details", {"details": ["must be empty for this type"]}
            )
        return {}, None

    def _objection_purposes(self, details: Mapping[str, Any]) -> list[str]:
        purposes = details.get("purposes")
        if (
            set(details) - {"purposes"}
            or not isinstance(purposes, list)
            or not purposes
            or (not all(isinstance(p, str) for p in purposes))
        ):
            raise InvalidRequest(
                "an objection names the purposes objected to",
                {"details": ['{"purposes": [purpose id, ...]}']},
            )
        errors: dict[str, list[str]] = {}
        for p in purposes:
            purpose = self.runtime.policy.purposes.get(p)
            if purpose is None:
                errors[shown_name(p)] = ["purposes.yaml declares no such purpose"]
            elif not purpose.objectable:
                errors[p] = [f"an objection does not stop it (legal basis {purpose.legal_basis})"]
        if errors:
            raise InvalidRequest("an objection names purposes an objection stops", errors)
        return sorted(set(purposes))

    def _corrections(
        self, details: Mapping[str, Any], subject_id: str | None
    ) -> list[dict[str, Any]]:
        """Validate what intake can: the collections and fields exist and may be corrected,
        the values fit the fields, and (when the subject is named by id) each record is the
        subject's. A request naming another person's record would fail at execution, after
        the subject was told it is being handled."""
        raw = details.get("corrections")
        if (
            set(details) - {"corrections"}
            or not isinstance(raw, list)
            or not raw
            or (len(raw) > MAX_CORRECTIONS)
        ):
            raise InvalidRequest(
                "a rectification lists its corrections",
                {"details": ['{"corrections": [{"collection", "record_id"?, "fields": {...}}]}']},
            )
        corrections = []
        errors: dict[str, list[str]] = {}
        for i, item in enumerate(raw):
            where = f"corrections_{i}"
            if not isinstance(item, Mapping) or set(item) - {"collection", "record_id", "fields"}:
                errors[where] = ["an object with collection, record_id and fields"]
                continue
            name = item.get("collection")
            collection = self.datamap.collections.get(name) if isinstance(name, str) else None
            if collection is None or not (collection.is_subject or collection.has_subject_column):
                errors[where] = ["collection: a collection of the subject's records"]
                continue
            record_id = item.get("record_id")
            if record_id is None and not collection.is_subject:
                errors[where] = ["record_id: required outside the subject's own record"]
                continue
            if record_id is not None and (
                not isinstance(record_id, str) or not SUBJECT_ID.match(record_id)
            ):
                errors[where] = ["record_id: must be a record id"]
                continue
            fields = item.get("fields")
            if not isinstance(fields, Mapping) or not fields:
                errors[where] = ["fields: an object of field names to corrected values"]
                continue
            if subject_id is not None and not self._records_subject(
                collection.name, record_id or subject_id, subject_id
            ):
                errors[where] = ["record_id: no record of the subject has this id"]
                continue
            for fname, value in fields.items():
                field = collection.fields.get(fname) if fname not in SYSTEM_COLUMNS else None
                if field is None:
                    errors[f"{where}.{shown_name(fname)}"] = ["not a field of the collection"]
                    continue
                if field.references is not None:
                    errors[f"{where}.{fname}"] = [
                        f"links to {field.references}: a link is not a value to correct"
                    ]
                    continue
                try:
                    coerce(field, value)
                except InvalidValue as exc:
                    errors[f"{where}.{fname}"] = [str(exc)]
            corrections.append(
                {"collection": collection.name, "record_id": record_id, "fields": dict(fields)}
            )
        if errors:
            raise InvalidRequest("the corrections are not valid", errors)
        return corrections

    def _records_subject(self, collection: str, record_id: str, subject_id: str) -> bool:
        """Whether the record exists and belongs to the subject (the same answer for both,
        so intake does not tell an officer's typo from another person's record)."""
        try:
            current = self.runtime.record_store(self.session).get(collection, record_id, fields=[])
        except RecordNotFound:
            return False
        return current.subject_id == subject_id

    def _open_duplicate(
        self, kind: RequestType, subject_id: str | None, email_bidx: bytes | None
    ) -> str | None:
        same: list[Any] = []
        if subject_id is not None:
            same.append(DsrRequest.subject_id == subject_id)
        if email_bidx is not None:
            same.append(DsrRequest.email_bidx == email_bidx)
        return self.session.scalar(
            select(DsrRequest.id)
            .where(DsrRequest.type == str(kind), DsrRequest.status.in_(OPEN_STATUSES), or_(*same))
            .order_by(DsrRequest.created_at)
            .limit(1)
        )

    # -- the workflow ---------------------------------------------------------------------
    def get(self, request_id: str, *, lock: bool = False) -> DsrRequest:
        if not isinstance(request_id, str) or len(request_id) > 32:
            raise RequestNotFound()
        request = self.session.get(DsrRequest, request_id, with_for_update=lock or None)
        if request is None:
            raise RequestNotFound()
        return request

    def exports_available(self, request_ids: Sequence[str]) -> set[str]:
        """Which of these requests have a stored export (one query for a page)."""
        if not request_ids:
            return set()
        return set(
            self.session.scalars(
                select(DsrExport.request_id).where(DsrExport.request_id.in_(list(request_ids)))
            )
        )

    def steps(self, request_id: str) -> list[DsrStep]:
        return list(
            self.session.scalars(
                select(DsrStep)
                .where(DsrStep.request_id == request_id)
                .order_by(DsrStep.position)
                .execution_options(populate_existing=True)  # marks are written in bulk
            )
        )

    def verify(self, request_id: str, method: Any) -> DsrRequest:
        slug = method_slug(method)
        request = self.get(request_id, lock=True)
        self._require(request, (RequestStatus.RECEIVED,), "verified")
        request.status = RequestStatus.VERIFIED.value
        request.verification_method = slug
        request.verified_at = request.updated_at = _now()
        self._audit(AuditAction.REQUEST_VERIFIED, request, {"method": slug})
        return request

    def reject(self, request_id: str, reason: Any) -> DsrRequest:
        text = self._reason(reason)
        request = self.get(request_id, lock=True)
        self._require(
            request,
            (RequestStatus.RECEIVED, RequestStatus.VERIFIED, RequestStatus.FAILED),
            "rejected",
        )
        request.status = RequestStatus.REJECTED.value
        request.rejection_reason = text
        request.finished_at = request.updated_at = _now()
        request.sealed_details = None
        self._audit(AuditAction.REQUEST_REJECTED, request, {})
        return request

    def extend(self, request_id: str, reason: Any) -> DsrRequest:
        """Extend the deadline once. The law lets a controller extend only by telling the
        subject within the original period (GDPR Art. 12(3): "within one month of receipt";
        CCPA Regulations 7021(b): within the first 45 days), so an extension decided after
        the original due date is refused: it would erase an overdue answer from the record."""
        code = _extension_reason(reason)
        request = self.get(request_id, lock=True)
        kind, law = RequestType(request.type), Regulation(request.regulation)
        if not extendable(law, kind):
            raise NotExtendable(f"a {law} {kind} request cannot be extended")
        if request.extended:
            raise NotExtendable("the request was extended already (once is the limit)")
        self._require(
            request,
            (
                RequestStatus.RECEIVED,
                RequestStatus.VERIFIED,
                RequestStatus.IN_PROGRESS,
                RequestStatus.FAILED,
            ),
            "extended",
        )
        now = _now()
        original_due = as_utc(request.due_at)
        if original_due is not None and now > original_due:
            raise ExtensionTooLate(
                f"the request was due on {original_due.date().isoformat()}: an extension must "
                f"be decided and told to the subject before the original due date "
                f"({'GDPR Art. 12(3)' if law is Regulation.GDPR else 'CCPA Regulations 7021(b)'})"
                "; the request stays overdue"
            )
        request.extended = True
        request.extension_reason = str(code)
        request.due_at = due_at(law, kind, as_utc(request.received_at) or now, extended=True)
        request.updated_at = now
        self._audit(
            AuditAction.REQUEST_EXTENDED,
            request,
            {"due_date": request.due_at.date().isoformat(), "reason_code": str(code)},
        )
        return request

    def start(self, request_id: str) -> DsrRequest:
        """Move the request to ``in_progress`` and record its plan (once). Returns it; the
        caller runs :class:`RequestExecutor` after committing. Executing a request already
        in progress (a crash stopped it) or failed resumes it."""
        request = self.get(request_id, lock=True)
        status = RequestStatus(request.status)
        kind, law = RequestType(request.type), Regulation(request.regulation)
        if status is RequestStatus.RECEIVED and needs_verification(law, kind):
            raise NotVerified()
        self._require(
            request,
            (
                RequestStatus.RECEIVED,
                RequestStatus.VERIFIED,
                RequestStatus.IN_PROGRESS,
                RequestStatus.FAILED,
                RequestStatus.ON_HOLD,
            ),
            "executed",
        )
        again = status in (RequestStatus.IN_PROGRESS, RequestStatus.FAILED, RequestStatus.ON_HOLD)
        request.hold_id = None  # the execution looks for a hold again
        self.purge_exports()  # exports past their retention go whenever requests run
        steps = self.steps(request.id)
        if not steps:
            self._plan(request, kind)
        # "resumed" claims that work had run before: true only when a step is done, not for
        # every execute of a request that was started once (a retry of which nothing ran).
        resumed = again and any(s.state == StepState.DONE.value for s in steps)
        request.status = RequestStatus.IN_PROGRESS.value
        request.error = None
        request.started_at = request.started_at or _now()
        request.updated_at = _now()
        self._audit(AuditAction.REQUEST_STARTED, request, {"resumed": resumed})
        return request

    def start_execution(
        self, request_id: str, trace_id: str | None = None
    ) -> AfterCommit[DsrRequest]:
        """Execute (or resume) a request, as the API, the console and the CLI ask for it:
        :meth:`start`, and the job that runs the steps, in this unit of work (an open job
        of the request is reused: executing twice runs once); the job is the caller's to
        deliver once that commits."""
        started = self.start(request_id)
        job, _ = Jobs(self.session).enqueue(
            JobKind.REQUEST_EXECUTE,
            started.id,
            actor=self.actor,
            exclusive=f"request.execute:{started.id}",
            trace_id=trace_id,
        )
        return AfterCommit(started, (job.id,))

    def _plan(self, request: DsrRequest, kind: RequestType) -> None:
        if request.subject_id is None and request.email_bidx is not None:
            field = erasure.email_field(self.datamap)
            column = field.blind_index_column if field is not None else None
            request.subject_id = self._find_by_index(column, request.email_bidx) if column else None
        found = request.subject_id is not None and self._subject_exists(request.subject_id)
        request.subject_found = found
        if not found:
            names = ["no_data"]
        elif kind is RequestType.ERASURE:
            names = erasure.step_names(self.datamap)
            request.work = erasure.capture_lookups(
                self.session, self.datamap, self.runtime.tables, request.subject_id or ""
            )
        elif kind in EXPORT_TYPES:
            names = ["export"]
        elif kind is RequestType.RECTIFICATION:
            names = [f"rectify:{i}" for i in range(len(request.details.get("corrections", [])))]
        elif kind is RequestType.RESTRICTION:
            names = ["restrict"]
        elif kind is RequestType.OBJECTION:
            names = [f"object:{p}" for p in request.details.get("purposes", [])]
        else:
            names = ["opt_out"]
        self.session.add_all(
            DsrStep(
                request_id=request.id,
                position=i,
                name=name,
                state=StepState.PENDING.value,
                attempts=0,
            )
            for i, name in enumerate(names)
        )
        self.session.flush()

    def _require(self, request: DsrRequest, allowed: Sequence[RequestStatus], verb: str) -> None:
        if request.status not in {s.value for s in allowed}:
            raise InvalidTransition(f"a {request.status} request cannot be {verb}")

    @staticmethod
    def _reason(reason: Any) -> str:
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidRequest("give a reason", {"reason": [f"1 to {MAX_REASON} characters"]})
        return reason.strip()

    # -- the queue ------------------------------------------------------------------------
    def list(
        self, query: QueueFilter, *, after: tuple[str, str] | None = None, limit: int = 50
    ) -> tuple[list[DsrRequest], tuple[str, str] | None]:
        """Requests by due time (then id); ``after`` is the (due_at, id) of the last seen."""
        now = _now()
        stmt = select(DsrRequest)
        if query.statuses:
            stmt = stmt.where(DsrRequest.status.in_(list(query.statuses)))
        if not query.statuses or query.overdue is not None or query.due_within_days is not None:
            stmt = stmt.where(DsrRequest.status.in_(OPEN_STATUSES))
        if query.overdue is True:
            stmt = stmt.where(DsrRequest.due_at < now)
        elif query.overdue is False:
            stmt = stmt.where(DsrRequest.due_at >= now)
        if query.due_within_days is not None:
            stmt = stmt.where(DsrRequest.due_at <= now + timedelta(days=query.due_within_days))
        if query.types:
            stmt = stmt.where(DsrRequest.type.in_(list(query.types)))
        if query.regulations:
            stmt = stmt.where(DsrRequest.regulation.in_(list(query.regulations)))
        if query.search:
            stmt = stmt.where(self._search(query.search))
        if after is not None:
            due, last = datetime.fromisoformat(after[0]), after[1]
            stmt = stmt.where(
                or_(DsrRequest.due_at > due, and_(DsrRequest.due_at == due, DsrRequest.id > last))
            )
        rows = list(
            self.session.scalars(stmt.order_by(DsrRequest.due_at, DsrRequest.id).limit(limit + 1))
        )
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = ((as_utc(rows[-1].due_at) or now).isoformat(), rows[-1].id) if more else None
        return rows, cursor

    def _search(self, text: str) -> Any:
        text = text.strip()
        if "@" in text:
            try:
                subject_id, index = self._subject({"email": text})
                owners = [subject_id] if subject_id else []
            except AmbiguousSubject as several:  # a search shows every match's requests
                owners = several.extra["subject_ids"]
                index = several.index
            match = DsrRequest.email_bidx == index
            return or_(match, DsrRequest.subject_id.in_(owners)) if owners else match
        return or_(DsrRequest.id == text, DsrRequest.subject_id == text)

    def counts(self, soon: timedelta = timedelta(days=7)) -> QueueCounts:
        """How many open requests are overdue, due within ``soon``, and due later."""
        now = _now()
        row = self.session.execute(
            select(
                func.count().filter(DsrRequest.due_at < now),
                func.count().filter(
                    and_(DsrRequest.due_at >= now, DsrRequest.due_at <= now + soon)
                ),
                func.count().filter(DsrRequest.due_at > now + soon),
            ).where(DsrRequest.status.in_(OPEN_STATUSES))
        ).one()
        return QueueCounts(overdue=int(row[0]), due_soon=int(row[1]), on_time=int(row[2]))

    def returned_subjects(self, limit: int = 50) -> Sequence[str]:
        """Subjects written since with the e-mail of a person erased earlier: for the
        officer to review (did the person come back on their own?); the application that
        wrote the record is not told."""
        return returned_subjects(self.session, self.datamap, self.runtime.tables, limit=limit)

    # -- the export -----------------------------------------------------------------------
    def export(self, request_id: str) -> bytes:
        request = self.get(request_id)
        if request.type not in {t.value for t in EXPORT_TYPES}:
            raise ExportNotAvailable("only access and portability requests have an export")
        stored = self.session.get(DsrExport, request_id)
        if stored is None:
            if request.status == RequestStatus.COMPLETED.value and request.subject_found:
                erased_by = self._erasure_after(request)
                if erased_by is not None:
                    raise ExportExpired(
                        f"the export was deleted when the subject's erasure request "
                        f"{erased_by} was executed",
                        extra={"erasure_request_id": erased_by},
                    )
                raise ExportExpired("the export was deleted after its retention period")
            raise ExportNotAvailable(
                "no export: the request is not completed, or the store holds no data on the subject"
            )
        if (as_utc(stored.expires_at) or _now()) <= _now():  # purge_exports deletes it
            raise ExportExpired("the export was deleted after its retention period")
        content = open_sealed(self._key(EXPORT_KEY_LABEL), b"export", request_id, stored.sealed)
        self._audit(AuditAction.REQUEST_EXPORT_DOWNLOADED, request, {"rows": stored.size})
        return content

    def _erasure_after(self, request: DsrRequest) -> str | None:
        """The erasure request whose execution deleted this request's export, if any."""
        if request.subject_id is None:
            return None
        return self.session.scalar(
            select(DsrRequest.id)
            .where(
                DsrRequest.subject_id == request.subject_id,
                DsrRequest.type == RequestType.ERASURE.value,
                DsrRequest.started_at.is_not(None),
                DsrRequest.started_at >= request.finished_at,
            )
            .order_by(DsrRequest.started_at)
            .limit(1)
        )

    def purge_exports(self) -> int:
        """Delete every export past its retention period; returns how many."""
        result: Any = self.session.execute(delete(DsrExport).where(DsrExport.expires_at <= _now()))
        count = int(result.rowcount)
        if count:
            self.runtime.audit.record(
                self.session,
                AuditEvent(
                    action=str(AuditAction.REQUEST_EXPORT_PURGED),
                    actor=self.actor,
                    policy_version=self.runtime.policy.version,
                    request_id=self.request_id,
                    details={"count": count},
                ),
            )
        return count

    # -- internals ------------------------------------------------------------------------
    def _key(self, label: str) -> bytes:
        return self.runtime.keys.derived_key(label)

    def _audit(
        self,
        action: AuditAction,
        request: DsrRequest,
        details: Mapping[str, Any],
        outcome: Outcome = Outcome.ALLOWED,
    ) -> None:
        audit_request(
            self.runtime,
            self.session,
            self.actor,
            action,
            request,
            details,
            outcome=outcome,
            request_id=self.request_id,
        )


def request_event(
    runtime: Shared,
    actor: Actor,
    action: AuditAction,
    request: DsrRequest,
    details: Mapping[str, Any],
    *,
    outcome: Outcome = Outcome.ALLOWED,
    request_id: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        action=str(action),
        actor=actor,
        outcome=outcome,
        target=Target(record_id=request.id, subject_id=request.subject_id),
        policy_version=runtime.policy.version,
        request_id=request_id,
        details={
            "request_type": request.type,
            "regulation": request.regulation,
            "status": request.status,
            **details,
        },
    )


def audit_request(
    runtime: Shared,
    session: Session,
    actor: Actor,
    action: AuditAction,
    request: DsrRequest,
    details: Mapping[str, Any],
    *,
    outcome: Outcome = Outcome.ALLOWED,
    request_id: str | None = None,
) -> None:
    runtime.audit.record(
        session,
        request_event(
            runtime, actor, action, request, details, outcome=outcome, request_id=request_id
        ),
    )


# -- execution --------------------------------------------------------------------------------
class _StepAuditor:
    """Key events recorded in the step's own transaction (KeyAuditor)."""

    def __init__(
        self, runtime: Shared, session: Session, actor: Actor, request_id: str | None
    ) -> None:
        self.runtime, self.session, self.actor, self.request_id = (
            runtime,
            session,
            actor,
            request_id,
        )

    def record(
        self, action: AuditAction, details: Mapping[str, Any], *, subject_id: str | None = None
    ) -> None:
        self.runtime.audit.record(
            self.session,
            AuditEvent(
                action=str(action),
                actor=self.actor,
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                target=Target(subject_id=subject_id),
                details=dict(details),
            ),
        )


class RequestExecutor:
    """Runs a started request's recorded steps, each in its own unit of work.

    ``checkpoint(step, moment)`` (tests, the crash test) is called with ``before_commit``
    once a step's work and mark are flushed, and ``after_commit`` once they committed.
    """

    def __init__(
        self,
        runtime: Shared,
        actor: Actor,
        *,
        http_request_id: str | None = None,
        checkpoint: Checkpoint | None = None,
        fail_on_outage: bool = True,
    ) -> None:
        self.runtime = runtime
        self.actor = actor
        self.http_request_id = http_request_id
        self.checkpoint = checkpoint
        # False under a job: an unreachable store leaves the request in progress, and the
        # job waits on it and resumes the steps (governance.jobs.work); the CLI's direct
        # run marks it failed for the officer instead.
        self.fail_on_outage = fail_on_outage

    def run(self, request_id: str) -> str:
        """Run every unfinished step; returns the request's final status.

        Consecutive steps that only change this database share a transaction, up to
        ``BATCH_ROWS`` rows: each is still recorded (and audited) as its own step, and a crash
        rolls the unfinished transaction back whole, so every step is done or not started.
        A step with an effect outside this database (``shred``: the key store commits on
        its own) runs in a transaction of its own, after everything before it committed.
        """
        try:
            while True:
                finished: list[str] = []
                with unit_of_work(self.runtime.sessions) as session:
                    service = RequestService(
                        session, self.runtime, self.actor, request_id=self.http_request_id
                    )
                    request = service.get(request_id, lock=True)
                    if request.status != RequestStatus.IN_PROGRESS.value:
                        return request.status
                    pending = [
                        s for s in service.steps(request_id) if s.state == StepState.PENDING.value
                    ]
                    if self._held(session, request, pending):
                        return request.status
                    touched = 0
                    all_done = True
                    step_events: list[AuditEvent] = []
                    marks: list[dict[str, Any]] = []
                    for step in pending:
                        external = step.name.partition(":")[0] in EXTERNAL_STEPS
                        if external and finished:
                            all_done = False  # commit what ran so far first
                            break
                        result = self._run_step(session, request, step, service)
                        if result is None:  # verification failed: recorded, request failed
                            all_done = False
                            break
                        marks.append(
                            {
                                "request_id": request_id,
                                "position": step.position,
                                "state": StepState.DONE.value,
                                "result": result,
                                "attempts": step.attempts + 1,
                                "finished_at": _now(),
                            }
                        )
                        step_events.append(
                            request_event(
                                self.runtime,
                                self.actor,
                                AuditAction.REQUEST_STEP_COMPLETED,
                                request,
                                {"step": step.name, "rows": int(result.get("rows", 0))},
                                request_id=self.http_request_id,
                            )
                        )
                        finished.append(step.name)
                        touched += int(result.get("rows", 0))
                        if (external or touched >= BATCH_ROWS) and step is not pending[-1]:
                            all_done = False
                            break
                    # The batch's marks and step events: one statement each, in its transaction.
                    if marks:
                        session.execute(update(DsrStep), marks)
                    self.runtime.audit.record_many(session, step_events)
                    session.flush()
                    for name in finished:
                        self._checkpoint(name, "before_commit")
                    if all_done:
                        self._finish(session, request, service)
                        session.flush()
                        self._checkpoint("finish", "before_commit")
                        finished.append("finish")
                for name in finished:
                    self._checkpoint(name, "after_commit")
        except Exception as exc:
            reason = failure_reason(exc)
            if self.fail_on_outage or reason is not FailureReason.STORE_UNAVAILABLE:
                self._fail(request_id, reason)
            raise

    def _held(self, session: Session, request: DsrRequest, pending: Sequence[DsrStep]) -> bool:
        """An erasure whose destructive steps are still to run stops on an active legal
        hold over the subject or a collection holding their records: ``on_hold`` with the
        hold's id, audited (Art. 17(3)(e)). Releasing the hold resumes it."""
        if (
            request.type != RequestType.ERASURE.value
            or not request.subject_found
            or not any(s.name != "verify" for s in pending)
        ):
            return False
        hold_id = blocking_hold(
            session, self.runtime.policy.datamap, self.runtime.tables, request.subject_id or ""
        )
        if hold_id is None:
            return False
        request.status = RequestStatus.ON_HOLD.value
        request.hold_id = hold_id
        request.updated_at = _now()
        audit_request(
            self.runtime,
            session,
            self.actor,
            AuditAction.REQUEST_ON_HOLD,
            request,
            {"hold_id": hold_id},
            request_id=self.http_request_id,
        )
        return True

    def _checkpoint(self, step: str, moment: str) -> None:
        if self.checkpoint is not None:
            self.checkpoint(step, moment)

    def _run_step(
        self, session: Session, request: DsrRequest, step: DsrStep, service: RequestService
    ) -> dict[str, Any] | None:
        """Do the step's work; its result (counts, ids), or None if verification failed."""
        rt = self.runtime
        sid = request.subject_id or ""
        kind, _, arg = step.name.partition(":")
        result: dict[str, Any]
        if kind == "no_data":
            result = {"rows": 0, "subject_found": False}
        elif kind == "delete":
            result = erasure.delete_rows(
                session, rt.policy.datamap.collections[arg], rt.tables, sid
            )
        elif kind == "anonymize":
            result = erasure.anonymize_rows(
                session, rt.policy.datamap.collections[arg], rt.tables, rt.crypto, sid
            )
        elif kind == "consent":
            result = {"rows": self._consent(session).erase_subject(sid)}
        elif kind == "exports":
            result = erasure.delete_exports(session, request)
        elif kind == "suppress":
            result = erasure.suppress(session, request.work or {})
        elif kind == "shred":
            destroyed = shred_subject(
                rt.keys, _StepAuditor(rt, session, self.actor, self.http_request_id), sid
            )
            # A re-run after a crash finds the key destroyed already: the outcome (rows,
            # shredded) is the same; ``destroyed_now`` says which run destroyed it.
            gone = destroyed
            if not destroyed:
                stored = rt.keys.keystore.fetch([sid]).get(sid)
                gone = stored is not None and stored.shredded
            result = {"rows": int(gone), "shredded": gone, "destroyed_now": destroyed}
        elif kind == "verify":
            anonymised = {
                s.name.partition(":")[2]: (s.result or {}).get("record_ids", [])
                for s in service.steps(request.id)
                if s.name.startswith("anonymize:")
            }
            result = erasure.verify(
                session,
                rt.policy.datamap,
                rt.tables,
                rt.crypto,
                rt.keys,
                sid,
                request.work or {},
                anonymised,
            )
            if not result["verified"]:
                step.result = result  # recorded; the step stays pending and the request fails
                step.attempts += 1
                request.status = RequestStatus.FAILED.value
                request.error = str(FailureReason.VERIFICATION)
                request.result = {"verification": result}
                request.updated_at = _now()
                audit_request(
                    rt,
                    session,
                    self.actor,
                    AuditAction.REQUEST_FAILED,
                    request,
                    {"problems": result["problems"]},
                    outcome=Outcome.FAILED,
                    request_id=self.http_request_id,
                )
                return None
        elif kind == "export":
            result = self._export(session, request)
        elif kind == "rectify":
            result = self._rectify(session, request, int(arg))
        elif kind == "restrict":
            consent = self._consent(session)
            rows = 0
            if not consent.state(sid).restricted:
                consent.restrict(sid, ConsentSource.REQUEST)
                rows = 1
            result = {"rows": rows}
        elif kind == "object":
            consent = self._consent(session)
            rows = 0
            if str(consent.state(sid).of(arg).status) != "objected":
                consent.object(sid, arg, ConsentSource.REQUEST)
                rows = 1
            result = {"rows": rows, "purposes": [arg]}
        elif kind == "opt_out":
            events = self._consent(session).opt_out(sid, ConsentSource.REQUEST)
            result = {"rows": len(events), "purposes": sorted(e.purpose or "" for e in events)}
        else:  # pragma: no cover - plans are made by RequestService._plan
            raise ValueError(f"unknown step {step.name}")
        return result

    def _consent(self, session: Session) -> ConsentService:
        return ConsentService(session, self.runtime, self.actor, request_id=self.http_request_id)

    def _export(self, session: Session, request: DsrRequest) -> dict[str, Any]:
        rt = self.runtime
        if session.get(DsrExport, request.id) is not None:
            return {"rows": 0}  # produced once
        sid = request.subject_id or ""
        consent = self._consent(session)
        state = consent.state(sid)
        current = {p.id: state.of(p.id) for p in rt.policy.purposes}
        consent_doc = {
            "current": {
                purpose: {
                    "status": str(c.status),
                    "at": format_datetime(c.at) if c.at else None,
                    "source": c.source,
                }
                for purpose, c in current.items()
            },
            "restricted": state.restricted,
            "history": [
                {
                    "purpose": e.purpose,
                    "action": e.action,
                    "source": e.source,
                    "policy_version": e.policy_version,
                    "occurred_at": format_datetime(as_utc(e.occurred_at) or _now()),
                    "recorded_at": format_datetime(as_utc(e.recorded_at) or _now()),
                }
                for e in consent.history(sid)
            ],
        }
        built = build_export(
            rt.record_store(session),
            rt.policy,
            sid,
            request_id=request.id,
            request_type=request.type,
            regulation=request.regulation,
            consent=consent_doc,
        )
        now = _now()
        session.add(
            DsrExport(
                request_id=request.id,
                sealed=seal(
                    rt.keys.derived_key(EXPORT_KEY_LABEL), b"export", request.id, built.content
                ),
                size=len(built.content),
                sha256=digest(built.content),
                created_at=now,
                expires_at=now + EXPORT_RETENTION,
            )
        )
        return {"rows": sum(built.records.values()), "records": built.records}

    def _rectify(self, session: Session, request: DsrRequest, index: int) -> dict[str, Any]:
        rt = self.runtime
        if request.sealed_details is None:
            raise StepFailed(FailureReason.CORRECTIONS_GONE)
        corrections = json.loads(
            open_sealed(
                rt.keys.derived_key(DETAILS_KEY_LABEL),
                b"details",
                request.id,
                request.sealed_details,
            )
        )
        item = corrections[index]
        collection = rt.policy.datamap.collections[item["collection"]]
        record_id: str = item.get("record_id") or request.subject_id or ""
        store = rt.record_store(session)
        # The record must be the subject's: a correction never writes another person's data.
        current = store.get(collection.name, record_id, fields=[])
        if current.subject_id != request.subject_id:
            raise StepFailed(FailureReason.RECORD_NOT_SUBJECTS)
        store.update(collection.name, record_id, item["fields"])
        rt.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.REQUEST_RECORD_RECTIFIED),
                actor=self.actor,
                target=Target(
                    collection=collection.name, record_id=record_id, subject_id=request.subject_id
                ),
                policy_version=rt.policy.version,
                request_id=self.http_request_id,
                details={"fields": sorted(item["fields"])},
            ),
        )
        return {"rows": 1, "collection": collection.name, "fields": sorted(item["fields"])}

    def _finish(self, session: Session, request: DsrRequest, service: RequestService) -> None:
        steps = service.steps(request.id)
        request.status = RequestStatus.COMPLETED.value
        request.finished_at = request.updated_at = _now()
        summary: dict[str, Any] = {
            "subject_found": request.subject_found,
            "steps": {s.name: s.result for s in steps},
        }
        if not request.subject_found:
            summary["outcome"] = "no data held on the subject"
        request.result = summary
        request.work = None
        request.sealed_details = None
        audit_request(
            self.runtime,
            session,
            self.actor,
            AuditAction.REQUEST_COMPLETED,
            request,
            {"subject_found": request.subject_found, "count": len(steps)},
            request_id=self.http_request_id,
        )

    def _fail(self, request_id: str, reason: FailureReason) -> None:
        with unit_of_work(self.runtime.sessions) as session:
            request = session.get(DsrRequest, request_id)
            if request is None or request.status != RequestStatus.IN_PROGRESS.value:
                return
            request.status = RequestStatus.FAILED.value
            request.error = str(reason)  # a code only: exception text may carry values
            request.updated_at = _now()
            audit_request(
                self.runtime,
                session,
                self.actor,
                AuditAction.REQUEST_FAILED,
                request,
                {"reason_code": str(reason)},
                outcome=Outcome.FAILED,
                request_id=self.http_request_id,
            )


def statuses_named(names: Sequence[str]) -> tuple[str, ...]:
    """The statuses a queue filter names: a status, or ``open`` (received, verified,
    in_progress, failed) or ``closed`` (completed, rejected)."""
    groups = {
        "open": OPEN_STATUSES,
        "closed": tuple(s.value for s in RequestStatus if s.value not in OPEN_STATUSES),
    }
    chosen: list[str] = []
    for name in names:
        chosen.extend(groups.get(name, (name,)))
    return tuple(dict.fromkeys(chosen))


def _extension_reason(reason: Any) -> ExtensionReason:
    codes = ", ".join(r.value for r in ExtensionReason)
    text = reason.strip().lower() if isinstance(reason, str) else ""
    try:
        return ExtensionReason(text)
    except ValueError:
        raise InvalidRequest(
            "give the reason for the extension as a code", {"reason": [f"one of {codes}"]}
        ) from None


def unfinished(session: Session) -> list[str]:
    """Requests a crash left in progress (``governance requests execute --all`` resumes)."""
    return list(
        session.scalars(
            select(DsrRequest.id)
            .where(DsrRequest.status == RequestStatus.IN_PROGRESS.value)
            .order_by(DsrRequest.started_at)
        )
    )
