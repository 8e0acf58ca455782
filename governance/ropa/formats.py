"""The record of processing as a table: CSV (RFC 4180, every cell quoted and formula-safe)
and XLSX (openpyxl), with the same rows, so an authority gets the same record in either."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from governance.requests.export import spreadsheet_safe
from governance.ropa.record import CCPA_COLUMNS, COLUMNS

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cell(value: Any) -> str:
    """A list as lines joined by ``; ``, a flag as yes/no; every cell formula-safe."""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list | tuple):
        text = "; ".join(str(v) for v in value)
    elif value is None:
        text = ""
    else:
        text = str(value)
    return spreadsheet_safe(text)


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]] = COLUMNS
) -> list[list[str]]:
    """The header row, then one row per item."""
    return [
        [header for _, header in columns],
        *([cell(row[key]) for key, _ in columns] for row in rows),
    ]


def to_csv(record: dict[str, Any]) -> str:
    """Every cell quoted, so a spreadsheet splitting on ``;`` (lists are joined by ``; ``)
    cannot cut a cell into one that starts with a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerows(table(record["processing"]))
    return out.getvalue()


def to_xlsx(record: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheets = [
        ("Art. 30 record", table(record["processing"])),
        ("CCPA", table(record["ccpa"], CCPA_COLUMNS)),
        (
            "Organisation",
            [
                ["Item", "Value"],
                *([cell(k), cell(v)] for k, v in record["organisation"].items()),
                ["Policy version", record["policy_version"]],
                ["Generated at", record["generated_at"]],
                ["Fictional organisation", cell(record["fictional"])],
            ],
        ),
    ]
    first = True
    for title, rows in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        sheet.title = title
        for row in rows:
            sheet.append(row)
        for header in sheet[1]:
            header.font = Font(bold=True)
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 40
            for c in column:
                c.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
