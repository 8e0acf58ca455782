"""`governance serve` answers under gunicorn, as the README's demo command runs it."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from governance.settings import Settings
from governance.startup import initialise
from tests.functional.serving import embedded_env, served


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", "")
    finally:
        conn.close()


def test_serve_answers_under_gunicorn_with_two_workers(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOVERNANCE_DATABASE_URL", "GOVERNANCE_KEYSTORE_URL")
    }
    env.update(GOVERNANCE_VAR_DIR=str(tmp_path), GOVERNANCE_LOG_LEVEL="WARNING")
    initialise(Settings.from_env(env))  # `governance init`: serve never creates keys
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, _ = _get(port, "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, "the server did not come up"

        unauthenticated = _get(port, "/v1/datamap")

        assert unauthenticated == (401, "application/problem+json")
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert b"Traceback" not in stderr


def test_served_answers_hide_the_server_and_the_access_log_holds_no_email(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, GOVERNANCE_LOG_LEVEL="INFO")
    log_file = tmp_path / "server.log"
    with (
        log_file.open("wb") as sink,
        served(env, stdout=sink, stderr=subprocess.STDOUT) as (port, _),
    ):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/v1/data/customers/john.leak@x.example?email=jane.leak@x.example")
        answer = conn.getresponse()
        answer.read()
        conn.close()
    written = log_file.read_text(errors="replace")

    assert answer.status == 422  # email= is no parameter of a read by id
    assert "gunicorn" not in (answer.getheader("Server") or "").lower()
    assert "/v1/data/<collection>/<record_id>" in written
    assert "leak@x.example" not in written
    # the client's network, not its address (personal data of whoever sits behind it)
    assert "127.0.0.0/24" in written
    assert "127.0.0.1" not in written.replace("127.0.0.1:", "")  # (gunicorn's bind line)
