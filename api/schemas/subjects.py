from marshmallow import Schema, fields, validate

from api.schemas.common import UtcDateTime
from api.schemas.requests import RequestSchema


class SubjectLookupQuery(Schema):
    email = fields.String(
        load_default=None,
        validate=validate.Length(min=3, max=254),
        metadata={"description": "found through the blind index; never stored or logged"},
    )
    id = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"),
        metadata={"description": "the subject id"},
    )


class ConsentSummarySchema(Schema):
    status = fields.String()
    at = UtcDateTime(allow_none=True)
    source = fields.String(allow_none=True)


class SubjectSummarySchema(Schema):
    subject_id = fields.String()
    records = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "records held per collection"},
    )
    consent = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ConsentSummarySchema),
        metadata={"description": "the current state of every purpose with an event"},
    )
    restricted = fields.Boolean()
    open_requests = fields.List(fields.Nested(RequestSchema))
    past_requests = fields.List(fields.Nested(RequestSchema))
    matches_erased_subject = fields.Boolean(
        metadata={
            "description": "the subject's e-mail is that of a person erased earlier, written "
            "again since (audited as `request.suppression.matched`): to review "
            "whether the person came back on their own; the application that "
            "wrote it is not told"
        }
    )


class SubjectLookupSchema(Schema):
    items = fields.List(
        fields.Nested(SubjectSummarySchema),
        metadata={
            "description": "the subject found, or none; every subject "
            "holding the e-mail if a store holds it "
            "more than once (from before e-mails "
            "were unique)"
        },
    )
    next_cursor = fields.String(allow_none=True)
