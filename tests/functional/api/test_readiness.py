"""`/readyz` checks what serving needs (issue 26, items 5 and 10): a write that commits, the
key files, a KEK that opens a stored data key. A real `governance serve`; the full disk is a
small tmpfs the test mounts. Every answer, 503s included, carries `X-Trace-Id`, and the log
names the cause in one line."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.keys.local import new_keyset_document
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.functional.serving import embedded_env, served


def get(port: int, path: str, key: str | None = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of a GET, 4xx and 5xx included."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")  # noqa: S310
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our server
            return answer.status, json.loads(answer.read() or b"{}"), dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}"), dict(refused.headers)


def started(env: dict[str, str]) -> Runtime:
    return open_runtime(Settings.from_env(env))


def sealed_customer(rt: Runtime) -> None:
    with unit_of_work(rt.sessions) as session:
        rt.record_store(session).create(
            "customers",
            {
                "first_name": "Ada",
                "last_name": "Fictional",
                "email": f"ada.{uuid.uuid4().hex[:6]}@mail.example",
            },
        )


def admin_key(rt: Runtime) -> str:
    with unit_of_work(rt.sessions) as session:
        return ClientService(session).create("ops", "admin", ()).key


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs of its own, so that filling it fills nothing else."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=24m,mode=0700",
            "tmpfs",  # noqa: S603, S607
            str(mount),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): "
            + done.stderr.decode(errors="replace").strip()
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)  # noqa: S603, S607


def fill(disk: Path) -> Path:
    """Write until the filesystem says ENOSPC; the filler file to delete to free it."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 16)
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), filler.open("ab") as handle:
        while True:  # the last bytes below one chunk
            handle.write(b"\0")
            handle.flush()
    return filler


def test_a_full_disk_makes_readyz_503_and_every_answer_carries_a_trace_id(
    small_disk: Path, tmp_path: Path
) -> None:
    env = embedded_env(small_disk / "var")
    rt = started(env)
    key = admin_key(rt)
    rt.dispose()
    log = tmp_path / "server.log"
    with log.open("wb") as sink, served(env, stderr=sink) as (port, _):
        assert get(port, "/readyz")[0] == 200
        assert get(port, "/v1/datamap", key)[0] == 200

        filler = fill(small_disk)
        status, body, headers = get(port, "/readyz")
        answered, _, data_headers = get(port, "/v1/datamap", key)  # writes its audit event

        assert status == 503, body
        assert "disk full" in body["detail"]
        assert headers.get("X-Trace-Id")
        assert answered == 503
        assert data_headers.get("X-Trace-Id")

        filler.unlink()
        assert get(port, "/readyz")[0] == 200  # heals once there is room again
    lines = log.read_text(errors="replace").splitlines()
    assert any("disk full" in line and data_headers["X-Trace-Id"] in line for line in lines), lines
    assert not any("Traceback" in line for line in lines)


def test_a_worker_holding_the_wrong_kek_is_not_ready(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    rt = started(env)
    sealed_customer(rt)  # a data key wrapped by the right KEK
    rt.dispose()
    wrong = {**env, "GOVERNANCE_KEK": json.dumps(new_keyset_document())}

    with served(wrong) as (port, _):
        status, body, headers = get(port, "/readyz")

    assert status == 503, body
    assert "key-encryption key" in body["detail"]
    assert headers.get("X-Trace-Id")


def test_readyz_is_503_while_the_key_file_is_missing_and_ready_once_it_is_back(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path / "var")
    rt = started(env)
    sealed_customer(rt)
    kek = rt.settings.key_file
    rt.dispose()

    with served(env) as (port, _):
        assert get(port, "/readyz")[0] == 200
        kek.rename(kek.with_name("kek.json.away"))
        try:
            status, body, _ = get(port, "/readyz")
        finally:
            kek.with_name("kek.json.away").rename(kek)
        back = get(port, "/readyz")[0]

    assert status == 503, body
    assert "key file" in body["detail"]
    assert str(kek) not in json.dumps(body)  # an unauthenticated answer names no path
    assert back == 200
    assert os.path.exists(kek)
