"""The retention sweep: remove what the data map says is kept no longer, in committed batches.

A run is asked for (``create``: its plan is recorded at a fixed ``as_of`` time, so a resumed
run applies the same cut-offs) and then run (``run``), on the task runner or by the CLI. It
applies each rule of :func:`governance.retention.rules.rules` in order, one batch at a time,
each batch in one transaction with its progress and its audit event (``retention.swept``:
collection, rule, count, a digest of the ids, the policy version):

- ``delete:<collection>``: the rows are deleted;
- ``anonymize:<collection>``: the rows are kept for the legal obligation, without the person
  (each field's ``on_erasure``, encrypted fields nulled, detached from the subject), exactly
  as an erasure anonymises them;
- ``erase:<subjects>``: a subject whose own record expired is erased through the erasure
  request's steps (every owned collection per its strategy, consent history, stored exports,
  the suppression entry, the subject's record; then, after that commit, the key shred and
  the verification). The ids waiting for the shred are recorded in the run's progress in
  the first transaction, so a crash between the two is finished by the resumed run;
- ``null:<collection>.<field>``: a field-level override: the field (and its blind index) is
  set to null.

Skipped and counted as ``held``: whatever an active legal hold covers (a subject's records,
a whole collection; a subject with records in a held collection is not erased). Skipped for
now: a row another row still refers to (a company a customer works for), and a subject
whose erasure request is being executed (the request finishes it). On PostgreSQL each batch
locks its rows ``FOR UPDATE SKIP LOCKED``, so two runs never take the same rows.

The run resumes after a crash: every batch is done or not started, and the rows still due
are found by the same conditions.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from audit.events import Actor, AuditEvent, Outcome, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission, require
from governance.consent.services import (
    EVENTS,
    PERMITS,
    RESTRICTIONS,
    STATE,
    erasing_subjects,
)
from governance.db import unit_of_work
from governance.jobs.after_commit import AfterCommit
from governance.jobs.service import JobKind, Jobs
from governance.requests import erasure
from governance.requests.holds import resume_waiting
from governance.requests.models import DsrExport, DsrRequest, ErasureSuppression
from governance.requests.services import RequestExecutor
from governance.retention.errors import RunNotFound
from governance.retention.holds import (
    HOLDS,
    HoldScope,
    active_clause,
    held_collections,
    held_subjects,
)
from governance.retention.models import RetentionRun
from governance.retention.rules import RetentionRule, cutoff_value, rules
from governance.shared import Shared
from policies.types import ID_COLUMN, SUBJECT_COLUMN, UPDATED_COLUMN, Collection, OnErasure

DEFAULT_BATCH = 500
ERASE_BATCH_MAX = 1000  # the audit event names the erased subjects (at most 1000 ids)
IDS_SHOWN = 1000
Checkpoint = Callable[[str, str], None]


def _now() -> datetime:
    return datetime.now(UTC)


def digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


class RetentionSweep:
    """Plans and runs retention sweeps as ``actor`` (the officer, the CLI user, the system)."""

    def __init__(
        self,
        runtime: Shared,
        actor: Actor,
        *,
        request_id: str | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.runtime = runtime
        self.actor = actor
        self.request_id = request_id
        self.checkpoint = checkpoint
        self.datamap = runtime.policy.datamap
        self.rules = rules(self.datamap)

    # -- what is due ----------------------------------------------------------------------
    def _conditions(
        self, session: Session, rule: RetentionRule, as_of: datetime, now: datetime, *, holds: bool
    ) -> list[ColumnElement[bool]] | None:
        """The WHERE clause of the rows the rule removes now; with ``holds`` False the
        rows due whatever the holds say. None: a hold covers the whole collection."""
        collection = self.datamap.collection(rule.collection)
        table = self.runtime.tables[collection.name]
        cutoff = cutoff_value(self.datamap, rule, as_of)
        found: list[ColumnElement[bool]] = [table.c[rule.counted_from] < cutoff]
        if rule.field is not None:
            found.append(table.c[rule.field].is_not(None))
        if rule.strategy == "anonymize":
            found.append(table.c[SUBJECT_COLUMN].is_not(None))
        if rule.strategy in ("delete", "erase"):
            found += self._unreferenced(collection)
        if rule.strategy == "erase":
            found.append(~table.c[ID_COLUMN].in_(erasing_subjects()))
        if not holds:
            return found
        held = held_collections(session, now)
        if collection.name in held:
            return None
        owner = collection.owner_column
        if owner is not None:
            found.append(~table.c[owner].in_(held_subjects(now)))
        if rule.strategy == "erase":
            for name in sorted(held):
                other = self.datamap.collections.get(name)
                if other is None or other.owner_column is None or other.is_subject:
                    continue
                others = self.runtime.tables[name]
                found.append(
                    ~exists(
                        select(others.c[ID_COLUMN]).where(
                            others.c[other.owner_column] == table.c[ID_COLUMN]
                        )
                    )
                )
        return found

    def _unreferenced(self, collection: Collection) -> list[ColumnElement[bool]]:
        """Rows no other collection's reference points at (deleting one would break it)."""
        table = self.runtime.tables[collection.name]
        found: list[ColumnElement[bool]] = []
        for other in self.datamap.collections.values():
            if other.name == collection.name or (
                collection.is_subject and other.has_subject_column
            ):
                continue  # an erasure removes or detaches the subject's own records first
            for f in other.fields.values():
                if f.references == collection.name:
                    refs = self.runtime.tables[other.name]
                    found.append(
                        ~exists(
                            select(refs.c[ID_COLUMN]).where(refs.c[f.name] == table.c[ID_COLUMN])
                        )
                    )
        return found

    def plan(
        self, session: Session, as_of: datetime | None = None, *, ids: bool = False
    ) -> list[dict[str, Any]]:
        """Per rule: the cut-off, how many records are due, the oldest due date, how many
        due records are held (and by which holds). Counts only, ids with ``ids``."""
        now = _now()
        as_of = as_of or now
        held = held_collections(session, now)
        rows = []
        for rule in self.rules:
            table = self.runtime.tables[rule.collection]
            every = self._conditions(session, rule, as_of, now, holds=False) or []
            due = self._conditions(session, rule, as_of, now, holds=True)
            total = int(session.scalar(select(func.count()).select_from(table).where(*every)) or 0)
            count, oldest = 0, None
            if due is not None:
                count, oldest = session.execute(
                    select(func.count(), func.min(table.c[rule.counted_from]))
                    .select_from(table)
                    .where(*due)
                ).one()
            hold_ids = sorted({held[rule.collection]} if rule.collection in held else set())
            if total > count and not hold_ids:
                hold_ids = self._subject_hold_ids(session, rule, as_of, now)
            entry: dict[str, Any] = {
                "rule": rule.name,
                "collection": rule.collection,
                "field": rule.field,
                "strategy": rule.strategy,
                "period": rule.period.text,
                "counted_from": rule.counted_from,
                "basis": rule.basis,
                "cutoff": _moment(cutoff_value(self.datamap, rule, as_of)),
                "due": int(count),
                "held": total - int(count),
                "oldest_due": _moment(oldest),
                "hold_ids": hold_ids,
            }
            if ids and due is not None:
                entry["ids"] = list(
                    session.scalars(
                        select(table.c[ID_COLUMN])
                        .where(*due)
                        .order_by(table.c[ID_COLUMN])
                        .limit(IDS_SHOWN)
                    )
                )
            rows.append(entry)
        return rows

    def _subject_hold_ids(
        self, session: Session, rule: RetentionRule, as_of: datetime, now: datetime
    ) -> list[str]:
        collection = self.datamap.collection(rule.collection)
        table = self.runtime.tables[rule.collection]
        owner = collection.owner_column
        if owner is None:
            return []
        every = self._conditions(session, rule, as_of, now, holds=False) or []
        return sorted(
            session.scalars(
                select(HOLDS.c.id)
                .where(
                    HOLDS.c.scope == HoldScope.SUBJECT.value,
                    active_clause(now),
                    HOLDS.c.subject_id.in_(select(table.c[owner]).where(*every)),
                )
                .limit(100)
            )
        )

    def read_plan(self, session: Session, *, ids: bool = False) -> dict[str, Any]:
        """What is due now (:meth:`plan`), audited in the caller's unit of work as read by
        the actor (counts only): the API, the console and the CLI read the plan here."""
        now = _now()
        rules = self.plan(session, now, ids=ids)
        self.runtime.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.RETENTION_PLAN_READ),
                actor=self.actor,
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                details={
                    "count": sum(r["due"] for r in rules),
                    "held": sum(r["held"] for r in rules),
                },
            ),
        )
        return {"as_of": now, "policy_version": self.runtime.policy.version, "rules": rules}

    # -- runs ------------------------------------------------------------------------------
    def start(
        self, session: Session, *, dry_run: bool = False, batch_size: int | None = None
    ) -> AfterCommit[RetentionRun]:
        """A sweep asked for by the actor (the API, the console, the CLI): the run recorded
        with its plan (or the unfinished one, to resume, :meth:`create`) and its
        ``retention.sweep`` job beside it (one per run: resuming joins its open job), in the
        caller's unit of work; the job is the caller's to deliver once that commits."""
        require(self.actor.role, Permission.RETENTION_MANAGE)
        run = self.create(session, dry_run=dry_run, batch_size=batch_size)
        job, _ = Jobs(session).enqueue(
            JobKind.RETENTION_SWEEP,
            run.id,
            actor=self.actor,
            exclusive=f"retention.sweep:{run.id}",
            trace_id=self.request_id,
        )
        return AfterCommit(run, (job.id,))

    def create(
        self,
        session: Session,
        *,
        dry_run: bool = False,
        batch_size: int | None = None,
        as_of: datetime | None = None,
    ) -> RetentionRun:
        """Record a run and its plan (in the caller's unit of work); or, if one is still
        unfinished (a crash or a restart stopped it), that one, to be resumed. ``as_of``
        (default now; never later) is the moment the cut-offs are counted from."""
        unfinished = self.unfinished(session)
        if unfinished is not None and not dry_run:
            return unfinished
        now = _now()
        as_of = min(as_of or now, now)
        run = RetentionRun(
            id=uuid.uuid4().hex,
            state="queued",
            dry_run=dry_run,
            batch_size=batch_size or DEFAULT_BATCH,
            as_of=as_of,
            requested_by=self.actor.id,
            policy_version=self.runtime.policy.version,
            created_at=now,
            plan=_jsonable(self.plan(session, as_of)),
            progress={
                r.name: {"done": 0, "batches": 0, "finished": False, "pending": []}
                for r in self.rules
            },
        )
        session.add(run)
        session.flush()
        self._audit(
            session,
            AuditAction.RETENTION_RUN_REQUESTED,
            run,
            {
                "run_id": run.id,
                "dry_run": dry_run,
                "count": sum(r["due"] for r in run.plan),
                "held": sum(r["held"] for r in run.plan),
            },
        )
        return run

    def unfinished(self, session: Session) -> RetentionRun | None:
        return session.scalar(
            select(RetentionRun)
            .where(RetentionRun.state.in_(("queued", "running")), RetentionRun.dry_run.is_(False))
            .order_by(RetentionRun.created_at)
            .limit(1)
        )

    def get(self, session: Session, run_id: str) -> RetentionRun:
        run = (
            session.get(RetentionRun, run_id)
            if isinstance(run_id, str) and len(run_id) <= 32
            else None
        )
        if run is None:
            raise RunNotFound()
        return run

    def recent(self, session: Session, limit: int = 20) -> list[RetentionRun]:
        return list(
            session.scalars(
                select(RetentionRun)
                .order_by(RetentionRun.created_at.desc(), RetentionRun.id)
                .limit(limit)
            )
        )

    def run(self, run_id: str) -> RetentionRun:
        """Apply every rule from where the run stopped; returns the finished run."""
        sessions = self.runtime.sessions
        try:
            with unit_of_work(sessions) as session:
                run = self._locked(session, run_id)
                if run.state in ("completed", "failed") and not run.dry_run:
                    if run.state == "completed":
                        return run
                    run.error = None
                if run.dry_run:
                    return self._finish(
                        session,
                        run,
                        {
                            "due": sum(r["due"] for r in run.plan),
                            "held": sum(r["held"] for r in run.plan),
                        },
                    )
                run.state = "running"
                run.started_at = run.started_at or _now()
                self._audit(session, AuditAction.RETENTION_RUN_STARTED, run, {"run_id": run.id})
            for rule in self.rules:
                while self._batch(run_id, rule):
                    pass
            with unit_of_work(sessions) as session:
                run = self._locked(session, run_id)
                totals: dict[str, int] = {}
                for rule in self.rules:
                    done = int(run.progress.get(rule.name, {}).get("done", 0))
                    key = {
                        "delete": "deleted",
                        "anonymize": "anonymised",
                        "erase": "erased",
                        "null": "fields_nulled",
                    }[rule.strategy]
                    totals[key] = totals.get(key, 0) + done
                totals["held"] = sum(r["held"] for r in run.plan)  # when it was asked for
                finished = self._finish(session, run, totals)
            self._resume_lapsed_erasures()
            return finished
        except Exception as exc:
            self._fail(run_id, type(exc).__name__)
            raise

    def _locked(self, session: Session, run_id: str) -> RetentionRun:
        run = session.get(RetentionRun, run_id, with_for_update=True, populate_existing=True)
        if run is None:
            raise RunNotFound()
        return run

    def _batch(self, run_id: str, rule: RetentionRule) -> bool:
        """One committed batch of ``rule``; False once nothing of it is due."""
        with unit_of_work(self.runtime.sessions) as session:
            run = self._locked(session, run_id)
            progress = dict(
                run.progress.get(rule.name)
                or {"done": 0, "batches": 0, "finished": False, "pending": []}
            )
            if progress.get("finished"):
                return False
            if progress.get("pending"):  # subjects erased up to their key: shred, verify
                self._shred_and_verify(session, run, rule, list(progress["pending"]))
                progress["pending"] = []
                return self._save(session, run, rule, progress, "shred")
            size = (
                min(run.batch_size, ERASE_BATCH_MAX)
                if rule.strategy == "erase"
                else (run.batch_size)
            )
            now = _now()
            where = self._conditions(session, rule, run.as_of, now, holds=True)
            table = self.runtime.tables[rule.collection]
            ids: list[str] = []
            if where is not None:
                # Keyset: rows before the last batch's last id were swept or skipped (held,
                # referenced); the cut-offs are fixed, so nothing behind it becomes due.
                after = progress.get("after")
                if after:
                    where = [*where, table.c[ID_COLUMN] > after]
                query = (
                    select(table.c[ID_COLUMN])
                    .where(*where)
                    .order_by(table.c[ID_COLUMN])
                    .limit(size)
                )
                if session.get_bind().dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                ids = list(session.scalars(query))
            if not ids:
                progress["finished"] = True
                self._save(session, run, rule, progress, "finished")
                return False
            collection = self.datamap.collection(rule.collection)
            if rule.strategy == "delete":
                session.execute(delete(table).where(table.c[ID_COLUMN].in_(ids)))
            elif rule.strategy == "anonymize":
                anonymize_ids(session, self.runtime, collection, ids)
            elif rule.strategy == "null":
                assert rule.field is not None
                values: dict[str, Any] = {rule.field: None}
                index = collection.fields[rule.field].blind_index_column
                if index:
                    values[index] = None
                session.execute(update(table).where(table.c[ID_COLUMN].in_(ids)).values(values))
            else:
                self._erase_in_store(session, ids)
                progress["pending"] = ids
            progress["after"] = max(ids)
            progress["done"] = int(progress.get("done", 0)) + len(ids)
            progress["batches"] = int(progress.get("batches", 0)) + 1
            self.runtime.audit.record(
                session,
                AuditEvent(
                    action=str(AuditAction.RETENTION_SWEPT),
                    actor=self.actor,
                    target=Target(collection=rule.collection),
                    policy_version=self.runtime.policy.version,
                    request_id=self.request_id,
                    details={
                        "rule": rule.name,
                        "count": len(ids),
                        "digest": digest(ids),
                        "run_id": run.id,
                        **({"fields": [rule.field]} if rule.field else {}),
                        **({"subject_ids": sorted(ids)} if rule.strategy == "erase" else {}),
                    },
                ),
            )
            return self._save(session, run, rule, progress, "batch")

    def _save(
        self,
        session: Session,
        run: RetentionRun,
        rule: RetentionRule,
        progress: dict[str, Any],
        moment: str,
    ) -> bool:
        run.progress = {**run.progress, rule.name: progress}
        flag_modified(run, "progress")
        session.flush()
        if self.checkpoint is not None:
            self.checkpoint(f"{rule.name}:{moment}", "before_commit")
        return True

    # -- erasing subjects -------------------------------------------------------------------
    def _erase_in_store(self, session: Session, ids: list[str]) -> None:
        """The erasure steps that change this database, for a batch of subjects: owned
        collections per their strategy, the subjects' records, consent history, exports,
        suppression entries. The key shred follows after this commits."""
        rt = self.runtime
        subject = self.datamap.subject()
        subjects = rt.tables[subject.name]
        email = erasure.email_field(self.datamap)
        suppress: list[bytes] = []
        if email is not None and email.blind_index_column:
            suppress = [
                bytes(v)
                for v in session.scalars(
                    select(subjects.c[email.blind_index_column]).where(
                        subjects.c[ID_COLUMN].in_(ids),
                        subjects.c[email.blind_index_column].is_not(None),
                    )
                )
            ]
        for collection in erasure.erasure_order(self.datamap):
            table = rt.tables[collection.name]
            owner = table.c[collection.owner_column or ID_COLUMN]
            if collection.is_subject or collection.erasure.strategy.value == "delete":
                session.execute(delete(table).where(owner.in_(ids)))
            else:
                owned = list(session.scalars(select(table.c[ID_COLUMN]).where(owner.in_(ids))))
                anonymize_ids(session, rt, collection, owned)
        session.execute(insert(PERMITS), [{"subject_id": s, "created_at": _now()} for s in ids])
        result: Any = session.execute(delete(EVENTS).where(EVENTS.c.subject_id.in_(ids)))
        erased = result.rowcount
        session.execute(delete(STATE).where(STATE.c.subject_id.in_(ids)))
        session.execute(delete(RESTRICTIONS).where(RESTRICTIONS.c.subject_id.in_(ids)))
        session.execute(delete(PERMITS).where(PERMITS.c.subject_id.in_(ids)))
        session.execute(
            delete(DsrExport).where(
                DsrExport.request_id.in_(
                    select(DsrRequest.id).where(DsrRequest.subject_id.in_(ids))
                )
            )
        )
        known = (
            set(
                session.scalars(
                    select(ErasureSuppression.email_bidx).where(
                        ErasureSuppression.email_bidx.in_(suppress)
                    )
                )
            )
            if suppress
            else set()
        )
        fresh = sorted(set(suppress) - {bytes(k) for k in known})
        if fresh:
            session.execute(
                insert(ErasureSuppression), [{"email_bidx": b, "created_at": _now()} for b in fresh]
            )
        rt.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.CONSENT_ERASED),
                actor=self.actor,
                policy_version=rt.policy.version,
                request_id=self.request_id,
                details={"count": int(erased or 0), "subject_ids": sorted(ids)},
            ),
        )

    def _shred_and_verify(
        self, session: Session, run: RetentionRun, rule: RetentionRule, ids: list[str]
    ) -> None:
        rt = self.runtime
        destroyed = [sid for sid in ids if rt.keys.shred(sid) is not None]
        rt.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.KEY_SHREDDED),
                actor=self.actor,
                policy_version=rt.policy.version,
                request_id=self.request_id,
                details={
                    "count": len(destroyed),
                    "subject_ids": sorted(ids),
                    "run_id": run.id,
                    "shredded": True,
                },
            ),
        )
        problems = self._verify(session, ids)
        if problems:
            raise ErasureNotVerified(problems)

    def _verify(self, session: Session, ids: list[str]) -> list[str]:
        """What an erasure's verify step checks, for the batch: no row of any collection
        names a subject, no key and no consent history remain."""
        rt = self.runtime
        remaining = []
        for collection in erasure.erasure_order(self.datamap):
            table = rt.tables[collection.name]
            owner = table.c[collection.owner_column or ID_COLUMN]
            remaining.append(
                select(literal(collection.name).label("name")).where(
                    exists(select(table.c[ID_COLUMN]).where(owner.in_(ids)))
                )
            )
        problems = [f"remaining:{n}" for n in session.scalars(union_all(*remaining))]
        if any(k is not None for k in rt.keys.data_keys(ids).values()):
            problems.append("key")
        if session.scalar(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.subject_id.in_(ids))
        ):
            problems.append("consent")
        return problems

    def _resume_lapsed_erasures(self) -> None:
        """Erasures that waited on a hold that has since lapsed resume with the sweep."""
        with unit_of_work(self.runtime.sessions) as session:
            resumed = resume_waiting(session, self.runtime, self.actor, request_id=self.request_id)
        for request_id in resumed:
            RequestExecutor(self.runtime, self.actor).run(request_id)

    # -- bookkeeping ------------------------------------------------------------------------
    def _finish(self, session: Session, run: RetentionRun, totals: dict[str, int]) -> RetentionRun:
        run.state = "completed"
        run.totals = totals
        run.error = None
        run.started_at = run.started_at or _now()
        run.finished_at = _now()
        self._audit(
            session,
            AuditAction.RETENTION_RUN_COMPLETED,
            run,
            {
                "run_id": run.id,
                "dry_run": run.dry_run,
                "count": sum(v for k, v in totals.items() if k not in ("held", "due")),
                "held": int(totals.get("held", 0)),
            },
        )
        return run

    def _fail(self, run_id: str, code: str) -> None:
        with unit_of_work(self.runtime.sessions) as session:
            run = session.get(RetentionRun, run_id)
            if run is None or run.state == "completed":
                return
            run.state = "failed"
            reason = "verification" if code == "ErasureNotVerified" else "error"
            run.error = reason
            self._audit(
                session,
                AuditAction.RETENTION_RUN_FAILED,
                run,
                {"run_id": run.id, "reason_code": reason},
                outcome=Outcome.FAILED,
            )

    def _audit(
        self,
        session: Session,
        action: AuditAction,
        run: RetentionRun,
        details: dict[str, Any],
        outcome: Outcome = Outcome.ALLOWED,
    ) -> None:
        self.runtime.audit.record(
            session,
            AuditEvent(
                action=str(action),
                actor=self.actor,
                outcome=outcome,
                target=Target(record_id=run.id),
                policy_version=self.runtime.policy.version,
                request_id=self.request_id,
                details=details,
            ),
        )


