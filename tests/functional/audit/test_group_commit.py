"""Group commit of read events (issue 27 item 3): threads whose events arrive while another
thread's commit is under way share the next transaction; nobody returns before its events
are committed; a failed commit fails every thread of its batch and writes none of it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from audit.events import Actor, AuditEvent, Target, UnsafeAuditEvent
from audit.group_commit import AuditGroupCommit, GroupCommitFailed
from audit.log import AuditLog
from audit.models import audit_entries
from governance.db import make_engine, make_session_factory
from governance.migrate import upgrade


def read_event(i: int) -> AuditEvent:
    return AuditEvent(
        action="data.read",
        actor=Actor(id="client-a", role="application"),
        target=Target(collection="customers", record_id=f"rec-{i}", subject_id=f"subj-{i}"),
        purpose="support",
        request_id=f"req-{i}",
    )


@pytest.fixture
def engine(own_database_url: str) -> Iterator[Engine]:
    upgrade(own_database_url)
    eng = make_engine(own_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def group(audit_log: AuditLog) -> AuditGroupCommit:
    return AuditGroupCommit(audit_log)


class Gate:
    """Holds the first thread that writes an audit entry inside its transaction until
    opened, so that others arrive while a commit is under way."""

    def __init__(self, engine: Engine, *, fail_after_first: bool = False) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.fail_after_first = fail_after_first
        self.inserts = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("INSERT INTO AUDIT_ENTRIES"):
            return
        self.inserts += 1
        if not self.entered.is_set():
            self.entered.set()
            assert self.opened.wait(30), "the test never opened the gate"
        elif self.fail_after_first:
            raise OperationalError(statement, None, Exception("disk I/O error"))

    def _commit(self, conn: Any) -> None:
        self.commits += 1


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30  # a guard against a hang, not a measurement
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(audit_entries)) or 0)


def _commit_in_thread(
    group: AuditGroupCommit, engine: Engine, i: int, outcomes: dict[int, BaseException | None]
) -> threading.Thread:
    sessions = make_session_factory(engine)

    def run() -> None:
        with sessions() as session:
            try:
                group.commit(session, [read_event(i)])
                outcomes[i] = None
            except BaseException as exc:  # noqa: BLE001 - the test reads it
                outcomes[i] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_reads_arriving_during_a_commit_share_the_next_one(group, engine) -> None:  # noqa: ANN001
    gate = Gate(engine)
    outcomes: dict[int, BaseException | None] = {}
    leader = _commit_in_thread(group, engine, 0, outcomes)
    assert gate.entered.wait(30)
    followers = [_commit_in_thread(group, engine, i, outcomes) for i in (1, 2, 3)]
    _until(lambda: group.waiting == 3)

    assert outcomes == {}, "nobody answers before its event is committed"
    gate.opened.set()
    for thread in (leader, *followers):
        thread.join(30)

    assert outcomes == {0: None, 1: None, 2: None, 3: None}
    assert _stored(engine) == 4
    assert gate.commits == 2  # the leader's own, then one for the three that waited
    assert (group.commits, group.events) == (2, 4)


def test_a_failed_commit_fails_every_read_of_its_batch_and_writes_none(group, engine) -> None:  # noqa: ANN001
    gate = Gate(engine, fail_after_first=True)
    outcomes: dict[int, BaseException | None] = {}
    leader = _commit_in_thread(group, engine, 0, outcomes)
    assert gate.entered.wait(30)
    followers = [_commit_in_thread(group, engine, i, outcomes) for i in (1, 2)]
    _until(lambda: group.waiting == 2)
    gate.opened.set()
    for thread in (leader, *followers):
        thread.join(30)

    assert outcomes[0] is None
    assert all(isinstance(outcomes[i], GroupCommitFailed) for i in (1, 2))
    assert _stored(engine) == 1  # the leader's; nothing of the failed batch

    gate.fail_after_first = False  # the fault is gone: the next read commits again
    with make_session_factory(engine)() as session:
        group.commit(session, [read_event(9)])
    assert _stored(engine) == 2


def test_an_unsafe_event_fails_its_own_read_before_joining_a_batch(group, engine) -> None:  # noqa: ANN001
    unsafe = AuditEvent(
        action="data.read",
        actor=Actor(id="client-a", role="application"),
        target=Target(collection="customers", record_id="rec-1"),
        details={"note": "write to ada@example.com"},
    )
    with make_session_factory(engine)() as session:
        with pytest.raises(UnsafeAuditEvent):
            group.commit(session, [unsafe])
        group.commit(session, [read_event(1)])
    assert _stored(engine) == 1
    assert group.waiting == 0
