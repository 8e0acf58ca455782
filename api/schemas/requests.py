from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from api.schemas.common import Choice, UtcDateTime
from governance.requests.deadlines import ExtensionReason, Regulation, RequestType
from governance.requests.failures import FailureReason
from governance.requests.models import RequestStatus
from governance.requests.services import VERIFICATION_METHODS

TYPES = [t.value for t in RequestType]
STATUSES = [s.value for s in RequestStatus]


class SubjectRefSchema(Schema):
    email = fields.String(
        validate=validate.Length(min=3, max=254),
        metadata={"description": "found through the email's blind index"},
    )
    subject_id = fields.String(validate=validate.Length(min=1, max=32))


class RequestCreateSchema(Schema):
    type = Choice(required=True, validate=validate.OneOf(TYPES))
    regulation = Choice(required=True, validate=validate.OneOf([r.value for r in Regulation]))
    subject = fields.Nested(
        SubjectRefSchema,
        required=True,
        metadata={"description": "exactly one of email, subject_id"},
    )
    details = fields.Dict(
        load_default=None,
        metadata={
            "description": 'objection: {"purposes": [...]}; rectification: {"corrections": '
            '[{"collection", "record_id"?, "fields": {name: value}}]}; '
            "other types: none"
        },
    )
    received_at = fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "when the request reached us (default: now); the deadline runs from it"
        },
    )


class VerificationSchema(Schema):
    method = fields.String(
        required=True,
        validate=validate.Length(min=2, max=64),
        metadata={
            "description": "how the identity was verified, one of "
            f"{', '.join(VERIFICATION_METHODS)} (spaces allowed for underscores)"
        },
    )


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ExtensionSchema(Schema):
    reason = Choice(
        required=True,
        validate=validate.OneOf([r.value for r in ExtensionReason]),
        metadata={
            "description": "the ground for the extension the law names: "
            "complexity or number_of_requests"
        },
    )


class StepSchema(Schema):
    position = fields.Integer()
    name = fields.String(metadata={"description": "e.g. delete:interactions, shred, verify"})
    state = fields.String(metadata={"enum": ["pending", "done"]})
    attempts = fields.Integer()
    finished_at = UtcDateTime(allow_none=True)
    result = fields.Dict(allow_none=True, metadata={"description": "counts and ids, never values"})


class RequestJobSchema(Schema):
    id = fields.String()
    state = fields.String(
        metadata={
            "description": "queued, running, succeeded, failed or "
            "dead (retried until the cap, then dead)"
        }
    )
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    not_before = UtcDateTime(metadata={"description": "a queued retry runs from then on"})
    error_code = fields.String(allow_none=True)
    waiting_on = fields.String(
        allow_none=True,
        metadata={
            "description": "the dependency an outage made unreachable (`database`, "
            "`key_store`, `broker`): the execution waits for it and resumes by "
            "itself (null when it is not waiting)"
        },
    )


class RequestSchema(Schema):
    id = fields.String()
    type = fields.String(metadata={"enum": TYPES})
    regulation = fields.String()
    status = fields.String(metadata={"enum": STATUSES})
    subject_id = fields.String(allow_none=True)
    subject_found = fields.Boolean()
    received_at = UtcDateTime()
    due_at = UtcDateTime(metadata={"description": "the end of the last day to answer (UTC)"})
    overdue = fields.Boolean()
    extended = fields.Boolean()
    extension_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "the extension's reason code",
            "enum": [*(r.value for r in ExtensionReason), None],
        },
    )
    error_explanation = fields.String(
        allow_none=True,
        metadata={"description": "what the failure reason code means and what the officer can do"},
    )
    subject_note = fields.String(
        metadata={"description": "present when no subject matched at intake"}
    )
    extension_explanation = fields.String(
        allow_none=True,
        metadata={"description": "the reason in words, for the notice to the subject"},
    )
    verification_method = fields.String(allow_none=True)
    verified_at = UtcDateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    details = fields.Dict(
        metadata={"description": "purposes, or corrected field names (no values)"}
    )
    result = fields.Dict(allow_none=True)
    error = fields.String(
        allow_none=True,
        metadata={
            "description": "why execution stopped, a reason code",
            "enum": [*(r.value for r in FailureReason), None],
        },
    )  # null: it has not failed
    hold_id = fields.String(
        allow_none=True,
        metadata={
            "description": "status on_hold: the legal hold the erasure waits on (Art. 17(3)(e)); "
            "releasing it resumes the erasure"
        },
    )
    created_by = fields.String()
    created_at = UtcDateTime()
    export_available = fields.Boolean()
    job = fields.Nested(
        RequestJobSchema,
        allow_none=True,
        metadata={"description": "the latest job executing the request (GET /v1/jobs/{id})"},
    )
    steps = fields.List(fields.Nested(StepSchema))


class RequestPageSchema(Schema):
    items = fields.List(fields.Nested(RequestSchema))
    next_cursor = fields.String(allow_none=True)


class RequestsQuery(Schema):
    status = DelimitedList(
        Choice(validate=validate.OneOf([*STATUSES, "open", "closed"])),
        load_default=tuple,
        metadata={
            "description": "statuses separated by commas, or `open` (received, verified, "
            "in_progress, failed, on_hold) or `closed` (completed, rejected); "
            "default: open requests only"
        },
    )
    overdue = fields.Boolean(
        load_default=None,
        metadata={
            "description": "true: open requests past their due time; false: open ones not yet due"
        },
    )
    due_within_days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=366),
        metadata={"description": "open requests due within N days (7: the week's view)"},
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