class ErasureNotVerified(Exception):
    """A batch of erased subjects failed the verification (names collections only)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems


def anonymize_ids(
    session: Session, runtime: Shared, collection: Collection, ids: Sequence[str]
) -> None:
    """Anonymise these rows as an erasure does (``erasure.anonymised_values``, year_only
    fields generalised per row)."""
    if not ids:
        return
    table = runtime.tables[collection.name]
    encrypted = runtime.crypto.encrypted_fields(collection.name)
    fixed = erasure.anonymised_values(collection, runtime.crypto)
    fixed[UPDATED_COLUMN] = _now()
    year_only = [
        f
        for f in collection.fields.values()
        if f.on_erasure is OnErasure.YEAR_ONLY and f.name not in encrypted
    ]
    if not year_only:
        session.execute(update(table).where(table.c[ID_COLUMN].in_(list(ids))).values(fixed))
        return
    rows = session.execute(
        select(table.c[ID_COLUMN], *(table.c[f.name] for f in year_only)).where(
            table.c[ID_COLUMN].in_(list(ids))
        )
    ).all()
    for row in rows:
        values = dict(fixed)
        for f, value in zip(year_only, row[1:], strict=True):
            values[f.name] = erasure._year_only(f, value)
        session.execute(update(table).where(table.c[ID_COLUMN] == row[0]).values(values))


def _moment(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
    return str(value)


def _jsonable(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "ids"} for r in plan]
