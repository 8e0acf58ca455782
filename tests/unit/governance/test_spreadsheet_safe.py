"""Export CSV cells never run as formulas when a person opens them in a spreadsheet."""

from __future__ import annotations

import pytest

from governance.requests.export import _csv, spreadsheet_safe


@pytest.mark.parametrize("cell", ["=1+2", "+A1", "-A1", "@SUM(A1)", "\t=HYPERLINK(\"x\")",
                                  " =3+4", "\r=1", "\n  @x", "\u00a0=1", "\tplain"])
def test_a_cell_a_spreadsheet_would_evaluate_is_quoted(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "-5", "+3.25", "1e3", "Ada", "a=b", "ticket - open"])
def test_plain_text_and_numbers_are_left_as_they_are(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell


def test_the_csv_writer_escapes_every_cell() -> None:
    written = _csv(["note"], [["\t=HYPERLINK(\"http://x.example\")"], [" =3+4"]])
    assert "\r\n\"'\t=HYPERLINK" in written
    assert "\r\n' =3+4\r\n" in written
