"""`governance ropa export --format json|csv|xlsx -o FILE` writes the record of processing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from cli.main import main
from tests.functional.test_cli_retention import cli_db  # noqa: F401 - fixture


@pytest.mark.usefixtures("cli_db")
def test_ropa_export_writes_the_same_rows_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("json", "csv", "xlsx"):
        assert main(["ropa", "export", "--format", fmt, "-o", str(tmp_path / f"ropa.{fmt}")]) == 0
    assert "wrote the record of processing" in capsys.readouterr().out

    purposes = [
        r["purpose"] for r in json.loads((tmp_path / "ropa.json").read_text())["processing"]
    ]
    with open(tmp_path / "ropa.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    sheet = openpyxl.load_workbook(tmp_path / "ropa.xlsx")["Art. 30 record"]
    assert [r[0] for r in rows[1:]] == purposes
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == purposes
    assert main(["ropa", "export", "--format", "xlsx"]) == 2  # a spreadsheet needs a file
