from marshmallow import Schema, fields


class CollectionRightsSchema(Schema):
    collection = fields.String()
    read = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": "field -> `allow`, or the mask applied (last4, hash, ...); fields "
            "not listed are denied"
        },
    )
    write = fields.List(fields.String(), metadata={"description": "fields it may write"})
    filters = fields.List(
        fields.String(), metadata={"description": "list filters it may use (subject_id, email)"}
    )


class PurposeRightsSchema(Schema):
    id = fields.String()
    legal_basis = fields.String()
    requires_consent = fields.Boolean()
    free_text_pii = fields.String(
        metadata={"description": "what happens to undeclared PII in free text it writes"}
    )
    collections = fields.List(fields.Nested(CollectionRightsSchema))


class MeSchema(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    permissions = fields.List(fields.String())
    purposes = fields.List(fields.Nested(PurposeRightsSchema))
