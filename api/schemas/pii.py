from marshmallow import Schema, fields, validate

from api.schemas.common import UtcDateTime


class AnalyzeRequestSchema(Schema):
    # Raw, not String: a missing, empty or non-string text is the service's 400, as the
    # contract says, rather than a schema 422.
    text = fields.Raw(load_default=None, metadata={"description": "the text to analyse"})
    language = fields.String(load_default="en", validate=validate.OneOf(["en"]))
    entities = fields.List(
        fields.String(validate=validate.Length(max=64)),
        load_default=None,
        validate=validate.Length(max=100),
    )


class EntitySchema(Schema):
    type = fields.String()
    start = fields.Integer()
    end = fields.Integer()
    score = fields.Float()
    recognizer = fields.String()


class AnalyzeResponseSchema(Schema):
    entities = fields.List(fields.Nested(EntitySchema))


class ScanRequestSchema(Schema):
    sample = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "records sampled per collection"},
    )


class ScanProgressSchema(Schema):
    fields_done = fields.Integer()
    fields_total = fields.Integer()


class ScanCreatedSchema(Schema):
    id = fields.String()
    state = fields.String()
    progress = fields.Nested(ScanProgressSchema)


class ScanReportSchema(Schema):
    id = fields.String()
    state = fields.String()
    sample_size = fields.Integer()
    progress = fields.Nested(ScanProgressSchema)
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    policy_version = fields.String()
    error = fields.String(allow_none=True)
    fields_ = fields.List(
        fields.Dict(),
        data_key="fields",
        attribute="fields",
        metadata={
            "description": "per field: entity types with counts and "
            "mean scores (never matched text)"
        },
    )
    findings = fields.List(
        fields.Dict(),
        metadata={
            "description": "disagreements with the data map: undeclared or declared_not_found"
        },
    )
