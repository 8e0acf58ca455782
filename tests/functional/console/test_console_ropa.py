"""The record of processing page: officers, auditors and admins read the Art. 30 table and
download the same rows as CSV and XLSX (audited with the person as the actor); an unknown
format is not a page; a person whose role lacks the permission is refused."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from audit.models import audit_entries


def _purposes(html: str) -> list[str]:
    return re.findall(r'<tr id="purpose-([^"]+)">', html)


@pytest.mark.parametrize("role", ["compliance_officer", "auditor", "admin"])
def test_the_table_and_both_downloads_show_the_same_purposes(
    browser, signed_in, session, role
) -> None:  # noqa: ANN001
    user = signed_in(role)
    page = browser.http.get("/console/ropa")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Controller and contact (30(1)(a))" in html
    assert 'href="/console/ropa"' in html  # in the navigation
    shown = _purposes(html)
    assert shown
    as_csv = browser.http.get("/console/ropa/ropa.csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == 'attachment; filename="ropa.csv"'
    assert as_csv.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [r[0] for r in rows[1:]] == shown
    as_xlsx = browser.http.get("/console/ropa/ropa.xlsx")
    assert as_xlsx.status_code == 200 and as_xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.get_data()))["Art. 30 record"]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == shown
    readers = session.scalars(
        select(audit_entries.c.actor_id).where(audit_entries.c.action == "ropa.read")
    ).all()
    assert readers == [f"user:{user.id}"] * 3


def test_an_unknown_format_is_a_404_page(browser, signed_in) -> None:  # noqa: ANN001
    signed_in("auditor")
    missing = browser.http.get("/console/ropa/ropa.pdf")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def test_signed_out_the_record_and_its_files_go_to_the_sign_in(browser) -> None:  # noqa: ANN001
    for url in ("/console/ropa", "/console/ropa/ropa.csv"):
        response = browser.http.get(url)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]
