from marshmallow import Schema, fields, validate


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


class StatusSchema(Schema):
    status = fields.String(required=True)
