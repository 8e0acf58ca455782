from marshmallow import Schema, fields

from api.schemas.common import UtcDateTime


class KekVersionSchema(Schema):
    version = fields.Integer()
    created_at = fields.String()
    retired_at = fields.String(allow_none=True)
    current = fields.Boolean()
    data_keys = fields.Integer(metadata={"description": "data keys wrapped by this version"})


class KeyJobSchema(Schema):
    id = fields.String()
    kind = fields.String()
    state = fields.String(metadata={"description": "running or done"})
    kek_version = fields.Integer(allow_none=True)
    processed = fields.Integer()
    started_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)


class KeyStatusSchema(Schema):
    provider = fields.String()
    current_version = fields.Integer()
    versions = fields.List(fields.Nested(KekVersionSchema))
    live_data_keys = fields.Integer()
    shredded_data_keys = fields.Integer()
    rotation = fields.Nested(KeyJobSchema, allow_none=True)


class RotationStartedSchema(Schema):
    kek_version = fields.Integer(metadata={"description": "the new KEK version"})
    job = fields.Nested(KeyJobSchema)
    resumed = fields.Boolean(metadata={"description": "an unfinished rotation was resumed"})


class RotateRequestSchema(Schema):
    """No options yet: an empty body or `{}`. Declared so that a malformed or unexpected
    body is refused (400/422) instead of starting a rotation."""
