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
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Delete,
    LargeBinary,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from audit import rawsql
from audit.checkpoint import Checkpoint, NoteSigner, NoteVerificationError, verify_note
from audit.columns import (
    check_rows,
    first_mismatch,
    index_matches,
    index_suffix,
    time_text,
)
from audit.derived import definition_problems
from audit.events import AuditEvent, canonical_bytes, format_time, new_event_id, parse_leaf
from audit.models import (
    audit_checkpoints,
    audit_entries,
    audit_integrator,
    audit_nodes,
    audit_queue,
    audit_sequence,
    audit_subjects,
)
from audit.parallel import RangeSummary, SecondProcess
from audit.rawsql import EntryRow
from audit.tree import (
    ChunkedRoots,
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
#: Leaves per chunk in verify: a power of two, big enough that per-chunk work vanishes,
#: small enough that a chunk's rows stay in a core's cache while they are hashed and
#: compared (about 600 bytes of Python objects a row: 1024 rows are 0.6 MiB; this machine
#: has 2 MiB of L2 a core). Reading the 1M-event bench log in chunks of 16384 took about
#: 20% longer than in chunks of 1024 or 2048: the rows had left the cache before use.
VERIFY_CHUNK = 1 << 10
_INDEX_PROBLEM = "subject index differs from the event bytes"
#: The smallest log verify shares with a second process: below it, starting the process
#: (a fresh interpreter, about half a second) costs more than it saves.
PARALLEL_MIN = 1 << 18
# the least time verify waits for the second process's summary once its own share is done
# (a share of 500,000 events takes about two seconds)
SECOND_WAIT_MIN = 60.0
logger = logging.getLogger(__name__)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    processes: int = 1  # how many processes rehashed the leaves (parallel.py)

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
        event_id = new_event_id()
        # In UTC, as the bytes write it: verify compares the column with the bytes.
        recorded_at = datetime.now(UTC) if now is None else now.astimezone(UTC)
        data = canonical_bytes(event.to_document(event_id, recorded_at))
        _insert(
            session,
            [(event_id, recorded_at, event.actor.id, event.action, event.target.subject_id, data)],
            [event.indexed_subjects()] if event.subjects else (),
        )
        return event_id

    def record_many(
        self,
        session: Session,
        events: Iterable[AuditEvent],
        *,
        now: datetime | None = None,
        validated: bool = False,
    ) -> list[str]:
        """Add several events to the caller's transaction, in order, in one statement batch;
        return their ids. Every event is validated before any is written, unless the caller
        says it has just validated each of them (``validated``: the group commit, which
        refuses an unsafe event before it joins a batch, on the path of every read)."""
        events = list(events)
        if not validated:
            for event in events:
                event.validate()
        recorded_at = datetime.now(UTC) if now is None else now.astimezone(UTC)
        rows: list[EntryRow] = []
        for event in events:
            event_id = new_event_id()
            data = canonical_bytes(event.to_document(event_id, recorded_at))
            rows.append(
                (event_id, recorded_at, event.actor.id, event.action, event.target.subject_id, data)
            )
        if rows:
            indexed = any(event.subjects for event in events)
            _insert(
                session, rows, [event.indexed_subjects() for event in events] if indexed else ()
            )
        return [row[0] for row in rows]

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
                sequence_rows.append(
                    {"leaf_index": position, "entry_id": entry_id, "leaf_hash": leaf}
                )
            session.execute(insert(audit_sequence), sequence_rows)
            if node_rows:
                session.execute(insert(audit_nodes), node_rows)
            session.execute(self._dequeue(session, [r[0] for r in rows]))
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

    @staticmethod
    def _dequeue(session: Session, ids: list[int]) -> Delete:
        """Delete the queue rows of the entries just integrated (``ids`` ascending).

        On SQLite a range: this transaction holds the write lock, so no entry inside the
        range can commit meanwhile, and a range has no bound-variable limit. Not on
        PostgreSQL: an entry whose id was taken before the range's end can commit after the
        SELECT above, and a range would drop its queue row without integrating it. There the
        exact ids go as one array parameter (IN would need one parameter per id).
        """
        dialect = session.get_bind().dialect.name
        column = audit_queue.c.entry_id
        if dialect == "sqlite":
            return delete(audit_queue).where(column.between(ids[0], ids[-1]))
        if dialect == "postgresql":
            return delete(audit_queue).where(
                column == any_(bindparam("ids", ids, type_=postgresql.ARRAY(BigInteger())))
            )
        return delete(audit_queue).where(column.in_(ids))

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
            clause = or_(
                *(and_(audit_nodes.c.level == lv, audit_nodes.c.idx == i) for lv, i in inner)
            )
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
            raise ProofRangeError(
                f"need 0 < first <= second <= {current} (the integrated log size)"
            )
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
        purpose: str | None = None,
        outcome: str | None = None,
        collection: str | None = None,
        after_index: int | None = None,
        limit: int = 50,
    ) -> list[LoggedEvent]:
        """Integrated events in log order. ``purpose``, ``outcome`` and ``collection`` (of
        the target) are not copied out of the bytes: they are matched in the bytes, as the
        canonical form writes them, so they need no check of their own in verify."""
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
            # The event's own subject, or one of those its request returned (a list).
            query = query.where(
                or_(
                    audit_entries.c.subject_id == subject_id,
                    audit_entries.c.id.in_(
                        select(audit_subjects.c.entry_id).where(
                            audit_subjects.c.subject_id == subject_id
                        )
                    ),
                )
            )
        if since is not None:
            query = query.where(audit_entries.c.recorded_at >= since)
        if until is not None:
            query = query.where(audit_entries.c.recorded_at < until)
        for fragment in _byte_filters(purpose, outcome, collection):
            query = query.where(_holds(session, fragment))
        if after_index is not None:
            query = query.where(audit_sequence.c.leaf_index > after_index)
        return [LoggedEvent(index=int(i), leaf=bytes(d)) for i, d in session.execute(query)]

    def checkpoints(
        self, session: Session, *, after_size: int | None = None, limit: int = 50
    ) -> list[StoredCheckpoint]:
        """The signed checkpoints, oldest first: the history an auditor compares with the
        notes they kept."""
        query = select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size).limit(limit)
        if after_size is not None:
            query = query.where(audit_checkpoints.c.tree_size > after_size)
        return [_checkpoint(row) for row in session.execute(query)]

    # -- verifying ---------------------------------------------------------------------
    def verify(
        self,
        session: Session,
        public_key: bytes | None = None,
        *,
        chunk_size: int = VERIFY_CHUNK,
        processes: int | None = None,
        parallel_min: int = PARALLEL_MIN,
        second_wait: float | None = None,
    ) -> VerifyReport:
        """Recompute every leaf and the tree from the rows; check every checkpoint.

        One pass over the rows in chunks of ``chunk_size`` leaves (a power of two). A chunk
        whose positions run on from the last and whose recomputed leaf hashes all equal the
        stored ones is handled in two list comprehensions; any other chunk is walked row by
        row, which names each problem by position. Memory stays at one chunk's levels. A log
        of at least ``parallel_min`` events is shared with a second process when there are
        two CPUs (``processes``: how many to use, default up to two). Once this process has
        verified its own share it waits ``second_wait`` seconds for the other's (default:
        four times as long as its own share took, at least ``SECOND_WAIT_MIN``), then
        verifies that share itself.
        """
        report = VerifyReport()
        key = public_key if public_key is not None else self.signer.public_key_bytes
        # Checkpoints before leaves: on PostgreSQL (READ COMMITTED) each statement sees what
        # was committed when it started, and the tree only grows, so a checkpoint read first
        # is never ahead of the leaves read after it.
        checkpoints = [
            _checkpoint(row)
            for row in session.execute(
                select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size)
            )
        ]
        leaf_problems: list[str] = []
        roots = self._verify_leaves(
            session,
            {cp.tree_size for cp in checkpoints},
            chunk_size,
            leaf_problems,
            report,
            processes,
            parallel_min,
            second_wait,
        )
        problems = report.problems
        problems.extend(leaf_problems)
        last_good = 0
        for cp in checkpoints:
            report.checkpoints_checked += 1
            try:
                signed = verify_note(cp.note, cp.key_name, key)
            except NoteVerificationError:
                problems.append(f"checkpoint at size {cp.tree_size}: signature does not verify")
                continue
            if signed.tree_size != cp.tree_size or signed.root_hash != cp.root_hash:
                problems.append(
                    f"checkpoint at size {cp.tree_size}: row differs from its signed note"
                )
                continue
            if cp.tree_size > report.tree_size:
                problems.append(
                    f"checkpoint at size {cp.tree_size}: "
                    f"the log holds only {report.tree_size} events"
                )
                continue
            if roots[cp.tree_size] != cp.root_hash:
                problems.append(
                    f"checkpoint at size {cp.tree_size}: recomputed root differs; an event at "
                    f"positions {last_good}-{cp.tree_size - 1} was altered"
                )
                continue
            last_good = cp.tree_size
        report.pending = self.pending(session)
        return report

    def _verify_leaves(
        self,
        session: Session,
        wanted: set[int],
        chunk_size: int,
        problems: list[str],
        report: VerifyReport,
        processes: int | None = None,
        parallel_min: int = 0,
        second_wait: float | None = None,
    ) -> dict[int, bytes]:
        """Rehash every leaf; set the report's size and root; return the roots at ``wanted``
        sizes that the log reaches."""
        stream = ChunkedRoots(chunk_size)
        sizes = sorted(s for s in wanted if s > 0)
        roots: dict[int, bytes] = {0: root_hash(0, _no_nodes)} if 0 in wanted else {}
        next_size = 0  # index into sizes

        def feed(leaves: list[bytes]) -> None:
            nonlocal next_size
            end = stream.size + len(leaves)
            first = next_size
            while next_size < len(sizes) and sizes[next_size] <= end:
                next_size += 1
            roots.update(stream.add(leaves, sizes[first:next_size]))

        def index_of(positions: list[int]) -> dict[int, list[str]]:
            return self._indexed_subjects(session, positions)

        checked = [0]  # subject index rows compared with their event's bytes so far

        count, lowest, highest = session.execute(
            select(
                func.count(),
                func.min(audit_sequence.c.leaf_index),
                func.max(audit_sequence.c.leaf_index),
            )
        ).one()
        # Whether the database computes the filter columns from the bytes (derived.py): if
        # so they cannot differ and are not read; if not, that is a problem in itself, and
        # every row's columns are compared with its bytes, naming each doctored position.
        definition = definition_problems(session.connection())
        problems.extend(definition)
        derived = not definition
        diagnosed: list[tuple[int, int]] = []  # chunks read again to name their problems
        if count and (lowest, highest) == (0, count - 1):
            # Positions are unique (primary key), so these are exactly 0 .. count-1: read
            # them without the position. Rows integrated after the count are left for the
            # next verify. A large log's second half goes to another process (parallel.py)
            # when the table computes the columns: this process then rehashes the first.
            share = (
                self._shared_range(session, count, chunk_size, processes, parallel_min)
                if derived
                else None
            )
            own = share[0] if share is not None else count
            summary: SecondProcess | None = None
            if share is not None:
                try:
                    summary = SecondProcess(
                        share[1], own, count, chunk_size, [s for s in sizes if own < s <= count]
                    )
                except OSError:
                    logger.warning(
                        "audit verify: no second process could start; verifying in this one"
                    )
                    own = count
            sha256 = hashlib.sha256
            start = 0

            def take(rows: Sequence[Any]) -> None:
                """One chunk: the hot loop, with leaf_hash() inlined."""
                nonlocal start
                try:
                    leaves: list[bytes] | None = [sha256(b"\x00" + r[1]).digest() for r in rows]
                except TypeError:  # an entry row is missing (NULL data): diagnose below
                    leaves = None
                viewed: list[tuple[int, str]] = []
                if leaves is None or leaves != [r[0] for r in rows]:
                    ok = False
                elif derived:  # list events are checked below, found by their index
                    ok = True
                else:  # the copied-out columns, against the bytes
                    ok, viewed = check_rows(rows)
                if not ok:
                    leaves = (
                        diagnose(len(rows))
                        if derived
                        else _diagnose(
                            [(start + i, *r) for i, r in enumerate(rows)],
                            start,
                            problems,
                            index_of,
                            checked,
                        )[0]
                    )
                elif viewed:  # list events: their subject index, against the bytes
                    found = index_of([start + i for i, _ in viewed])
                    for i, text_ in viewed:
                        ids = found.get(start + i, [])
                        checked[0] += len(ids)
                        if not ids or not index_matches(text_, rows[i][6], rows[i][5], ids):
                            problems.append(f"position {start + i}: {_INDEX_PROBLEM}")
                assert leaves is not None
                feed(leaves)
                start += len(rows)

            def diagnose(n: int) -> list[bytes]:
                """Read the chunk at ``start`` again with positions and columns, and name
                its problems."""
                numbered = list(self._leaf_rows(session, chunk_size, between=(start, start + n)))[0]
                diagnosed.append((start, start + n))
                return _diagnose(numbered, start, problems, index_of, checked)[0]

            own_started = time.monotonic()
            for rows in self._leaf_rows(session, chunk_size, prefix=own, columns=not derived):
                take(rows)
            if summary is not None:
                wait = (
                    second_wait
                    if second_wait is not None
                    else max(SECOND_WAIT_MIN, 4 * (time.monotonic() - own_started))
                )
                try:
                    other: RangeSummary | None = summary.result(wait)
                except Exception as exc:  # noqa: BLE001 - a lost process: this one does its share
                    logger.warning(
                        "audit verify: the second process failed (%s); verifying its share here",
                        type(exc).__name__,
                    )
                    other = None
                finally:
                    summary.stop()
                if other is None or other.rows != count - own:
                    for rows in self._leaf_rows(
                        session, chunk_size, columns=False, between=(own, count)
                    ):
                        take(rows)
                else:
                    report.processes = 2
                    for n, chunk_root, partials in other.chunks:
                        if chunk_root is None:  # its leaves did not match: name why
                            feed(diagnose(n))
                        else:
                            roots.update(stream.add_summary(n, chunk_root, partials))
                            while next_size < len(sizes) and sizes[next_size] <= start + n:
                                next_size += 1
                        start += n
            if derived:
                self._check_list_events(
                    session, count, chunk_size, diagnosed, problems, index_of, checked
                )
        elif count:
            # Gaps, or positions that do not start at 0: the slow path names each one.
            pending: list[bytes] = []
            expected = 0
            for rows in self._leaf_rows(session, chunk_size):
                leaves, expected = _diagnose(rows, expected, problems, index_of, checked)
                pending.extend(leaves)
                while len(pending) >= chunk_size:
                    feed(pending[:chunk_size])
                    del pending[:chunk_size]
            if pending:
                feed(pending)
        if count:
            self._index_rows_of_other_events(
                session, count if lowest == 0 else None, checked[0], problems
            )
        report.tree_size = stream.size
        report.root_hash = stream.root()
        return roots

    @staticmethod
    def _shared_range(
        session: Session,
        count: int,
        chunk_size: int,
        processes: int | None,
        parallel_min: int,
    ) -> tuple[int, str] | None:
        """Where this process's share of a ``count``-leaf log ends (a chunk boundary) and
        the database URL the process that takes the rest reads; None when the log is
        small, there is one CPU, or the database is not a file or server another process
        can open."""
        usable = processes if processes is not None else min(2, _usable_cpus())
        if usable < 2 or count < max(parallel_min, 2 * chunk_size):
            return None
        url = session.connection().engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return None
        if (url.get_backend_name(), url.get_driver_name()) not in (
            ("sqlite", "pysqlite"),
            ("postgresql", "psycopg"),
        ):
            return None
        own = (count // 2 + chunk_size - 1) // chunk_size * chunk_size
        return own, url.render_as_string(hide_password=False)

    def _leaf_rows(
        self,
        session: Session,
        size: int,
        prefix: int | None = None,
        *,
        columns: bool = True,
        between: tuple[int, int] | None = None,
    ) -> Iterator[Sequence[Any]]:
        """Rows for verify, ``size`` at a time: see :meth:`rawsql.Driver.leaf_rows`."""
        connection = session.connection()
        raw = rawsql.for_connection(connection)
        if raw is not None:
            driver, dbapi_connection = raw
            yield from driver.leaf_rows(
                dbapi_connection, size, prefix, columns=columns, between=between
            )
            return
        # Other dialects are not known to compute the columns (derived.py), so verify
        # always reads them there.
        assert columns and between is None
        # Streamed (a server-side cursor where the dialect has one). The option is set on the
        # statement: on the connection it would stick and send later INSERTs through it.
        e = audit_entries.c
        query = (
            select(
                audit_sequence.c.leaf_index,
                audit_sequence.c.leaf_hash,
                e.data,
                e.action,
                e.actor_id,
                e.event_id,
                e.subject_id,
                e.recorded_at,
            )
            .outerjoin(audit_entries, e.id == audit_sequence.c.entry_id)
            .order_by(audit_sequence.c.leaf_index)
            .execution_options(yield_per=size)
        )
        if prefix is not None:
            query = query.where(audit_sequence.c.leaf_index < prefix)
        for partition in connection.execute(query).partitions(size):
            rows = [
                (
                    int(r[0]),
                    _bytes(r[1]),
                    _bytes(r[2]),
                    *r[3:7],
                    None if r[7] is None else time_text(r[7]),
                )
                for r in partition
            ]
            yield rows if prefix is None else [r[1:] for r in rows]

    @staticmethod
    def _check_list_events(
        session: Session,
        below: int,
        chunk_size: int,
        diagnosed: Sequence[tuple[int, int]],
        problems: list[str],
        index_of: Callable[[list[int]], dict[int, list[str]]],
        checked: list[int],
    ) -> None:
        """The subject index of every list event below position ``below``, against the
        digest its bytes end with. The table computes ``viewed_digest`` from the bytes, so
        its partial index finds exactly the events that claim an index, and the other rows'
        bytes are never looked at; events in ``diagnosed`` chunks were checked there."""
        # CROSS JOIN makes SQLite start from the partial index (its documented way to fix
        # the join order); without it SQLite walks every position and looks its entry up.
        # PostgreSQL reads it as an inner join and plans it from its statistics.
        query = text(
            "SELECT s.leaf_index, e.data FROM audit_entries e CROSS JOIN audit_sequence s "
            "WHERE s.entry_id = e.id AND e.viewed_digest IS NOT NULL AND s.leaf_index < :below "
            "ORDER BY s.leaf_index"
        ).execution_options(yield_per=chunk_size)
        for partition in session.execute(query, {"below": below}).partitions(chunk_size):
            events = [
                (int(p), bytes(d))
                for p, d in partition
                if not any(a <= p < b for a, b in diagnosed)
            ]
            found = index_of([p for p, _ in events])
            for position, data in events:
                ids = found.get(position, [])
                checked[0] += len(ids)
                if not ids or not data.decode().endswith(index_suffix(ids)):
                    problems.append(f"position {position}: {_INDEX_PROBLEM}")

    @staticmethod
    def _indexed_subjects(session: Session, positions: list[int]) -> dict[int, list[str]]:
        """The subject index rows of the events at ``positions``: read only for list events
        and for chunks that failed the checks."""
        found: dict[int, list[str]] = {}
        for position, subject in session.execute(
            select(audit_sequence.c.leaf_index, audit_subjects.c.subject_id)
            .join(audit_subjects, audit_subjects.c.entry_id == audit_sequence.c.entry_id)
            .where(audit_sequence.c.leaf_index.in_(positions))
        ):
            found.setdefault(int(position), []).append(subject)
        return found

    @staticmethod
    def _index_rows_of_other_events(
        session: Session, below: int | None, checked: int, problems: list[str]
    ) -> None:
        """Subject index rows verify did not meet with a list event are rows added to an
        event whose bytes name no subjects: they would make the log say someone was seen
        who was not. One count (of the index, not the log) tells; only if it differs are
        those events looked for, and named."""
        joined = (
            select(func.count())
            .select_from(audit_subjects)
            .join(audit_sequence, audit_sequence.c.entry_id == audit_subjects.c.entry_id)
        )
        if below is not None:
            joined = joined.where(audit_sequence.c.leaf_index < below)
        if session.scalar(joined) == checked:
            return
        query = (
            select(audit_sequence.c.leaf_index, audit_entries.c.data)
            .distinct()
            .join(audit_subjects, audit_subjects.c.entry_id == audit_sequence.c.entry_id)
            .join(audit_entries, audit_entries.c.id == audit_sequence.c.entry_id)
            .order_by(audit_sequence.c.leaf_index)
        )
        if below is not None:
            query = query.where(audit_sequence.c.leaf_index < below)
        for position, data in session.execute(query):
            if b',"viewed_subjects":' not in bytes(data):
                problems.append(f"position {position}: {_INDEX_PROBLEM}")

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
                line = {
                    "index": event.index,
                    "leaf": base64.b64encode(event.leaf).decode(),
                    "event": event.document,
                }
                out.write(json.dumps(line, sort_keys=True) + "\n")
                count += 1
            after = page[-1].index
        cp = self.latest_checkpoint(session)
        if cp is not None:
            out.write(
                json.dumps(
                    {
                        "checkpoint": {
                            "tree_size": cp.tree_size,
                            "root_hash": cp.root_hash.hex(),
                            "note": cp.note,
                            "key_name": cp.key_name,
                            "timestamp": format_time(cp.created_at),
                            "public_key": base64.b64encode(self.signer.public_key_bytes).decode(),
                        }
                    },
                    sort_keys=True,
                )
                + "\n"
            )
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


def _byte_filters(purpose: str | None, outcome: str | None, collection: str | None) -> list[bytes]:
    """What the canonical bytes of a matching event hold. Each is exact: ``purpose`` and
    ``outcome`` are top-level keys (details has ``purposes``, never ``purpose``), the target's
    collection is its first key, and no value the log accepts holds a quote, so the closing
    quote ends the value."""
    found = []
    for key, value in (("purpose", purpose), ("outcome", outcome)):
        if value is not None:
            found.append(f'"{key}":{json.dumps(value)},'.encode())
    if collection is not None:
        found.append(f'"target":{{"collection":{json.dumps(collection)}'.encode())
    return found


def _holds(session: Session, fragment: bytes) -> ColumnElement[bool]:
    """``audit_entries.data`` contains ``fragment``, in the dialect's own terms."""
    data = audit_entries.c.data
    if session.get_bind().dialect.name == "postgresql":
        return func.position(literal(fragment, LargeBinary()).op("IN")(data)) > 0
    return func.instr(data, literal(fragment, LargeBinary())) > 0


def _insert(session: Session, rows: list[EntryRow], subjects: Sequence[Sequence[str]] = ()) -> None:
    """Write entries, their queue rows and their subject index rows (``subjects[i]`` for
    ``rows[i]``, if given) on the connection of the caller's transaction."""
    connection = session.connection()  # begins the transaction (or savepoint) if need be
    # With cursor event listeners on the connection or its engine (a SQL logger, a probe,
    # the test that counts a read's statements), the rows go through SQLAlchemy so that no
    # listener misses them. ``_has_events`` alone is also set by other events (SQLite's
    # ``begin``), hence the check of the cursor events themselves.
    dispatch = connection.dispatch
    observed = (connection._has_events or connection.engine._has_events) and bool(
        dispatch.before_cursor_execute or dispatch.after_cursor_execute
    )
    raw = None if observed else rawsql.for_connection(connection)
    if raw is not None:
        driver, dbapi_connection = raw
        driver.insert(dbapi_connection, rows, subjects)
        return
    for i, row in enumerate(rows):
        key = connection.execute(_INSERT_ENTRY, {"data": row[5]}).inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        connection.execute(_INSERT_QUEUE, {"entry_id": key[0]})
        if subjects and subjects[i]:
            connection.execute(
                insert(audit_subjects), [{"entry_id": key[0], "subject_id": s} for s in subjects[i]]
            )


def _no_nodes(level: int, index: int) -> bytes:
    raise AssertionError("the empty tree has no nodes")


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _diagnose(
    rows: Sequence[Any],
    expected: int,
    problems: list[str],
    index_of: Callable[[list[int]], dict[int, list[str]]],
    checked: list[int],
) -> tuple[list[bytes], int]:
    """The slow path of verify: walk rows ``(index, leaf hash, data, *columns.COLUMNS)`` one
    by one and name every problem by position.

    An entry whose bytes hash right but fail the checks of its copied-out columns, or that
    has a subject index, is parsed, and the first column that differs from it (or its
    index) is named; ``index_of`` fetches the index rows of those positions only, and
    ``checked[0]`` counts them. Returns the leaves to build the tree from (the recomputed
    hash, or the stored one where the event row is gone) and the position expected next.
    """
    leaves: list[bytes] = []
    suspects: list[tuple[int, bytes, Sequence[Any]]] = []
    for row in rows:
        index, stored, data = row[0], row[1], row[2]
        if index != expected:
            if index > expected:
                problems.append(f"positions {expected}-{index - 1}: missing from the log")
            else:
                problems.append(f"position {index}: appears twice")
                continue
            expected = index
        if data is None:
            problems.append(f"position {index}: event row missing")
            leaves.append(bytes(stored))
        elif not isinstance(data, bytes | bytearray | memoryview):
            # A store that keeps whatever type is written (SQLite) returns an event rewritten
            # through a text or number function as that type: a doctored row, named like
            # any other, whose leaf is what its value says (so the checkpoints judge it too).
            kind = "text" if isinstance(data, str) else "a number"
            problems.append(f"position {index}: event bytes are stored as {kind}, not as bytes")
            leaves.append(leaf_hash(str(data).encode("utf-8", "surrogatepass")))
        else:
            computed = leaf_hash(bytes(data))
            if computed != stored:
                problems.append(f"position {index}: event bytes do not match the leaf hash")
            else:
                ok, viewed = check_rows([row], first=2)
                if not ok or viewed:
                    suspects.append((index, bytes(data), row[3:8]))
                    problems.append("")  # filled in below, keeping the position order
            leaves.append(computed)
        expected += 1
    if suspects:
        indexed = index_of([index for index, _, _ in suspects])
        slots = [i for i, problem in enumerate(problems) if problem == ""]
        for slot, (index, data, values) in zip(slots, suspects, strict=True):
            ids = indexed.get(index, [])
            checked[0] += len(ids)
            found = first_mismatch(parse_leaf(data), values, ids)
            problems[slot] = "" if found is None else f"position {index}: {found}"
        problems[:] = [problem for problem in problems if problem]
    return leaves, expected
