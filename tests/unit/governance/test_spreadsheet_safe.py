"""Export CSV cells never run as formulas when a person opens them in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from governance.requests.export import _csv, spreadsheet_safe
from governance.ropa.formats import to_csv
from governance.ropa.record import COLUMNS

# A cell that hides a formula behind the separator spreadsheets use in most EU locales.
SEMICOLON_FORMULA = "x;=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "cell",
    [
        "=1+2",
        "+A1",
        "-A1",
        "@SUM(A1)",
        '\t=HYPERLINK("x")',
        " =3+4",
        "\r=1",
        "\n  @x",
        "\u00a0=1",
        "\tplain",
    ],
)
def test_a_cell_a_spreadsheet_would_evaluate_is_quoted(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "-5", "+3.25", "1e3", "Ada", "a=b", "ticket - open"])
def test_plain_text_and_numbers_are_left_as_they_are(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell


def test_the_csv_writer_escapes_every_cell() -> None:
    written = _csv(["note"], [['\t=HYPERLINK("http://x.example")'], [" =3+4"]])
    assert "\r\n\"'\t=HYPERLINK" in written
    assert '\r\n"\' =3+4"\r\n' in written


def _cells_of(written: str, separator: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(written), delimiter=separator) for c in row]


def test_every_export_cell_is_quoted_so_a_semicolon_cannot_start_a_formula() -> None:
    written = _csv(["note", "n"], [[SEMICOLON_FORMULA, "3"]])
    assert written == f'"note","n"\r\n"{SEMICOLON_FORMULA}","3"\r\n'
    for separator in (",", ";", "\t"):  # however the spreadsheet splits the line
        assert not any(c.startswith("=") for c in _cells_of(written, separator))


def test_every_ropa_csv_cell_is_quoted_so_a_semicolon_cannot_start_a_formula() -> None:
    row = {key: SEMICOLON_FORMULA if key == COLUMNS[0][0] else "" for key, _ in COLUMNS}
    written = to_csv({"processing": [row]})
    assert written.splitlines()[1].startswith(f'"{SEMICOLON_FORMULA}",""')
    assert all(line.startswith('"') and line.endswith('"') for line in written.splitlines())
    for separator in (",", ";"):
        assert not any(c.startswith("=") for c in _cells_of(written, separator))
