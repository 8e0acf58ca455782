from marshmallow import INCLUDE, Schema, validate
from marshmallow import fields as ma

_NAME = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="must be a purpose id")
_FIELDS = validate.Regexp(
    r"^(?=.{1,2000}$)[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*$",
    error="must be field names separated by commas",
)


class PurposeQuery(Schema):
    purpose = ma.String(
        required=True,
        validate=_NAME,
        metadata={"description": "the purpose the data is processed for"},
    )


class ReadQuery(PurposeQuery):
    field_names = ma.String(
        load_default=None,
        validate=_FIELDS,
        data_key="fields",
        metadata={"description": "comma-separated field names"},
    )
    explain = ma.Boolean(
        load_default=False,
        metadata={"description": "add the decision: per-field effect and reason"},
    )


class ListQuery(ReadQuery):
    subject_id = ma.String(
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z0-9_\-]{1,64}$", error="must be a subject id"),
        metadata={"description": "only records of this data subject"},
    )
    email = ma.String(
        load_default=None,
        validate=validate.Length(min=1, max=254),
        metadata={"description": "find a customer by the blind index of its email"},
    )
    limit = ma.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "the most items to return (1-500)"},
    )
    cursor = ma.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "the previous page's `next_cursor`"},
    )


class RecordBody(Schema):
    """A CRM record: the fields of the collection as the data map declares them."""

    class Meta:
        unknown = INCLUDE


class CreatedSchema(Schema):
    id = ma.String()
    redacted_fields = ma.List(
        ma.String(),
        metadata={
            "description": "free-text fields whose personal data the PII check replaced by its "
            "type (the purpose's `free_text_pii: redact`); absent when none"
        },
    )


class RecordSchema(Schema):
    """The record's fields that the policy lets through, masked as it says."""

    class Meta:
        unknown = INCLUDE

    id = ma.String()


class RecordPageSchema(Schema):
    items = ma.List(ma.Dict())
    next_cursor = ma.String(allow_none=True)
    decision = ma.Dict(required=False)
