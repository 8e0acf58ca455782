"""GET /v1/ropa: the record of processing as JSON, CSV or XLSX, for officers, auditors and
admins; an unknown format is a 422 problem."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.conftest import bearer


@pytest.fixture
def auditor(issue_key):
    return bearer(issue_key("auditor"))


def test_the_record_comes_as_json_csv_and_xlsx_with_the_same_rows(http, auditor) -> None:
    document = http.get("/v1/ropa", headers=auditor)
    as_csv = http.get("/v1/ropa?format=csv", headers=auditor)
    as_xlsx = http.get("/v1/ropa?format=xlsx", headers=auditor)

    assert document.status_code == as_csv.status_code == as_xlsx.status_code == 200
    rows = document.get_json()["processing"]
    assert as_csv.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [r[0] for r in table[1:]] == [r["purpose"] for r in rows]
    assert as_xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.get_data()))["Art. 30 record"]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        r["purpose"] for r in rows
    ]


def test_an_unknown_format_is_422_and_applications_may_not_read_the_record(
    http, auditor, issue_key
) -> None:
    refused = http.get("/v1/ropa?format=pdf", headers=auditor)
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    app = bearer(issue_key("application", "analytics"))
    assert http.get("/v1/ropa", headers=app).status_code == 403
