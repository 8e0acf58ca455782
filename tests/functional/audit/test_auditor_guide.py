"""The auditor's guide script verifies a served log with nothing of ours but HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.checkpoint import verifier_key
from tests.functional.serving import embedded_env, served

SCRIPT = Path(__file__).resolve().parents[3] / "docs" / "verify_log.py"


def _fetch(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - http to our test server
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.load(response)


@pytest.fixture(scope="module")
def served_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    env = embedded_env(tmp_path_factory.mktemp("served"))
    created = subprocess.run(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "cli",
            "clients",
            "create",
            "guide-auditor",
            "--role",
            "auditor",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = json.loads(created.stdout.strip().splitlines()[-1])["key"]
    with served(env) as (port, _):
        yield f"http://127.0.0.1:{port}", token


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), *args],  # noqa: S603 - our script
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_guide_script_verifies_checkpoint_inclusion_and_consistency(
    served_log: tuple[str, str], tmp_path: Path
) -> None:
    url, token = served_log
    first = _fetch(url + "/v1/audit/checkpoint", token)
    kept = tmp_path / "kept.note"
    kept.write_text(first["note"], encoding="utf-8")
    for _ in range(5):  # the log grows: every audited read is an event
        _fetch(url + "/v1/audit/events?limit=1", token)

    result = _run_script(
        "--url",
        url,
        "--token",
        token,
        "--verifier-key",
        first["verifier_key"],
        "--old-checkpoint",
        str(kept),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "signature verified" in result.stdout
    assert "inclusion of" in result.stdout
    assert "consistency with the kept checkpoint" in result.stdout


def test_guide_script_fails_on_a_key_the_auditor_did_not_pin(served_log: tuple[str, str]) -> None:
    url, token = served_log
    served = _fetch(url + "/v1/audit/checkpoint", token)
    impostor = (
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )

    result = _run_script(
        "--url", url, "--token", token, "--verifier-key", verifier_key(served["key_name"], impostor)
    )

    assert result.returncode == 1
    assert "FAILED: the checkpoint carries no signature by the pinned key" in result.stdout
