"""The audit events of concurrent reads, committed together (group commit).

Every read is audited, and its answer leaves only once its event is committed. On SQLite
that event cannot ride in the read's own transaction: upgrading an old read snapshot to a
write fails (``SQLITE_BUSY_SNAPSHOT``) once another worker has written. So each read ends
its read transaction and writes its event in a transaction of its own: a begin, the rows
and a commit per read, where the commit (the WAL append and the lock hand-over) is the
largest part.

Here the threads of a worker that have an event to commit at the same moment share one
transaction. The first to arrive becomes the leader: it writes the events queued so far
(its own and those of the threads that arrived while the previous leader was writing) on
its own session and commits them; the others wait for that commit and answer after it.
Nothing is answered before its event is committed; a commit that fails fails every read
whose event it carried (each answers 503, as a lone read's failed commit does), and nothing
of the batch is written. A worker that dies while its reads wait answers none of them.

A read alone (no other thread waiting) commits as before: one leader, a batch of one. The
batch is as large as the concurrency of the worker makes it, never waited for: no read is
held back to fill a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from audit.events import AuditEvent
from audit.log import AuditLog


class GroupCommitFailed(Exception):
    """The commit that carried this thread's events failed (raised in every thread of the
    batch; the leader's own error is its ``__cause__``)."""


@dataclass(eq=False)
class _Waiting:
    events: Sequence[AuditEvent]
    done: bool = False
    error: BaseException | None = field(default=None, repr=False)


class AuditGroupCommit:
    """One per worker process (per app); thread-safe."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._turn = threading.Condition()
        self._queue: list[_Waiting] = []
        self._writing = False
        self.commits = 0  # transactions committed; with ``events``, the mean batch size
        self.events = 0

    @property
    def waiting(self) -> int:
        """Threads queued for the next commit (not counting one that is writing)."""
        with self._turn:
            return len(self._queue)

    def commit(self, session: Session, events: Sequence[AuditEvent]) -> None:
        """Return once ``events`` are committed (with other threads' events, or alone);
        raise :class:`GroupCommitFailed` if they were not. ``session`` has no transaction
        open (the read's has ended); it is used only if this thread leads."""
        for event in events:
            event.validate()  # a refused event must fail its own read, not the batch
        mine = _Waiting(events)
        with self._turn:
            self._queue.append(mine)
            while self._writing and not mine.done:
                self._turn.wait()
            if mine.done:
                self._raise_if_failed(mine)
                return
            self._writing = True  # this thread leads: it takes everything queued
            batch, self._queue = self._queue, []
        error: BaseException | None = None
        try:
            self._log.record_many(
                session, [e for waiting in batch for e in waiting.events], validated=True
            )
            session.commit()
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it
            session.rollback()
            error = exc
        with self._turn:
            for waiting in batch:
                waiting.done, waiting.error = True, error
            self._writing = False
            if error is None:
                self.commits += 1
                self.events += sum(len(waiting.events) for waiting in batch)
            self._turn.notify_all()
        self._raise_if_failed(mine)

    @staticmethod
    def _raise_if_failed(mine: _Waiting) -> None:
        if mine.error is not None:
            raise GroupCommitFailed(
                "the audit events of this read were not committed"
            ) from mine.error
