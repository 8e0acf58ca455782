"""Keys are created only by the first-run step (``governance init``, the demo): a process
that finds a key file missing while the stores say it existed (sealed values in the CRM
store, data keys in the key store, signed checkpoints in the audit log) refuses to start in
one line naming the file, and creates nothing (issue 26, item 5)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from audit.events import Actor, AuditEvent
from governance.db import unit_of_work
from governance.errors import GovernanceError
from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.conftest import _server_url, fresh_postgres_database
from tests.functional.serving import embedded_env, free_port, served
from tests.migrated import migrated_keystore

ACTOR = Actor(id="cli:test", role="operator")


def checkpointed(rt: Runtime) -> None:
    """One event in the audit log under a signed checkpoint."""
    with unit_of_work(rt.sessions) as session:
        rt.audit.record(
            session,
            AuditEvent(action="client.created", actor=ACTOR, policy_version=rt.policy.version),
        )
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session, checkpoint=True)


def sealed_customer(rt: Runtime) -> None:
    with unit_of_work(rt.sessions) as session:
        rt.record_store(session).create(
            "customers",
            {"first_name": "Ada", "last_name": "Fictional", "email": "ada@mail.example"},
        )


def serve_until_exit(env: dict[str, str], timeout: float = 30) -> tuple[int | None, list[str]]:
    """Run ``governance serve``; (exit status or None if it kept running, stderr lines)."""
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli", "serve", "--workers", "1", "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = server.communicate(timeout=timeout)
        status: int | None = server.returncode
    except subprocess.TimeoutExpired:
        server.terminate()
        _, err = server.communicate(timeout=30)
        status = None
    return status, [line for line in err.decode().splitlines() if line.strip()]


def test_a_missing_key_folder_at_worker_start_is_refused_in_one_line_naming_the_file(
    tmp_path: Path,
) -> None:
    """The embedded default keeps the key file, the signing key and the key store in one
    folder: a volume not yet mounted must not become a new KEK, signing key and key store."""
    var = tmp_path / "var"
    env = embedded_env(var)
    rt = open_runtime(Settings.from_env(env))
    sealed_customer(rt)
    checkpointed(rt)
    rt.dispose()
    shutil.rmtree(var / "keys")

    status, lines = serve_until_exit(env)

    assert status == 2, "the server started without its key folder"
    assert len(lines) == 1, lines
    assert str(var / "keys" / "kek.json") in lines[0]
    assert "restore" in lines[0]
    assert not (var / "keys").exists()  # nothing created: no key, no empty key store


def test_a_missing_signing_key_is_not_recreated_when_the_log_holds_signed_checkpoints(
    own_runtime,
) -> None:  # noqa: ANN001
    """On either database: a new signing key would make every older checkpoint fail."""
    rt = own_runtime()
    checkpointed(rt)
    path = rt.settings.audit_signing_key_file
    path.unlink()

    with pytest.raises(GovernanceError) as refused:
        open_runtime(rt.settings)

    assert str(path) in refused.value.detail
    assert "signed checkpoints" in refused.value.detail
    assert "\n" not in refused.value.detail
    assert not path.exists()


def test_sealed_values_forbid_a_new_key_file_even_with_an_empty_key_store(
    own_runtime, tmp_path: Path
) -> None:  # noqa: ANN001
    """The key store went with the key file (same folder, or a restore in progress): the
    CRM store's sealed values still say a key existed."""
    rt = own_runtime()
    sealed_customer(rt)
    server = _server_url()
    with (
        contextlib.nullcontext(f"sqlite:///{tmp_path / 'empty-keystore.db'}")
        if server is None
        else contextlib.contextmanager(fresh_postgres_database)(server)
    ) as keystore:
        migrated_keystore(keystore)
        lost = tmp_path / "lost"
        settings = Settings.from_env(
            {
                "GOVERNANCE_DATABASE_URL": rt.settings.database_url,
                "GOVERNANCE_KEYSTORE_URL": keystore,
                "GOVERNANCE_KEY_FILE": str(lost / "kek.json"),
                "GOVERNANCE_AUDIT_SIGNING_KEY_FILE": str(rt.settings.audit_signing_key_file),
                "GOVERNANCE_VAR_DIR": str(lost),
            }
        )

        with pytest.raises(GovernanceError) as refused:
            open_runtime(settings)

    assert str(lost / "kek.json") in refused.value.detail
    assert "sealed" in refused.value.detail
    assert not (lost / "kek.json").exists()


def test_serve_on_a_fresh_var_dir_asks_for_init_and_serves_after_it(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = embedded_env_without_keys(var)

    status, lines = serve_until_exit(env)

    assert status == 2
    assert len(lines) == 1 and "governance init" in lines[0], lines
    assert not (var / "keys" / "kek.json").exists()

    init = subprocess.run(
        [sys.executable, "-m", "cli", "init"],  # noqa: S603
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    assert (var / "keys" / "kek.json").exists()
    assert (var / "keys" / "audit-signing-key.pem").exists()
    with served(env) as (port, _):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:  # noqa: S310
            assert answer.status == 200


def embedded_env_without_keys(var: Path) -> dict[str, str]:
    """The environment of an embedded default that nobody has initialised."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOVERNANCE_DATABASE_URL", "GOVERNANCE_KEYSTORE_URL")
    }
    env.update({"GOVERNANCE_VAR_DIR": str(var), "GOVERNANCE_LOG_LEVEL": "WARNING"})
    return env
