"""The audit log service: the only code that writes audit rows.

Appending and integrating are split, as in Trillian:

- :meth:`AuditLog.record` inserts the event's canonical bytes and a queue row in the
  caller's transaction, so the event lands exactly when the change it records lands, and
  takes no lock: any number of writers append at once.
- :meth:`AuditLog.integrate` (one integrator at a time: a PostgreSQL advisory lock, or on
  SQLite the write lock taken by its first statement) drains the queue in order, gives each
  entry its position, stores the leaf hash and the new perfect-subtree nodes, and optionally
  signs a checkpoint. Only integrated events have a position and can be proven.

Verification recomputes every leaf from its bytes and the tree from the leaves, and checks
every stored checkpoint's signature and root, so an edited, removed or reordered row is
reported by position.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from audit.checkpoint import Checkpoint, NoteSigner, NoteVerificationError, verify_note
from audit.events import AuditEvent, canonical_bytes, format_time, parse_leaf
from audit.models import (
    audit_checkpoints,
    audit_entries,
    audit_integrator,
    audit_nodes,
    audit_queue,
    audit_sequence,
)
from audit.tree import (
    CompactRange,
    consistency_proof_nodes,
    inclusion_proof_nodes,
    leaf_hash,
    root_hash,
)

# A fixed key for pg_advisory_xact_lock: "audit integrator" (any constant would do; this one
# is the first 8 bytes of SHA-256(b"crm-privacy-gateway/audit-integrator")).
_ADVISORY_KEY = 0x2B6A3F1C5D7E9A01
INTEGRATE_BATCH = 5000
_INSERT_ENTRY = insert(audit_entries)
_INSERT_QUEUE = insert(audit_queue)


class AuditError(Exception):
    pass


class ProofRangeError(AuditError, ValueError):
    """The asked positions or sizes are not inside the integrated log."""


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    created_at: datetime
    key_name: str
    note: str


@dataclass(frozen=True)
class LoggedEvent:
    index: int
    leaf: bytes

    @property
    def document(self) -> dict[str, Any]:
        return parse_leaf(self.leaf)


@dataclass(frozen=True)
class IntegrationResult:
    integrated: int
    tree_size: int
    checkpoint: StoredCheckpoint | None = None
    locked_out: bool = False


@dataclass
class VerifyReport:
    tree_size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    def __init__(self, signer: NoteSigner, origin: str) -> None:
        self.signer = signer
        self.origin = origin

    # -- appending ---------------------------------------------------------------------
    def record(self, session: Session, event: AuditEvent, *, now: datetime | None = None) -> str:
        """Add the event to the caller's transaction. Raises UnsafeAuditEvent if it could
        carry a personal value; nothing is written then."""
        event.validate()
        event_id = uuid.uuid4().hex
        recorded_at = now or datetime.now(UTC)
        data = canonical_bytes(event.to_document(event_id, recorded_at))
        # Prebuilt statements with parameters: building a VALUES clause per call cost more
        # than the insert itself on the append hot path.
        entry_id = session.execute(
            _INSERT_ENTRY,
            {
                "event_id": event_id,
                "recorded_at": recorded_at,
                "actor_id": event.actor.id,
                "action": event.action,
                "subject_id": event.target.subject_id,
                "data": data,
            },
        ).inserted_primary_key[0]
        session.execute(_INSERT_QUEUE, {"entry_id": entry_id})
        return event_id

    # -- integrating -------------------------------------------------------------------
    def _lock(self, session: Session, wait: bool) -> bool:
        """Become the one integrator for this transaction. Must be its first statement."""
        if session.get_bind().dialect.name == "postgresql":
            if wait:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
                return True
            return bool(
                session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
            )
        # SQLite: the first write of a transaction takes the database's write lock, held
        # until commit, so everything read after it is current and no one else integrates.
        session.execute(
            update(audit_integrator)
            .where(audit_integrator.c.id == 1)
            .values(runs=audit_integrator.c.runs + 1)
        )
        return True

    def integrate(
        self,
        session: Session,
        *,
        wait: bool = True,
        batch: int = INTEGRATE_BATCH,
        checkpoint: bool = False,
        max_batches: int | None = None,
    ) -> IntegrationResult:
        """Sequence queued entries into the tree. Call in a fresh transaction and commit it."""
        if not self._lock(session, wait):
            return IntegrationResult(integrated=0, tree_size=-1, locked_out=True)
        size = self.tree_size(session)
        compact = CompactRange.from_storage(size, self._node_getter(session))
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            rows = session.execute(
                select(audit_queue.c.entry_id, audit_entries.c.data)
                .join(audit_entries, audit_entries.c.id == audit_queue.c.entry_id)
                .order_by(audit_queue.c.entry_id)
                .limit(batch)
            ).all()
            if not rows:
                break
            sequence_rows, node_rows = [], []
            for entry_id, data in rows:
                leaf = leaf_hash(bytes(data))
                position = compact.size
                for level, idx, digest in compact.append(leaf):
                    if level > 0:
                        node_rows.append({"level": level, "idx": idx, "hash": digest})
                sequence_rows.append({"leaf_index": position, "entry_id": entry_id, "leaf_hash": leaf})
            session.execute(insert(audit_sequence), sequence_rows)
            if node_rows:
                session.execute(insert(audit_nodes), node_rows)
            ids = [r[0] for r in rows]
            session.execute(delete(audit_queue).where(audit_queue.c.entry_id.in_(ids)))
            total += len(rows)
            batches += 1
            if len(rows) < batch:
                break
        stored = None
        if checkpoint:
            latest = self.latest_checkpoint(session)
            if latest is None or latest.tree_size < compact.size:
                stored = self._sign(session, compact.size, compact.root())
        return IntegrationResult(integrated=total, tree_size=compact.size, checkpoint=stored)

    def _sign(self, session: Session, size: int, root: bytes) -> StoredCheckpoint:
        note = self.signer.sign_checkpoint(Checkpoint(self.origin, size, root))
        row = StoredCheckpoint(
            tree_size=size,
            root_hash=root,
            created_at=datetime.now(UTC),
            key_name=self.signer.name,
            note=note,
        )
        session.execute(insert(audit_checkpoints).values(**vars(row)))
        return row

    # -- reading the tree ----------------------------------------------------------------
    def tree_size(self, session: Session) -> int:
        top = session.scalar(select(func.max(audit_sequence.c.leaf_index)))
        return 0 if top is None else int(top) + 1

    def pending(self, session: Session) -> int:
        return int(session.scalar(select(func.count()).select_from(audit_queue)) or 0)

    def _node_getter(self, session: Session) -> Any:
        def get(level: int, index: int) -> bytes:
            if level == 0:
                found = session.scalar(
                    select(audit_sequence.c.leaf_hash).where(audit_sequence.c.leaf_index == index)
                )
            else:
                found = session.scalar(
                    select(audit_nodes.c.hash).where(
                        and_(audit_nodes.c.level == level, audit_nodes.c.idx == index)
                    )
                )
            if found is None:
                raise AuditError(f"tree node ({level}, {index}) is missing from storage")
            return bytes(found)

        return get

    def _fetch_nodes(self, session: Session, nodes: list[tuple[int, int]]) -> Any:
        """Fetch a proof's nodes in two queries and serve them as a node getter."""
        found: dict[tuple[int, int], bytes] = {}
        leaves = [i for level, i in nodes if level == 0]
        inner = [(level, i) for level, i in nodes if level > 0]
        if leaves:
            for idx, digest in session.execute(
                select(audit_sequence.c.leaf_index, audit_sequence.c.leaf_hash).where(
                    audit_sequence.c.leaf_index.in_(leaves)
                )
            ):
                found[(0, int(idx))] = bytes(digest)
        if inner:
            clause = or_(*(and_(audit_nodes.c.level == lv, audit_nodes.c.idx == i) for lv, i in inner))
            for level, idx, digest in session.execute(
                select(audit_nodes.c.level, audit_nodes.c.idx, audit_nodes.c.hash).where(clause)
            ):
                found[(int(level), int(idx))] = bytes(digest)

        def get(level: int, index: int) -> bytes:
            try:
                return found[(level, index)]
            except KeyError:
                raise AuditError(f"tree node ({level}, {index}) is missing from storage") from None

        return get

    def root_at(self, session: Session, size: int) -> bytes:
        from audit.tree import root_nodes

        return root_hash(size, self._fetch_nodes(session, list(root_nodes(size))))

    def inclusion_proof(self, session: Session, index: int, size: int) -> tuple[bytes, list[bytes]]:
        current = self.tree_size(session)
        if not (0 <= index < size <= current):
            raise ProofRangeError(
                f"need 0 <= index < tree_size <= {current} (the integrated log size)"
            )
        plan = inclusion_proof_nodes(index, size)
        getter = self._fetch_nodes(session, [*plan.nodes(), (0, index)])
        return getter(0, index), plan.resolve(getter)

    def consistency_proof(self, session: Session, first: int, second: int) -> list[bytes]:
        current = self.tree_size(session)
        if not (0 < first <= second <= current):
            raise ProofRangeError(f"need 0 < first <= second <= {current} (the integrated log size)")
        plan = consistency_proof_nodes(first, second)
        return plan.resolve(self._fetch_nodes(session, plan.nodes()))

    def latest_checkpoint(self, session: Session) -> StoredCheckpoint | None:
        row = session.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size.desc()).limit(1)
        ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint_at(self, session: Session, size: int) -> StoredCheckpoint | None:
        row = session.execute(
            select(audit_checkpoints).where(audit_checkpoints.c.tree_size == size)
        ).first()
        return None if row is None else _checkpoint(row)

    # -- querying events -----------------------------------------------------------------
    def events(
        self,
        session: Session,
        *,
        actor: str | None = None,
        action: str | None = None,
        subject_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_index: int | None = None,
        limit: int = 50,
    ) -> list[LoggedEvent]:
        query = (
            select(audit_sequence.c.leaf_index, audit_entries.c.data)
            .join(audit_entries, audit_entries.c.id == audit_sequence.c.entry_id)
            .order_by(audit_sequence.c.leaf_index)
            .limit(limit)
        )
        if actor is not None:
            query = query.where(audit_entries.c.actor_id == actor)
        if action is not None:
            if action.endswith(".*"):
                query = query.where(audit_entries.c.action.startswith(action[:-1]))
            else:
                query = query.where(audit_entries.c.action == action)
        if subject_id is not None:
            query = query.where(audit_entries.c.subject_id == subject_id)
        if since is not None:
            query = query.where(audit_entries.c.recorded_at >= since)
        if until is not None:
            query = query.where(audit_entries.c.recorded_at < until)
        if after_index is not None:
            query = query.where(audit_sequence.c.leaf_index > after_index)
        return [LoggedEvent(index=int(i), leaf=bytes(d)) for i, d in session.execute(query)]

    # -- verifying ---------------------------------------------------------------------
    def verify(self, session: Session, public_key: bytes | None = None) -> VerifyReport:
        """Recompute every leaf and the tree from the rows; check every checkpoint."""
        report = VerifyReport()
        leaves: list[bytes] = []
        expected = 0
        # Streamed (a server-side cursor on PostgreSQL). The option is set on the statement:
        # on the connection it would stick and send every later INSERT through such a cursor.
        rows = session.connection().execute(
            select(audit_sequence.c.leaf_index, audit_sequence.c.leaf_hash, audit_entries.c.data)
            .outerjoin(audit_entries, audit_entries.c.id == audit_sequence.c.entry_id)
            .order_by(audit_sequence.c.leaf_index)
            .execution_options(yield_per=20_000)
        )
        problems = report.problems
        append = leaves.append
        sha256 = hashlib.sha256
        for index, stored, data in rows:  # the hot loop: leaf_hash() inlined
            if index != expected:
                if index > expected:
                    problems.append(f"positions {expected}-{index - 1}: missing from the log")
                else:
                    problems.append(f"position {index}: appears twice")
                    continue
                expected = index
            if data is None:
                problems.append(f"position {index}: event row missing")
                append(bytes(stored))
            else:
                computed = sha256(b"\x00" + data).digest()
                if computed != stored:
                    problems.append(f"position {index}: event bytes do not match the leaf hash")
                append(computed)
            expected += 1
        levels = _perfect_levels(leaves)
        report.tree_size = len(leaves)
        report.root_hash = _root_from_levels(levels, len(leaves))
        key = public_key if public_key is not None else self.signer.public_key_bytes
        last_good = 0
        for row in session.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size)):
            cp = _checkpoint(row)
            report.checkpoints_checked += 1
            try:
                signed = verify_note(cp.note, cp.key_name, key)
            except NoteVerificationError:
                problems.append(f"checkpoint at size {cp.tree_size}: signature does not verify")
                continue
            if signed.tree_size != cp.tree_size or signed.root_hash != cp.root_hash:
                problems.append(f"checkpoint at size {cp.tree_size}: row differs from its signed note")
                continue
            if cp.tree_size > len(leaves):
                problems.append(
                    f"checkpoint at size {cp.tree_size}: the log holds only {len(leaves)} events"
                )
                continue
            if _root_from_levels(levels, cp.tree_size) != cp.root_hash:
                problems.append(
                    f"checkpoint at size {cp.tree_size}: recomputed root differs; an event at "
                    f"positions {last_good}-{cp.tree_size - 1} was altered"
                )
                continue
            last_good = cp.tree_size
        report.pending = self.pending(session)
        return report

    # -- exporting ---------------------------------------------------------------------
    def export(self, session: Session, out: IO[str]) -> int:
        """Write every integrated event as JSON Lines, then the latest checkpoint."""
        count = 0
        after = -1
        while True:
            page = self.events(session, after_index=after, limit=5000)
            if not page:
                break
            for event in page:
                line = {"index": event.index, "leaf": base64.b64encode(event.leaf).decode(),
                        "event": event.document}
                out.write(json.dumps(line, sort_keys=True) + "\n")
                count += 1
            after = page[-1].index
        cp = self.latest_checkpoint(session)
        if cp is not None:
            out.write(json.dumps({"checkpoint": {
                "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(), "note": cp.note,
                "key_name": cp.key_name, "timestamp": format_time(cp.created_at),
                "public_key": base64.b64encode(self.signer.public_key_bytes).decode(),
            }}, sort_keys=True) + "\n")
        return count

    def iter_all(self, session: Session) -> Iterator[LoggedEvent]:
        after = -1
        while page := self.events(session, after_index=after, limit=5000):
            yield from page
            after = page[-1].index


def _checkpoint(row: Any) -> StoredCheckpoint:
    m = row._mapping
    created = m["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return StoredCheckpoint(
        tree_size=int(m["tree_size"]),
        root_hash=bytes(m["root_hash"]),
        created_at=created,
        key_name=m["key_name"],
        note=m["note"],
    )


def _perfect_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """All perfect subtree hashes, level by level (level k holds len(leaves) >> k nodes)."""
    sha256 = hashlib.sha256
    levels = [leaves]
    current = leaves
    while len(current) > 1:
        # node_hash() inlined: SHA-256(0x01 || left || right) over every complete pair.
        current = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(current[0::2], current[1::2], strict=False)
        ]
        levels.append(current)
    return levels


def _root_from_levels(levels: list[list[bytes]], size: int) -> bytes:
    if size == 0:
        return root_hash(0, lambda level, index: b"")
    return root_hash(size, lambda level, index: levels[level][index])
