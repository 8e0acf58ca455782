"""`governance scheduler` (Celery beat) keeps its schedule file out of the keys folder and
readable by the service's user only (issue 26 item 13): a real beat over a real Redis."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import redis_db

REDIS_DB = redis_db()  # this test process's own (tests/conftest.py), not a developer's 0


def _redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not reachable on 127.0.0.1:6379")
    return url


def test_the_beat_schedule_is_written_private_and_outside_the_keys_folder(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "keys").mkdir(parents=True, mode=0o700)  # a store that has run once
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOVERNANCE_DATABASE_URL", "GOVERNANCE_KEYSTORE_URL", "GOVERNANCE_KEY_FILE")
    }
    env.update(
        GOVERNANCE_VAR_DIR=str(var),
        GOVERNANCE_TASK_RUNNER="celery",
        GOVERNANCE_BROKER_URL=_redis_url(),
        GOVERNANCE_LOG_LEVEL="WARNING",
    )
    scheduler = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        umask=0o022,
    )  # a usual umask: files would be world-readable unless made private
    try:
        deadline = time.monotonic() + 60
        while not list(var.rglob("celerybeat-schedule*")):
            assert scheduler.poll() is None, "the scheduler exited"
            assert time.monotonic() < deadline, "the scheduler wrote no schedule file"
            time.sleep(0.2)
        time.sleep(1)  # beat syncs its schedule right after its first tick
    finally:
        scheduler.terminate()
        scheduler.wait(30)
    written = list(var.rglob("celerybeat-schedule*"))

    assert written
    assert not [f for f in written if f.parent == var / "keys"], written
    for f in written:
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f"{f} is readable by others"
        assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700, f"{f.parent} is open to others"
