from marshmallow import Schema, fields, validate

from api.schemas.common import UtcDateTime


class ClientCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True)
    purposes = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)


class ClientSchema(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    purposes = fields.List(fields.String())
    key_prefix = fields.String()
    created_at = UtcDateTime()
    revoked = fields.Boolean()


class IssuedClientSchema(ClientSchema):
    key = fields.String(metadata={"description": "the API key; shown once, never again"})


class ClientListSchema(Schema):
    items = fields.List(fields.Nested(ClientSchema))
