"""Requests gunicorn itself refuses, before the app sees them (a bad request line, headers too
large or too many, a URI too long, a malformed chunk), are answered as problem+json like every
other error, and neither the answer nor the server's log echoes what was sent (issue 14
item 12). Through a real `governance serve`."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.serving import embedded_env, served

MARKER = "ada.leak@mail.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    var_dir = tmp_path_factory.mktemp("served")
    env = embedded_env(var_dir, GOVERNANCE_LOG_LEVEL="INFO")
    log_file = var_dir / "server.log"
    with (
        log_file.open("wb") as sink,
        served(env, stdout=sink, stderr=subprocess.STDOUT) as (port, _),
    ):
        yield port, log_file


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65_536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


GET = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(
            f"FETCH-ME /v1/data/customers/{MARKER}\r\n\r\n".encode(), 400, id="bad-request-line"
        ),
        pytest.param(
            GET + f"X-Note: {MARKER}".encode() + b"a" * 9_000 + b"\r\n\r\n",
            431,
            id="header-too-large",
        ),
        pytest.param(
            GET + b"".join(b"X-H%d: a\r\n" % i for i in range(200)) + b"\r\n",
            431,
            id="too-many-headers",
        ),
        pytest.param(
            f"GET /v1/data/customers/{MARKER}".encode()
            + b"a" * 5_000
            + b" HTTP/1.1\r\nHost: gateway\r\n\r\n",
            414,
            id="uri-too-long",
        ),
        pytest.param(GET + f"Bad Name {MARKER}: x\r\n\r\n".encode(), 400, id="bad-header-name"),
        pytest.param(
            b"POST /v1/clients HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n" + MARKER.encode() + b"\r\n",
            400,
            id="bad-chunk-size",
        ),
    ],
)
def test_gunicorns_own_refusals_are_problem_json_that_echo_nothing(
    server: tuple[int, Path], raw: bytes, status: int
) -> None:
    port, log_file = server

    answered, headers, body = _exchange(port, raw)

    assert answered == status, body
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["type"].startswith("https://crm-privacy-gateway.example/problems/")
    assert problem["title"] and problem["detail"]
    assert problem["trace_id"] == headers["x-trace-id"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert "gunicorn" not in headers.get("server", "").lower()
    assert MARKER not in body.decode()
    written = log_file.read_text(errors="replace")
    assert MARKER not in written
    # the refusal's warning and access line name the client's network, not its address
    assert "127.0.0.0/24" in written
    assert "127.0.0.1" not in written.replace("127.0.0.1:", "")  # (gunicorn's bind line)


def test_the_server_still_answers_after_refusing(server: tuple[int, Path]) -> None:
    port, _ = server
    _exchange(port, b"NONSENSE\r\n\r\n")

    status, _, _ = _exchange(port, GET + b"Connection: close\r\n\r\n")

    assert status == 200
