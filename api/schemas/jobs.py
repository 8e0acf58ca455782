from marshmallow import Schema, fields, validate

from api.schemas.common import Choice, UtcDateTime
from governance.jobs.models import JobState
from governance.jobs.service import JobKind

STATES = [s.value for s in JobState]
KINDS = [k.value for k in JobKind]


class JobSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"enum": KINDS})
    target_id = fields.String(
        allow_none=True,
        metadata={"description": "the id of what the job works on (a request, a scan)"},
    )
    queue = fields.String(metadata={"enum": ["interactive", "bulk"]})
    state = fields.String(metadata={"enum": STATES})
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    not_before = UtcDateTime(metadata={"description": "a queued job runs from then on"})
    lease_until = UtcDateTime(allow_none=True)
    worker = fields.String(allow_none=True, metadata={"description": "host:pid:thread"})
    error_code = fields.String(allow_none=True)
    error_message = fields.String(
        allow_none=True,
        metadata={"description": "what stopped the last attempt, in words (never a value)"},
    )
    waiting_on = fields.String(
        allow_none=True,
        metadata={
            "description": "the dependency an outage made unreachable (`database`, "
            "`key_store`, `broker`); the job waits for it, retried with backoff "
            "(null when it is not waiting)"
        },
    )
    waiting_since = UtcDateTime(
        allow_none=True, metadata={"description": "when the job started waiting on that dependency"}
    )
    requested_by = fields.String()
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)


class JobPageSchema(Schema):
    items = fields.List(fields.Nested(JobSchema))
    next_cursor = fields.String(allow_none=True)


class JobsQuery(Schema):
    kind = Choice(
        load_default=None,
        validate=validate.OneOf(KINDS),
        metadata={"description": "only jobs of this kind"},
    )
    state = Choice(
        load_default=None,
        validate=validate.OneOf(STATES),
        metadata={"description": "only jobs in this state"},
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "the most items to return (1-500)"},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=300),
        metadata={"description": "the previous page's `next_cursor`"},
    )
