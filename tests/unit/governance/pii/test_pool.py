"""The scan pool: worker processes build the analyzer offline, and a field split across them
comes back value for value as one process scans it; the setting that sizes the pool."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from governance.errors import SettingsError
from governance.settings import Settings

ROOT = Path(__file__).resolve().parents[4]

# Loaded by every interpreter started with this directory on PYTHONPATH, spawned workers
# included: sockets raise, and the process notes that it ran without network.
NO_NETWORK = """
import os, socket
class NoNetwork(socket.socket):
    def __init__(self, *a, **k):
        raise OSError("network disabled by the test")
socket.socket = NoNetwork
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("no network"))
with open(os.path.join(os.path.dirname(__file__), "offline-pids"), "a") as f:
    f.write(f"{os.getpid()}\\n")
"""

SCAN = """
from governance.pii.engine import EngineSpec
from governance.pii.plans import FieldPlan
from governance.pii.pool import MIN_CHUNK, ScanPool
from governance.settings import DEFAULT_PII_MODEL, PII_CONFIG_FILE
from policies.types import Field, FieldType

def main():
    spec = EngineSpec(PII_CONFIG_FILE, DEFAULT_PII_MODEL)
    plan = FieldPlan("tickets", Field(name="notes", category="user.content.private",
                                      type=FieldType.TEXT, free_text=True), "ner+patterns")
    # every value differs in where (and whether) its entities are, so order shows
    values = [" " * (i % 11) + (f"Ryan Gallagher: mail ada{i}@example.co.uk" if i % 3
                                else f"call +4915112345{i:03d}")
              for i in range(4 * MIN_CHUNK + 5)]
    with ScanPool(spec, 2) as pool:
        pool.start(wait=True)  # both workers have built their analyzers
        pooled = pool.scan(plan, values)
    in_process = ScanPool(spec, 1).scan(plan, values)
    print("same", pooled == in_process)
    print("types", sorted({e.type for found in pooled for e in found}))

if __name__ == "__main__":
    main()
"""


def test_workers_build_the_analyzer_offline_and_return_each_values_entities_in_order(
    tmp_path,
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(NO_NETWORK), encoding="utf-8")
    (tmp_path / "scan.py").write_text(SCAN, encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, "scan.py"],
        capture_output=True,
        text=True,  # noqa: S603
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "same True" in done.stdout
    assert "EMAIL_ADDRESS" in done.stdout and "PHONE_NUMBER" in done.stdout
    assert "network disabled" not in done.stderr
    offline = set((site / "offline-pids").read_text(encoding="utf-8").split())
    assert len(offline) >= 3  # the parent and both workers ran with sockets disabled


def test_the_scan_processes_setting_defaults_to_the_number_of_cpus(settings) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert settings.pii_scan_processes == cpus
    one = Settings.from_env(
        {
            "GOVERNANCE_DATABASE_URL": settings.database_url,
            "GOVERNANCE_VAR_DIR": str(settings.key_file.parent),
            "GOVERNANCE_PII_SCAN_PROCESSES": "1",
        }
    )
    assert one.pii_scan_processes == 1


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_scan_processes_setting_that_is_not_a_positive_number_stops_the_start(
    settings,
    value: str,
) -> None:
    with pytest.raises(SettingsError, match="GOVERNANCE_PII_SCAN_PROCESSES"):
        Settings.from_env(
            {
                "GOVERNANCE_DATABASE_URL": settings.database_url,
                "GOVERNANCE_VAR_DIR": str(settings.key_file.parent),
                "GOVERNANCE_PII_SCAN_PROCESSES": value,
            }
        )
