"""The record of processing activities (GDPR Art. 30) for officers, auditors and admins:
the table rendered, and the same table to download as CSV or XLSX.

The record is ``api.ropa.read_record`` and the downloads ``api.ropa.download``, the API's
own (``GET /v1/ropa?format=``): generated on each request from the policy files and the
store's retention state, audited with the person as the actor; the page shows the rows of
``governance.ropa.formats.table``, so the page and the files say the same thing.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from api.console.access import page
from api.ropa import download, read_record
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.ropa.formats import table

READ = Permission.ROPA_READ


def overview() -> tuple[str, int]:
    document = read_record("html")
    rows = table(document["processing"])
    return render_template("console/ropa.html", record=document, header=rows[0], rows=rows[1:]), 200


def file(form: str) -> Response:
    return download(read_record(form), form)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/ropa", "ropa", page(READ, AuditAction.ROPA_READ)(overview))
    blp.add_url_rule(
        "/ropa/ropa.<any(csv, xlsx):form>", "ropa_file", page(READ, AuditAction.ROPA_READ)(file)
    )
