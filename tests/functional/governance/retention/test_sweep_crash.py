"""A sweep killed (SIGKILL) mid-run resumes from its recorded progress and ends in the same
state as one that ran straight through: the same rows deleted, anonymised and kept, the
same subjects erased with their keys shredded, and one audited batch per committed batch.

Each case has its own committed databases, two identical worlds of records (one swept
straight, one killed and resumed) told apart by a tag that the end state ignores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.db import unit_of_work
from governance.retention.models import RetentionRun
from governance.retention.sweep import RetentionSweep
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.functional.governance.requests.conftest import subject_records
from tests.functional.governance.requests.test_crash import ROOT, crash_env  # noqa: F401
from tests.functional.governance.retention.test_sweep import SYSTEM

KILLER = """
import os, signal, sys
from audit.events import Actor
from governance.db import unit_of_work
from governance.retention.sweep import RetentionSweep
from governance.runtime import open_runtime
from governance.settings import Settings

point, batch = sys.argv[1], int(sys.argv[2])

def checkpoint(name, when):
    if name == point:
        os.kill(os.getpid(), signal.SIGKILL)

runtime = open_runtime(Settings.from_env())
sweep = RetentionSweep(runtime, Actor(id="cli:test", role="operator"), checkpoint=checkpoint)
with unit_of_work(runtime.sessions) as session:
    run_id = sweep.create(session, batch_size=batch).id
sweep.run(run_id)
sys.exit(3)  # the kill point was never reached
"""
NOW = datetime.now(UTC)


def world(runtime: Runtime, session: Session, tag: str) -> dict[str, list[str]]:
    """Three subjects: one whose record expired, two kept with expired records each."""
    store = runtime.record_store(session)
    ids: dict[str, list[str]] = {}
    for n in range(3):
        mine = subject_records(store, tag=f"{tag}{n}")
        sid = mine["customers"][0]
        for days in (500, 600):
            mine["web_events"].append(
                store.create(
                    "web_events",
                    {"page": "/old", "occurred_at": (NOW - timedelta(days=days)).isoformat()},
                    subject_id=sid,
                ).id
            )
        mine["orders"].append(
            store.create(
                "orders",
                {
                    "order_number": f"OLD-{tag}{n}",
                    "total_amount": "1.00",
                    "ordered_at": (NOW - timedelta(days=11 * 366)).isoformat(),
                },
                subject_id=sid,
            ).id
        )
        if n == 0:
            table = runtime.tables["customers"]
            session.execute(
                update(table)
                .where(table.c.id == sid)
                .values(updated_at=NOW - timedelta(days=4 * 365))
            )
        for collection, record_ids in mine.items():
            ids.setdefault(collection, []).extend(record_ids)
    return ids


def end_state(runtime: Runtime, session: Session, ids: dict[str, list[str]]) -> dict[str, Any]:
    ignored = {
        "id",
        "subject_id",
        "created_at",
        "updated_at",
        "order_id",
        "order_number",
        "name",
        "company_id",
        "email_bidx",
        "phone_bidx",
        "email",
        "first_name",
        "last_name",
        "phone",
        "street",
        "postal_code",
        "date_of_birth",
        "gender",
        "card_last4",
        "card_expiry",
        "iban",
        "billing_street",
        "billing_postal_code",
        "shipping_postal_code",
        "device_id",
        "ip_address",
        "summary",
        "body",
        "description",
        "resolution",
        "feedback",
    }
    state: dict[str, Any] = {}
    for collection, record_ids in ids.items():
        table = runtime.tables[collection]
        rows = session.execute(select(table).where(table.c.id.in_(record_ids))).mappings()
        state[collection] = sorted(
            repr(
                sorted(
                    (k, v is None if k in ignored else v)
                    for k, v in row.items()
                    if k not in ("id", "created_at", "updated_at", "order_number")
                )
            )
            for row in rows
        )
    subjects = ids["customers"]
    keys = runtime.keys.keystore.fetch(subjects)
    state["shredded"] = sorted(k.shredded for k in keys.values())
    return state


@pytest.mark.parametrize(
    "point",
    [
        "delete:web_events:batch",  # inside a batch of a delete rule
        "anonymize:orders:batch",
        "erase:customers:batch",  # the store's part of an erasure, before its commit
        "erase:customers:shred",  # the key store committed the shred, our progress did not
    ],
)
def test_a_killed_sweep_resumes_to_the_same_end_state_as_a_straight_one(
    crash_env: dict[str, str],  # noqa: F811
    point: str,
) -> None:
    runtime = open_runtime(Settings.from_env(crash_env))
    try:
        with unit_of_work(runtime.sessions) as session:
            straight = world(runtime, session, "s")
        sweep = RetentionSweep(runtime, SYSTEM)
        with unit_of_work(runtime.sessions) as session:
            run_id = sweep.create(session).id
        sweep.run(run_id)
        with unit_of_work(runtime.sessions) as session:
            expected = end_state(runtime, session, straight)
            killed_world = world(runtime, session, "k")

        killed = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", KILLER, point, "2"],
            cwd=ROOT,
            env={**os.environ, **crash_env},
            capture_output=True,
            timeout=300,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

        with unit_of_work(runtime.sessions) as session:
            left = sweep.unfinished(session)
            assert left is not None and left.state == "running"
            resumed = sweep.create(session)
            assert resumed.id == left.id  # the unfinished run is resumed, not a new one
        done = sweep.run(left.id)

        assert done.state == "completed", done.error
        with unit_of_work(runtime.sessions) as session:
            assert end_state(runtime, session, killed_world) == expected
            run = session.get(RetentionRun, left.id)
            assert run is not None
            swept = run.progress
            runtime.audit.integrate(session)
            counted: dict[str, int] = {}
            for event in runtime.audit.events(session, limit=5000):
                d = event.document
                if d["action"] == "retention.swept" and d["details"].get("run_id") == left.id:
                    counted[d["details"]["rule"]] = (
                        counted.get(d["details"]["rule"], 0) + d["details"]["count"]
                    )
        assert counted == {name: p["done"] for name, p in swept.items() if p["done"]}
        assert counted["erase:customers"] == 1 and counted["delete:web_events"] == 6
    finally:
        runtime.dispose()
