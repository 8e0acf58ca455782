from marshmallow import Schema, fields, validate

from api.schemas.common import MAX_STORED_INT, DayOrTime

# The shape the log gives ids and names (audit.events): a filter of any other shape could
# match nothing, and is refused instead.
_NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.:/{}\-]{0,127}$")
# Log positions and tree sizes, no larger than the database holds (a larger one would be an
# OverflowError in the query, not an answer).
_POSITION = validate.Range(min=0, max=MAX_STORED_INT)
_SIZE = validate.Range(min=1, max=MAX_STORED_INT)


class EventsQuery(Schema):
    actor = fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "events of this actor (a client id, an officer, `system`)"},
    )
    action = fields.String(
        validate=validate.Regexp(r"^[a-z][a-z_.]*(\.\*)?$"),
        metadata={"description": "an action (`data.read`), or a family of them (`request.*`)"},
    )
    subject_id = fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={
            "description": "events about this subject: its own (target.subject_id) and the lists "
            "that returned it (viewed_subjects)"
        },
    )
    purpose = fields.String(validate=_NAME, metadata={"description": "events for this purpose"})
    outcome = fields.String(
        validate=validate.OneOf(["allowed", "denied", "failed"]),
        metadata={"description": "allowed, denied or failed"},
    )
    collection = fields.String(
        validate=_NAME, metadata={"description": "events whose target is in this collection"}
    )
    since = DayOrTime(
        default_timezone=None,
        metadata={"description": "events recorded at or after this time (a date: its start, UTC)"},
    )
    until = DayOrTime(
        default_timezone=None,
        metadata={
            "description": "events recorded before this time (a date: its start, UTC; exclusive)"
        },
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "the most items to return (1-500)"},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "the previous page's `next_cursor`"},
    )


class EventSchema(Schema):
    index = fields.Integer()
    leaf = fields.String(metadata={"description": "base64 of the event's canonical bytes"})
    event = fields.Dict(metadata={"description": "the canonical bytes, decoded"})


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(allow_none=True)


class CheckpointSchema(Schema):
    tree_size = fields.Integer()
    root_hash = fields.String(metadata={"description": "hex"})
    timestamp = fields.String()
    note = fields.String(metadata={"description": "C2SP signed note of the tlog-checkpoint"})
    key_name = fields.String()
    public_key = fields.String(metadata={"description": "raw 32-byte Ed25519 key, base64"})
    verifier_key = fields.String(metadata={"description": "the key as a Go note verifier key"})


class CheckpointsQuery(Schema):
    after_size = fields.Integer(
        validate=_POSITION,
        metadata={
            "description": "only checkpoints of a larger tree (e.g. the size of one you kept)"
        },
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "the most items to return (1-500)"},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "the previous page's `next_cursor`"},
    )


class CheckpointPageSchema(Schema):
    items = fields.List(fields.Nested(CheckpointSchema))
    next_cursor = fields.String(allow_none=True)


class InclusionQuery(Schema):
    index = fields.Integer(
        required=True,
        validate=_POSITION,
        metadata={"description": "the position of the event in the log (0-based)"},
    )
    tree_size = fields.Integer(
        required=True,
        validate=_SIZE,
        metadata={"description": "the size of the tree the proof is for (a checkpoint's size)"},
    )


class InclusionSchema(Schema):
    leaf_index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    audit_path = fields.List(fields.String())


class ConsistencyQuery(Schema):
    first = fields.Integer(
        required=True,
        validate=_SIZE,
        metadata={"description": "the size of the older tree (a checkpoint the auditor kept)"},
    )
    second = fields.Integer(
        required=True, validate=_SIZE, metadata={"description": "the size of the newer tree"}
    )


class ConsistencySchema(Schema):
    first = fields.Integer()
    second = fields.Integer()
    proof = fields.List(fields.String())


class VerifySchema(Schema):
    ok = fields.Boolean()
    tree_size = fields.Integer()
    root_hash = fields.String()
    checkpoints_checked = fields.Integer()
    pending = fields.Integer()
    problems = fields.List(fields.String())
