"""`governance pii scan` while a scan is queued or running starts no second scan: one line
names the running scan and how to follow or resume it (issue 14 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from governance.db import unit_of_work
from governance.runtime import open_runtime
from governance.settings import Settings
from tests.functional.serving import embedded_env


def test_pii_scan_while_one_is_queued_names_it_and_starts_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = embedded_env(tmp_path, GOVERNANCE_PII_SCAN_PROCESSES="1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rt = open_runtime(Settings.from_env(env))
    service = rt.pii_scans()
    with unit_of_work(rt.sessions) as session:
        queued, _ = service.request(session, sample=5, requested_by="api")

    code = main(["pii", "scan", "--sample", "5"])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and queued.id in err
    with unit_of_work(rt.sessions) as session:
        assert service.unfinished(session) == [queued.id]
    rt.dispose()
