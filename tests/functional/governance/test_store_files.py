"""The embedded default's SQLite files are the service's alone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from governance.db import make_engine
from governance.errors import SettingsError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_is_created_owner_only_in_an_owner_only_folder(tmp_path: Path) -> None:
    path = tmp_path / "var" / "governance.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.commit()
    engine.dispose()

    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600


def test_a_store_others_can_read_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "governance.db"
    path.touch()
    os.chmod(path, 0o644)

    with pytest.raises(SettingsError) as refused:
        make_engine(f"sqlite:///{path}")

    assert str(path) in str(refused.value) and "chmod 600" in str(refused.value)


def test_the_cli_refuses_a_world_readable_store_in_one_line(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOVERNANCE_DATABASE_URL", "GOVERNANCE_KEYSTORE_URL")
    }
    env["GOVERNANCE_VAR_DIR"] = str(tmp_path)
    (tmp_path / "governance.db").touch()
    os.chmod(tmp_path / "governance.db", 0o644)

    result = subprocess.run(
        [sys.executable, "-m", "cli", "db", "upgrade"],  # noqa: S603
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "chmod 600" in result.stderr + result.stdout
