from marshmallow import Schema, fields


class FieldSchema(Schema):
    name = fields.String()
    category = fields.String()
    type = fields.String()
    description = fields.String()
    required = fields.Boolean()
    encrypted = fields.Boolean()
    lookup = fields.Boolean()
    identity = fields.Boolean(
        metadata={
            "description": "what a data-subject request is taken in by: unique in its collection"
        }
    )
    free_text = fields.Boolean()
    max_length = fields.Integer(allow_none=True)
    choices = fields.List(fields.String())
    references = fields.String(allow_none=True)
    on_erasure = fields.String()
    retention = fields.Nested(
        lambda: RetentionSchema(),
        allow_none=True,
        metadata={"description": "a field-level override: the field goes before its row"},
    )


class RetentionSchema(Schema):
    period = fields.String()
    counted_from = fields.String(data_key="from")
    basis = fields.String()


class ErasureSchema(Schema):
    strategy = fields.String()
    legal_obligation = fields.String(allow_none=True)


class CollectionSchema(Schema):
    name = fields.String()
    description = fields.String()
    relation = fields.String()
    retention = fields.Nested(RetentionSchema)
    erasure = fields.Nested(ErasureSchema)
    fields_ = fields.List(fields.Nested(FieldSchema), data_key="fields")


class DataMapSchema(Schema):
    policy_version = fields.String()
    subject_collection = fields.String()
    custom_categories = fields.Dict(keys=fields.String(), values=fields.String())
    collections = fields.List(fields.Nested(CollectionSchema))


class PolicySchema(Schema):
    version = fields.String()
    files = fields.Dict(keys=fields.String(), values=fields.String())
