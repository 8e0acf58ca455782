"""CRM data through policy (role application): /v1/data/{collection}[/{record_id}].

A handler parses, calls :class:`governance.access.services.DataAccessService` (which decides,
reads or writes, masks and audits in the request's transaction) and serialises.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import read_only, requires
from api.context import client, db, record, runtime
from api.inflight import expensive
from api.openapi import answers
from api.pagination import decode_cursor, encode_cursor
from api.schemas.data import CreatedSchema, ListQuery, PurposeQuery, ReadQuery, RecordBody
from governance.access.services import Caller, DataAccessService
from governance.audit_actions import AuditAction
from governance.authz import Permission

blp = Blueprint(
    "data",
    __name__,
    url_prefix="/v1",
    description="CRM records through policy: only what the purpose and consent allow",
)
# The query schemas below are instances, built once: given a class, webargs builds a schema
# per request, which cost a policy read about 40 µs (these schemas hold no per-call state).


def _service() -> DataAccessService:
    found = client()
    caller = Caller(client_id=found.id, role=found.role, purposes=frozenset(found.purposes))
    return runtime().data_access(db(), caller, record_audit=record, request_id=g.request_id)


def _fields(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    return tuple(dict.fromkeys(n for n in raw.split(",") if n))


@blp.route("/data/<collection>")
class Records(MethodView):
    @read_only
    @requires(Permission.DATA_READ, AuditAction.DATA_LISTED)
    @blp.arguments(ListQuery(), location="query")
    @blp.response(
        200,
        description="`{items, next_cursor}`: records of subjects that may be "
        "processed for the purpose, masked as the policy says",
    )
    def get(self, query: dict[str, Any], collection: str) -> dict[str, Any]:
        """Records of one collection for a purpose; `email=` finds a customer by blind index."""
        scope = f"data\x00{query['purpose']}\x00{collection}"
        result = _service().list(
            collection,
            query["purpose"],
            fields=_fields(query["field_names"]),
            subject_id=query["subject_id"],
            email=query["email"],
            after=decode_cursor(query["cursor"], str, scope=scope),
            limit=query["limit"],
        )
        body: dict[str, Any] = {
            "items": result.items,
            "next_cursor": (
                encode_cursor(result.next_after, scope=scope) if result.next_after else None
            ),
        }
        if query["explain"]:
            body["decision"] = result.decision.explain()
        return body

    @answers(
        409,
        "an identity field (e.g. a customer's `email`) has a value another record "
        "holds (`duplicate-identity`; `errors` names the field)",
    )
    @expensive  # the PII check of the record's free text
    @requires(Permission.DATA_WRITE, AuditAction.DATA_CREATED)
    @blp.arguments(PurposeQuery(), location="query")
    @blp.arguments(RecordBody)
    @blp.response(201, CreatedSchema)
    def post(self, query: dict[str, Any], body: dict[str, Any], collection: str) -> dict[str, Any]:
        """Create a record; a customer record creates a data subject."""
        return _service().create(collection, query["purpose"], body).body


@blp.route("/data/<collection>/<record_id>")
class OneRecord(MethodView):
    @read_only
    @requires(Permission.DATA_READ, AuditAction.DATA_READ)
    @blp.arguments(ReadQuery(), location="query")
    @blp.response(
        200,
        description="the record with only the fields the policy allows; "
        "with `explain=true`, `{record, decision}`",
    )
    def get(self, query: dict[str, Any], collection: str, record_id: str) -> dict[str, Any]:
        """One record for a purpose; a subject who may not be processed for it: 403."""
        result = _service().read(
            collection, record_id, query["purpose"], _fields(query["field_names"])
        )
        if query["explain"]:  # beside the record, never among its fields
            return {"record": result.body, "decision": result.decision.explain()}
        return result.body

    @answers(
        409,
        "an identity field (e.g. a customer's `email`) has a value another record "
        "holds (`duplicate-identity`; `errors` names the field)",
    )
    @expensive  # the PII check of the changed free text
    @requires(Permission.DATA_WRITE, AuditAction.DATA_UPDATED)
    @blp.arguments(PurposeQuery(), location="query")
    @blp.arguments(RecordBody)
    @blp.response(
        200,
        description="the updated record, as the purpose may read it, and "
        "`redacted_fields` when the PII check redacted free text",
    )
    def patch(
        self, query: dict[str, Any], body: dict[str, Any], collection: str, record_id: str
    ) -> dict[str, Any]:
        """Change some fields of a record (only fields the purpose may write)."""
        return _service().update(collection, record_id, query["purpose"], body).body
