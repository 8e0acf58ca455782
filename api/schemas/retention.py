from marshmallow import Schema, fields, validate

from api.schemas.common import Choice, UtcDateTime
from governance.retention.holds import MATTER, HoldReason, HoldScope, ReleaseReason


class HoldCreateSchema(Schema):
    scope = Choice(
        required=True,
        validate=validate.OneOf([s.value for s in HoldScope]),
        metadata={
            "description": "`subject` (every record of one data subject) or "
            "`collection` (every record of one collection)"
        },
    )
    subject_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "scope subject: the subject's id"},
    )
    collection = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "scope collection: its name"},
    )
    reason = Choice(required=True, validate=validate.OneOf([r.value for r in HoldReason]))
    matter = fields.String(
        required=True,
        validate=validate.Regexp(MATTER),
        metadata={
            "description": "the matter's reference in another system (a case or inquiry number): "
            "an id, no spaces, never a description"
        },
    )
    expires_at = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "when the hold lapses by itself (default: until released)"},
    )


class HoldReleaseSchema(Schema):
    reason = Choice(required=True, validate=validate.OneOf([r.value for r in ReleaseReason]))


class HoldSchema(Schema):
    id = fields.String()
    scope = fields.String(metadata={"enum": [s.value for s in HoldScope]})
    subject_id = fields.String(allow_none=True)
    collection = fields.String(allow_none=True)
    reason = fields.String(metadata={"enum": [r.value for r in HoldReason]})
    matter = fields.String()
    expires_at = UtcDateTime(allow_none=True)
    active = fields.Boolean(metadata={"description": "placed, not released, not expired"})
    placed_at = UtcDateTime()
    placed_by = fields.String()
    released_at = UtcDateTime(allow_none=True)
    released_by = fields.String(allow_none=True)
    release_reason = fields.String(
        allow_none=True, metadata={"enum": [*(r.value for r in ReleaseReason), None]}
    )
    resumed_requests = fields.List(
        fields.String(),
        metadata={
            "description": "on release: the erasure requests that waited on the hold and were "
            "resumed"
        },
    )
    waiting_requests = fields.List(
        fields.String(), metadata={"description": "erasure requests on hold because of this hold"}
    )


class HoldListSchema(Schema):
    items = fields.List(fields.Nested(HoldSchema))


class HoldsQuery(Schema):
    active = fields.Boolean(
        load_default=None,
        metadata={"description": "true: active holds only; false: released or expired ones"},
    )
    subject_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "holds on this data subject"},
    )
    collection = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "holds on this collection"},
    )
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "the most items to return (1-500)"},
    )


class PlanRuleSchema(Schema):
    rule = fields.String(
        metadata={
            "description": "e.g. delete:web_events, anonymize:orders, "
            "erase:customers, null:interactions.body"
        }
    )
    collection = fields.String()
    field = fields.String(allow_none=True, metadata={"description": "a field-level override"})
    strategy = fields.String(metadata={"enum": ["delete", "anonymize", "erase", "null"]})
    period = fields.String(metadata={"description": "ISO 8601 period"})
    counted_from = fields.String()
    basis = fields.String()
    cutoff = fields.String(
        metadata={"format": "date-time", "description": "records dated before it are due"}
    )
    due = fields.Integer(metadata={"description": "records due, not held"})
    held = fields.Integer(metadata={"description": "records due but under a legal hold"})
    oldest_due = fields.String(allow_none=True, metadata={"format": "date-time"})
    hold_ids = fields.List(fields.String())


class PlanSchema(Schema):
    as_of = UtcDateTime()
    policy_version = fields.String()
    rules = fields.List(fields.Nested(PlanRuleSchema))


class RunRequestSchema(Schema):
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "record the plan and change nothing"}
    )
    batch_size = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=10_000),
        metadata={"description": "records per committed batch"},
    )


class RunSchema(Schema):
    id = fields.String()
    state = fields.String(metadata={"enum": ["queued", "running", "completed", "failed"]})
    dry_run = fields.Boolean()
    batch_size = fields.Integer()
    as_of = UtcDateTime(metadata={"description": "the cut-offs are counted from this time"})
    requested_by = fields.String()
    policy_version = fields.String()
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    plan = fields.List(fields.Nested(PlanRuleSchema))
    progress = fields.Dict(metadata={"description": "per rule: done, held, batches, finished"})
    totals = fields.Dict(allow_none=True, metadata={"description": "per strategy: records"})
    error = fields.String(allow_none=True, metadata={"description": "a failure code"})


class RunListSchema(Schema):
    items = fields.List(fields.Nested(RunSchema))


class RunsQuery(Schema):
    limit = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=200),
        metadata={"description": "the most recent runs to return (1-200)"},
    )
