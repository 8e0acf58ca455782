"""Start-up faults under a real `governance serve` (issue 14 item 7): a start that cannot
open the key file fails once, in one line naming the setting, before gunicorn forks; a
worker respawned while the key store is unreadable does not stop the service, the healthy
worker keeps answering, and once the fault is fixed the new worker boots and answers."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from governance.runtime import open_runtime
from governance.settings import Settings
from tests.functional.serving import embedded_env, free_port, served


def _started(env: dict[str, str]) -> Settings:
    """The settings of a store that has started once (key file and key store exist)."""
    settings = Settings.from_env(env)
    open_runtime(settings).dispose()
    return settings


def _unreadable(path: Path) -> None:
    """Make ``path`` unreadable to the service. As root no mode stops a read, so the file
    is moved aside and a directory takes its place."""
    if os.geteuid() == 0:
        path.rename(path.with_name(path.name + ".away"))
        path.mkdir()
    else:
        path.chmod(0)


def _readable(path: Path) -> None:
    if os.geteuid() == 0:
        path.rmdir()
        path.with_name(path.name + ".away").rename(path)
    else:
        path.chmod(0o600)


def _until(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    """Wait for ``condition`` (a guard against a hang, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def _status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def _holds_open(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` has a file under ``folder`` open. A worker opens its key store
    at the end of its boot (``api.create_app`` pings both stores), so this tells a booted
    worker from one still loading: the port answers as soon as the first worker is up."""
    found = False
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found = found or Path(os.readlink(fd)).is_relative_to(folder)
        except OSError:  # the descriptor closed while we looked
            continue
    return found


def test_an_unreadable_key_file_at_start_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    settings = _started(env)
    _unreadable(settings.key_file)

    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr
    assert "GOVERNANCE_KEY_FILE" in lines[0] and str(settings.key_file) in lines[0]
    assert "Traceback" not in done.stderr


def test_a_worker_that_cannot_boot_leaves_the_others_serving_and_boots_once_fixed(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path)
    settings = _started(env)
    keys = settings.key_file.parent
    log = tmp_path / "server.log"
    with log.open("wb") as sink, served(env, workers=2, stderr=sink) as (port, server):
        _until(lambda: len(_workers(server.pid)) == 2, "two workers")
        doomed, healthy = _workers(server.pid)
        # Both workers booted (a cold start loads the NLP model for seconds): breaking the
        # keys earlier would fail the "healthy" worker's first boot too, and nothing answers.
        _until(
            lambda: _holds_open(doomed, keys) and _holds_open(healthy, keys), "both workers booted"
        )
        for _ in range(8):
            assert _status(port, "/readyz") == 200

        away = keys.with_name(keys.name + ".away")
        keys.rename(away)
        keys.write_text("")  # the key store's folder is a file now: nothing opens in it
        os.kill(doomed, signal.SIGKILL)
        _until(
            lambda: "cannot start" in log.read_text(errors="replace"),
            "the respawned worker's boot failure",
        )

        assert server.poll() is None, "the master stopped"
        assert _status(port, "/healthz") == 200
        # The healthy worker still answers, but its key files are gone: not ready (issue 26).
        assert _status(port, "/readyz") == 503

        keys.unlink()
        away.rename(keys)
        _until(
            lambda: "started after" in log.read_text(errors="replace"),
            "the respawned worker's boot once fixed",
        )
        os.kill(healthy, signal.SIGSTOP)  # only the new worker can answer now
        try:
            assert _status(port, "/readyz") == 200
        finally:
            os.kill(healthy, signal.SIGCONT)
    written = log.read_text(errors="replace")
    assert "Traceback" not in written
    failures = [line for line in written.splitlines() if "cannot start" in line]
    assert failures and all("GOVERNANCE_KEY" in line for line in failures), failures
    shutil.rmtree(tmp_path, ignore_errors=True)
