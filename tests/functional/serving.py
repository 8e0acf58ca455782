"""Start a real `governance serve` (gunicorn) for a test, on a free port, and stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from governance.settings import Settings
from governance.startup import initialise
from tests.migrated import migrated, migrated_keystore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an embedded-default service under ``var_dir``, initialised as
    ``governance init`` does (migrated, keys created)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOVERNANCE_DATABASE_URL", "GOVERNANCE_KEYSTORE_URL")
    }
    env.update({"GOVERNANCE_VAR_DIR": str(var_dir), "GOVERNANCE_LOG_LEVEL": "WARNING", **extra})
    settings = Settings.from_env(env)
    migrated(settings.database_url)  # copies of migrated stores; init finds them at head
    migrated_keystore(settings.keystore_url)
    initialise(settings)
    return env


@contextmanager
def served(
    env: dict[str, str],
    *,
    workers: int = 1,
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    stderr: int | IO[bytes] = subprocess.DEVNULL,
    port: int | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """(port, process) once /healthz answers, or an AssertionError if it never does."""
    port = port or free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--workers",
            str(workers),
            "--port",
            str(port),
            *extra,
        ],
        env=env,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (
                "the server did not come up"
            )
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)
