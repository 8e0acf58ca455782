"""The policy pages: the data map (collections, fields, categories, encryption, retention,
erasure) and the purposes with their legal bases and what each may see.

Both read the loaded policy set only (no database), the same objects ``/v1/datamap``,
``/v1/purposes`` and ``governance policy check`` read; what each purpose may see is
``policies.summary.access_summary``, the very summary the command prints.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from api.console.access import page
from api.context import runtime
from governance.audit_actions import AuditAction
from governance.authz import Permission
from policies.summary import access_summary


def datamap() -> tuple[str, int]:
    policy = runtime().policy
    return render_template(
        "console/datamap.html", datamap=policy.datamap, version=policy.version
    ), 200


def purposes() -> tuple[str, int]:
    policy = runtime().policy
    return render_template(
        "console/purposes.html",
        purposes=list(policy.purposes),
        access=access_summary(policy.access, policy.purposes),
        version=policy.version,
    ), 200


def register(blp: Blueprint) -> None:
    blp.add_url_rule(
        "/datamap", "datamap", page(Permission.DATAMAP_READ, AuditAction.DATAMAP_READ)(datamap)
    )
    blp.add_url_rule(
        "/purposes", "purposes", page(Permission.POLICY_READ, AuditAction.POLICY_READ)(purposes)
    )
