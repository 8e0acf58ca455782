"""The auditor's API: events, the signed checkpoint, proofs and verification.

Each view first integrates whatever is queued, so what it answers about is the log as of
this request, not as of the background integrator's last round.
"""

from __future__ import annotations

import base64
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import requires
from api.context import db, runtime
from api.pagination import decode_cursor, encode_cursor
from api.schemas.audit import (
    CheckpointPageSchema,
    CheckpointSchema,
    CheckpointsQuery,
    ConsistencyQuery,
    ConsistencySchema,
    EventPageSchema,
    EventsQuery,
    InclusionQuery,
    InclusionSchema,
    VerifySchema,
)
from audit.checkpoint import verifier_key
from audit.events import format_time
from audit.log import StoredCheckpoint
from governance.audit_actions import AuditAction
from governance.authz import Permission

blp = Blueprint("audit", __name__, url_prefix="/v1/audit", description="Tamper-evident audit log")


def _integrate(checkpoint: bool = False) -> None:
    # End this request's (read-only so far) transaction first: on SQLite it holds the write
    # lock the integrator needs, and a fresh transaction afterwards sees what was integrated.
    db().commit()
    rt = runtime()
    session = rt.sessions()
    try:
        rt.audit.integrate(session, wait=True, checkpoint=checkpoint)
        session.commit()
    finally:
        session.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@blp.route("/events")
class Events(MethodView):
    @requires(Permission.AUDIT_READ, AuditAction.AUDIT_EVENTS_READ)
    @blp.arguments(EventsQuery, location="query")
    @blp.response(200, EventPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Events in log order, each with its position and canonical bytes."""
        _integrate()
        limit = query.pop("limit")
        after = decode_cursor(query.pop("cursor"), int, scope="audit/events")
        events = runtime().audit.events(db(), after_index=after, limit=limit + 1, **query)
        page = events[:limit]
        return {
            "items": [{"index": e.index, "leaf": _b64(e.leaf), "event": e.document} for e in page],
            "next_cursor": (
                encode_cursor(page[-1].index, scope="audit/events") if len(events) > limit else None
            ),
        }


def checkpoint_body(cp: StoredCheckpoint) -> dict[str, Any]:
    signer = runtime().audit.signer
    return {
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash.hex(),
        "timestamp": format_time(cp.created_at),
        "note": cp.note,
        "key_name": cp.key_name,
        "public_key": _b64(signer.public_key_bytes),
        "verifier_key": verifier_key(cp.key_name, signer.public_key_bytes),
    }


@blp.route("/checkpoint")
class LatestCheckpoint(MethodView):
    @requires(Permission.AUDIT_READ, AuditAction.AUDIT_CHECKPOINT_READ)
    @blp.response(200, CheckpointSchema)
    def get(self) -> dict[str, Any]:
        """The latest signed tree head, as a C2SP signed note."""
        _integrate(checkpoint=True)
        cp = runtime().audit.latest_checkpoint(db())
        assert cp is not None  # integrate(checkpoint=True) always leaves one
        return checkpoint_body(cp)


@blp.route("/checkpoints")
class Checkpoints(MethodView):
    @requires(Permission.AUDIT_READ, AuditAction.AUDIT_CHECKPOINT_READ)
    @blp.arguments(CheckpointsQuery, location="query")
    @blp.response(200, CheckpointPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Every signed checkpoint, oldest first: compare them with the notes you kept, and
        ask for consistency proofs between any two."""
        _integrate(checkpoint=True)
        limit = query["limit"]
        after = decode_cursor(query["cursor"], int, scope="audit/checkpoints")
        if query.get("after_size") is not None:
            after = max(after if after is not None else -1, query["after_size"])
        found = runtime().audit.checkpoints(db(), after_size=after, limit=limit + 1)
        page = found[:limit]
        return {
            "items": [checkpoint_body(cp) for cp in page],
            "next_cursor": (
                encode_cursor(page[-1].tree_size, scope="audit/checkpoints")
                if len(found) > limit
                else None
            ),
        }


@blp.route("/proofs/inclusion")
class InclusionProof(MethodView):
    @requires(Permission.AUDIT_READ, AuditAction.AUDIT_PROOF_READ)
    @blp.arguments(InclusionQuery, location="query")
    @blp.response(200, InclusionSchema)
    def get(self, query: dict[str, int]) -> dict[str, Any]:
        """RFC 6962 inclusion proof of the event at ``index`` in the tree of ``tree_size``."""
        _integrate()
        leaf, path = runtime().audit.inclusion_proof(db(), query["index"], query["tree_size"])
        return {
            "leaf_index": query["index"],
            "tree_size": query["tree_size"],
            "leaf_hash": leaf.hex(),
            "audit_path": [h.hex() for h in path],
        }


@blp.route("/proofs/consistency")
class ConsistencyProof(MethodView):
    @requires(Permission.AUDIT_READ, AuditAction.AUDIT_PROOF_READ)
    @blp.arguments(ConsistencyQuery, location="query")
    @blp.response(200, ConsistencySchema)
    def get(self, query: dict[str, int]) -> dict[str, Any]:
        """RFC 6962 consistency proof that the tree of ``second`` extends that of ``first``."""
        _integrate()
        proof = runtime().audit.consistency_proof(db(), query["first"], query["second"])
        return {
            "first": query["first"],
            "second": query["second"],
            "proof": [h.hex() for h in proof],
        }


@blp.route("/verify")
class Verify(MethodView):
    @requires(Permission.AUDIT_READ, AuditAction.AUDIT_VERIFIED)
    @blp.response(200, VerifySchema)
    def get(self) -> dict[str, Any]:
        """Recompute every leaf and the tree from the rows and check every checkpoint."""
        _integrate(checkpoint=True)
        report = runtime().audit.verify(db())
        return {
            "ok": report.ok,
            "tree_size": report.tree_size,
            "root_hash": report.root_hash.hex(),
            "checkpoints_checked": report.checkpoints_checked,
            "pending": report.pending,
            "problems": report.problems,
        }
