"""PII services: analyse text, redact it, check a write, and scan the store.

Every service takes the process's :class:`PiiEngine` (built once, see ``engine.py``) and the
data map; the store scan takes the engine's :class:`EngineSpec` instead, because its
analysis runs in worker processes that each build the engine (``pool.py``), and a session
factory, because it runs as a background job that commits collection by collection so that
it can resume. One scan at a time: a request while one is queued or running gets that one
(``ScanService.request``), and the database refuses a second unfinished scan. A scan reads
the store page by page, each page in a short read transaction of its own, and writes only
short transactions of results: on SQLite it never holds the write lock while it reads or
analyses, nor a read snapshot between pages, so reads and writes never wait for it.
Nothing here returns, stores, logs or audits a matched value: entity types,
positions, counts and scores only.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from audit.events import Actor, AuditEvent, Outcome, Target
from governance.audit_actions import AuditAction
from governance.authz import Permission, require
from governance.db import unit_of_work
from governance.errors import ValidationFailed
from governance.jobs.after_commit import AfterCommit
from governance.jobs.service import JobKind, Jobs
from governance.keys.services import FieldCrypto
from governance.pii.engine import EngineSpec, PiiEngine
from governance.pii.errors import (
    InvalidText,
    PiiRefused,
    ScanNotFound,
    TextTooLarge,
)
from governance.pii.models import (
    UNFINISHED_STATES,
    Entity,
    FieldFinding,
    OnPii,
    PiiScan,
    PiiScanField,
    ScanState,
    WriteCheck,
)
from governance.pii.plans import FieldPlan, plan_fields
from governance.pii.pool import PendingScan, ScanPool
from governance.store.schema import CrmTables
from governance.store.services import Record, RecordStore
from governance.timestamps import as_utc
from policies.types import Collection, DataMap, Field

SYSTEM_ACTOR = Actor(id="system:pii-scan", role="system")
#: Records a scan reads in one short transaction.
SCAN_PAGE = 500


def record_store(
    session: Session, datamap: DataMap, tables: CrmTables, crypto: FieldCrypto
) -> RecordStore:
    """The one place PII code constructs a RecordStore (it decrypts in memory only)."""
    return RecordStore(session, datamap, tables, crypto)


# -- analysis and redaction ----------------------------------------------------------------
class PiiAnalysis:
    """``POST /v1/pii/analyze`` and free-text redaction (the policy's ``redact_pii`` mask)."""

    def __init__(self, engine: PiiEngine, *, max_chars: int, hash_key: bytes | None = None) -> None:
        self.engine = engine
        self.max_chars = max_chars
        self.hash_key = hash_key

    def _text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidText("text must be a non-empty string")
        if len(text) > self.max_chars:
            raise TextTooLarge(f"text must be at most {self.max_chars} characters")
        return text

    def analyze(self, text: Any, entities: Sequence[str] | None = None) -> list[Entity]:
        if entities is not None and not set(entities) <= self.engine.entities:
            # A misspelt type would otherwise answer "nothing found". The names are not
            # echoed: a client may put anything in them.
            known = ", ".join(sorted(self.engine.entities))
            raise ValidationFailed(
                "the request asks for entity types this service does not detect",
                {"entities": [f"must be among: {known}"]},
            )
        return self.engine.analyze(self._text(text), free_text=True, entities=entities)

    def redact(
        self, text: str, entity_types: Sequence[str] | None = None, operator: str = "replace"
    ) -> str:
        """``text`` with each entity of ``entity_types`` (all personal types if None)
        replaced by ``<TYPE>``, masked, or replaced by a keyed hash that is stable per value."""
        if not text:
            return text
        wanted = set(entity_types) if entity_types else self.engine.config.personal_entities
        found = [e for e in self.engine.analyze(text, free_text=True) if e.type in wanted]
        return self.engine.redact(text, found, operator, key=self.hash_key)


# -- the write-time check ------------------------------------------------------------------
class WriteChecker:
    """Check the free-text fields of a write against what their data category declares.

    ``check`` finds, per free-text field, the personal entity types its category does not
    declare (an e-mail typed into ticket notes); ``enforce`` applies the policy's choice:
    refuse (:class:`PiiRefused`, 422 with entity types and positions) or redact them before
    the value is stored.
    """

    def __init__(self, engine: PiiEngine, datamap: DataMap, analysis: PiiAnalysis) -> None:
        self.engine = engine
        self.datamap = datamap
        self.analysis = analysis

    def _checked_fields(self, collection: Collection, values: Mapping[str, Any]) -> list[Field]:
        return [
            f
            for name, f in collection.fields.items()
            if f.free_text and isinstance(values.get(name), str) and values[name].strip()
        ]

    def _wanted(self, fields: Sequence[Field]) -> list[str]:
        """The entity types the check looks for: the personal ones some field does not
        declare, and the CRM identifiers, which tell an order or customer number from a
        phone or card number. URLs, dates, VAT ids and organisations are not personal data,
        and the check does not report them, so their recognizers are not run (0.8 ms of a
        2,000-character note; on the evaluation sources, the bench's notes and its
        records, 2,580 texts, the personal findings are the same as with every type)."""
        config = self.engine.config
        declared = frozenset.intersection(*(config.declared_entities(f.category) for f in fields))
        return sorted(
            ((config.personal_entities - declared) | self.engine.crm_identifiers)
            & self.engine.entities
        )

    def check(self, collection_name: str, values: Mapping[str, Any]) -> WriteCheck:
        collection = self.datamap.collections[collection_name]
        fields = self._checked_fields(collection, values)
        texts = [values[f.name] for f in fields]
        results = (
            self.engine.analyze_batch(texts, free_text=True, entities=self._wanted(fields))
            if texts
            else []
        )
        personal = self.engine.config.personal_entities
        findings = []
        for f, entities in zip(fields, results, strict=True):
            declared = self.engine.config.declared_entities(f.category)
            findings += [
                FieldFinding(f.name, e.type, e.start, e.end, e.score)
                for e in entities
                if e.type in personal and e.type not in declared
            ]
        return WriteCheck(collection_name, tuple(findings), dict(values))

    def enforce(
        self,
        collection_name: str,
        values: Mapping[str, Any],
        on_pii: OnPii | str,
        operator: str = "replace",
    ) -> WriteCheck:
        result = self.check(collection_name, values)
        if result.clean:
            return result
        if OnPii(on_pii) is OnPii.REFUSE:
            raise PiiRefused(collection_name, result.findings)
        by_field: dict[str, list[Entity]] = defaultdict(list)
        for f in result.findings:
            by_field[f.field].append(Entity(f.entity_type, f.start, f.end, f.score, ""))
        cleaned = dict(values)
        for name, entities in by_field.items():
            cleaned[name] = self.engine.redact(
                values[name], entities, operator, key=self.analysis.hash_key
            )
        return WriteCheck(collection_name, result.findings, cleaned)


# -- the store scan ------------------------------------------------------------------------
def analyse_column(
    engine: PiiEngine, plan: FieldPlan, values: Sequence[str], found: Sequence[list[Entity]]
) -> dict[str, Any]:
    """The result of one field from the entities ``found`` in each of its sampled
    ``values`` (``ScanPool``): entity types with counts and mean scores, and findings."""
    field = plan.field
    result: dict[str, Any] = {
        "category": field.category,
        "personal": field.is_personal,
        "free_text": field.free_text,
        "encrypted": field.encrypted,
        "method": plan.method,
        "sampled": len(values),
        "entities": {},
        "findings": [],
    }
    declared = engine.config.declared_entities(field.category)
    result["declared_entities"] = sorted(declared)
    if plan.method == "typed":
        return result
    stats: dict[str, list[float]] = defaultdict(list)
    holders: dict[str, int] = defaultdict(int)
    for entities in found:
        for t in {e.type for e in entities}:
            holders[t] += 1
        for e in entities:
            stats[e.type].append(e.score)
    # fsum is exact: the same sample gives the same means in whatever order its records
    # came (a sample starts at a random id)
    result["entities"] = {
        t: {"values": holders[t], "hits": len(s), "mean_score": round(math.fsum(s) / len(s), 3)}
        for t, s in sorted(stats.items())
    }
    personal = engine.config.personal_entities
    for t in sorted(stats):
        if t in personal and t not in declared:
            result["findings"].append(
                {"kind": "undeclared", "entity_type": t, "values": holders[t]}
            )
    # What the category declares and this method can see, yet no sampled value held.
    verifiable = declared if plan.method == "ner+patterns" else declared - engine.ner_entities
    too_short = field.max_length is not None and field.max_length < 8  # e.g. a card's last 4
    if values and verifiable and not too_short and not (verifiable & set(stats)):
        result["findings"].append(
            {"kind": "declared_not_found", "entity_types": sorted(verifiable)}
        )
    return result


@dataclass(frozen=True)
class _Submitted:
    """A collection's sampled values, each field's handed to the scan pool."""

    collection: str
    scans: list[tuple[FieldPlan, list[str], PendingScan]]


class ScanService:
    """Create, run (resumably) and report store scans.

    A run analyses in ``processes`` worker processes (``GOVERNANCE_PII_SCAN_PROCESSES``;
    1: in this process), started with the run and stopped at its end, also on failure.
    Records are read and decrypted here, in memory only; the workers get the values and
    return entity lists. ``read_sessions`` are the runtime's read-only sessions (on SQLite
    their transactions take no write lock); the store is read through them page by page.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        datamap: DataMap,
        tables: CrmTables,
        crypto: FieldCrypto,
        engine_spec: EngineSpec,
        audit: Any,
        policy_version: str,
        *,
        processes: int = 1,
        read_sessions: sessionmaker[Session] | None = None,
        page_size: int = SCAN_PAGE,
    ) -> None:
        self.sessions = sessions
        self.datamap = datamap
        self.tables = tables
        self.crypto = crypto
        self.engine_spec = engine_spec
        self.audit = audit
        self.policy_version = policy_version
        self.processes = processes
        self.read_sessions = read_sessions or sessions
        self.page_size = page_size

    def active(self, session: Session) -> PiiScan | None:
        """The scan queued or running, if there is one (there is at most one)."""
        return session.scalars(
            select(PiiScan).where(PiiScan.state.in_(UNFINISHED_STATES)).limit(1)
        ).first()

    def start(
        self, session: Session, actor: Actor, *, sample: int, request_id: str | None = None
    ) -> AfterCommit[tuple[PiiScan, bool]]:
        """A scan asked for by ``actor`` (the API, the console): :meth:`request`, audited in
        the caller's unit of work, and for a new scan its job (one per scan: a second
        delivery runs nothing), the caller's to deliver once that commits. Returns the scan
        to follow and whether it is new."""
        require(actor.role, Permission.PII_ANALYZE)
        scan, created = self.request(session, sample=sample, requested_by=actor.id)
        self.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.PII_SCAN_REQUESTED),
                actor=actor,
                target=Target(record_id=scan.id),
                policy_version=self.policy_version,
                request_id=request_id,
                details={"count": scan.fields_total, "status": "queued" if created else scan.state},
            ),
        )
        if not created:
            return AfterCommit((scan, False))
        job, _ = Jobs(session).enqueue(
            JobKind.PII_SCAN,
            scan.id,
            actor=actor,
            exclusive=f"pii.scan:{scan.id}",
            trace_id=request_id,
        )
        return AfterCommit((scan, True), (job.id,))

    def request(self, session: Session, *, sample: int, requested_by: str) -> tuple[PiiScan, bool]:
        """The scan to follow: the one queued or running (``False``: nothing new was
        created), else a new one (``True``). A request that races another to create one
        meets the database's unique index and gets the other's scan."""
        current = self.active(session)
        if current is not None:
            return current, False
        try:
            with session.begin_nested():
                scan = self.create(session, sample=sample, requested_by=requested_by)
        except IntegrityError:
            current = self.active(session)
            if current is None:
                raise
            return current, False
        return scan, True

    def create(self, session: Session, *, sample: int, requested_by: str) -> PiiScan:
        """A new queued scan; the flush fails (``IntegrityError``) if one is unfinished."""
        plans = plan_fields(self.datamap)
        scan = PiiScan(
            id=uuid.uuid4().hex,
            state=ScanState.QUEUED.value,
            sample_size=sample,
            fields_total=len(plans),
            fields_done=0,
            requested_by=requested_by,
            policy_version=self.policy_version,
            created_at=datetime.now(UTC),
        )
        session.add(scan)
        session.flush()
        session.add_all(
            PiiScanField(
                scan_id=scan.id, collection=p.collection, field=p.field.name, position=i, done=False
            )
            for i, p in enumerate(plans)
        )
        session.flush()
        return scan

    def recent(self, session: Session, limit: int = 20) -> list[PiiScan]:
        """The latest scans, newest first: what an officer compares a new scan with."""
        return list(
            session.scalars(
                select(PiiScan).order_by(PiiScan.created_at.desc(), PiiScan.id.desc()).limit(limit)
            )
        )

    def get(self, session: Session, scan_id: str) -> PiiScan:
        scan = session.get(PiiScan, scan_id) if isinstance(scan_id, str) else None
        if scan is None:
            raise ScanNotFound()
        return scan

    def unfinished(self, session: Session) -> list[str]:
        return list(session.scalars(select(PiiScan.id).where(PiiScan.state.in_(UNFINISHED_STATES))))

    def run(self, scan_id: str, progress: Callable[[int, int], None] | None = None) -> None:
        """Scan every pending field; each collection's results commit together, so a run
        that stops resumes with the collections not yet done."""
        with unit_of_work(self.sessions) as session:
            scan = self.get(session, scan_id)
            if scan.state in (ScanState.COMPLETED.value, ScanState.FAILED.value):
                return
            scan.state = ScanState.RUNNING.value
            scan.started_at = scan.started_at or datetime.now(UTC)
            sample = scan.sample_size
            pending = [
                (row.collection, row.field)
                for row in session.scalars(
                    select(PiiScanField)
                    .where(PiiScanField.scan_id == scan_id, PiiScanField.done.is_(False))
                    .order_by(PiiScanField.position)
                )
            ]
        try:
            plans = {(p.collection, p.field.name): p for p in plan_fields(self.datamap)}
            by_collection: dict[str, list[FieldPlan]] = defaultdict(list)
            for key in pending:
                if key in plans:
                    by_collection[key[0]].append(plans[key])
            with ScanPool(self.engine_spec, self.processes) as pool:
                pool.start()  # the workers load their analyzers while the first sample is read
                engine = self.engine_spec.engine()
                # One collection ahead: the next one is read and decrypted here while the
                # workers analyse the one before, whose results are then stored.
                ahead: _Submitted | None = None
                for collection, field_plans in by_collection.items():
                    submitted = self._submit(collection, field_plans, sample, pool)
                    if ahead is not None:
                        self._store(scan_id, ahead, engine, progress)
                    ahead = submitted
                if ahead is not None:
                    self._store(scan_id, ahead, engine, progress)
        except Exception as exc:
            with unit_of_work(self.sessions) as session:
                scan = self.get(session, scan_id)
                scan.state = ScanState.FAILED.value
                scan.error = type(exc).__name__[:200]  # the type only: text may carry values
                scan.finished_at = datetime.now(UTC)
                self._audit(session, scan, Outcome.FAILED)
            raise
        with unit_of_work(self.sessions) as session:
            scan = self.get(session, scan_id)
            scan.state = ScanState.COMPLETED.value
            scan.finished_at = datetime.now(UTC)
            self._audit(session, scan, Outcome.ALLOWED)

    def _submit(
        self, collection: str, field_plans: Sequence[FieldPlan], sample: int, pool: ScanPool
    ) -> _Submitted:
        """Sample one collection and hand all its fields to the pool at once."""
        columns = self._sample(collection, field_plans, sample)
        scans = [
            (plan, columns[plan.field.name], pool.submit(plan, columns[plan.field.name]))
            for plan in field_plans
        ]
        return _Submitted(collection, scans)

    def _store(
        self,
        scan_id: str,
        submitted: _Submitted,
        engine: PiiEngine,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """Wait for a collection's fields, then commit their results together (the unit a
        resumed run starts again from) in a short transaction: the wait is outside it."""
        results = [
            (plan, analyse_column(engine, plan, values, pending.result()))
            for plan, values, pending in submitted.scans
        ]
        with unit_of_work(self.sessions) as session:
            for plan, result in results:
                key = (scan_id, submitted.collection, plan.field.name)
                row = session.get(PiiScanField, key)
                assert row is not None  # created with the scan, never deleted
                row.result = result
                row.done = True
            scan = self.get(session, scan_id)
            scan.fields_done += len(submitted.scans)
            done, total = scan.fields_done, scan.fields_total
        if progress:
            progress(done, total)

    def _audit(self, session: Session, scan: PiiScan, outcome: Outcome) -> None:
        self.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.PII_SCAN_COMPLETED),
                actor=SYSTEM_ACTOR,
                outcome=outcome,
                target=Target(record_id=scan.id),
                policy_version=self.policy_version,
                details={"count": scan.fields_done, "status": scan.state},
            ),
        )

    def _sample(
        self, collection: str, plans: Sequence[FieldPlan], sample: int
    ) -> dict[str, list[str]]:
        """Up to ``sample`` records from a random starting id (wrapping around), the text
        values of the planned fields; decrypted by the store, in memory only."""
        names = [p.field.name for p in plans if p.method != "typed"]
        columns: dict[str, list[str]] = {p.field.name: [] for p in plans}
        if not names:
            return columns
        for page in self.pages(collection, names, start=secrets.token_hex(16), sample=sample):
            for record in page:
                for name in names:
                    value = record.values.get(name)
                    if isinstance(value, str) and value.strip():
                        columns[name].append(value)
        return columns

    def pages(
        self, collection: str, names: Sequence[str], *, start: str, sample: int
    ) -> Iterator[list[Record]]:
        """Up to ``sample`` records of ``collection`` with the ids after ``start``, then
        from the first id up to ``start``, in pages of at most ``page_size``.

        Each page is read in a read transaction of its own, ended before the page is
        handed out: while the caller works on a page, the scan holds no lock and no
        snapshot of the store (SQLite can checkpoint its WAL), and no transaction spans
        two pages."""
        taken = 0
        for after, stop in ((start, None), (None, start)):
            while taken < sample:
                with unit_of_work(self.read_sessions) as session:
                    page = record_store(session, self.datamap, self.tables, self.crypto).list(
                        collection, names, after=after, limit=min(self.page_size, sample - taken)
                    )
                records = page.items
                wrapped = False
                if stop is not None and any(r.id > stop for r in records):
                    wrapped = True
                    records = [r for r in records if r.id <= stop]
                if records:
                    taken += len(records)
                    yield records
                if wrapped:
                    return
                if page.next_after is None:
                    break
                after = page.next_after

    def report(self, session: Session, scan_id: str) -> dict[str, Any]:
        scan = self.get(session, scan_id)
        rows = session.scalars(
            select(PiiScanField)
            .where(PiiScanField.scan_id == scan_id)
            .order_by(PiiScanField.position)
        )
        fields = []
        findings = []
        for row in rows:
            entry = {"collection": row.collection, "field": row.field, "done": row.done}
            if row.result:
                entry.update(row.result)
                for f in row.result.get("findings", []):
                    findings.append({"collection": row.collection, "field": row.field, **f})
            fields.append(entry)
        return {
            "id": scan.id,
            "state": scan.state,
            "sample_size": scan.sample_size,
            "progress": {"fields_done": scan.fields_done, "fields_total": scan.fields_total},
            "created_at": as_utc(scan.created_at),
            "started_at": as_utc(scan.started_at),
            "finished_at": as_utc(scan.finished_at),
            "policy_version": scan.policy_version,
            "error": scan.error,
            "fields": fields,
            "findings": findings,
        }
