from marshmallow import Schema, fields, validate

from api.schemas.common import UtcDateTime
from governance.consent.services import EVIDENCE, POLICY_VERSION, ConsentSource

# Sources a client may name in a body; gpc comes from the Sec-GPC header only.
BODY_SOURCES = sorted(s.value for s in ConsentSource if s is not ConsentSource.GPC)


class PurposeSchema(Schema):
    id = fields.String()
    description = fields.String()
    legal_basis = fields.String(
        metadata={
            "enum": [
                "consent",
                "contract",
                "legal_obligation",
                "vital_interests",
                "public_task",
                "legitimate_interests",
            ]
        }
    )
    data_use = fields.String(metadata={"description": "a fideslang data use"})
    sells_or_shares = fields.Boolean()
    sensitive = fields.Boolean()
    requires_consent = fields.Boolean()
    objectable = fields.Boolean(metadata={"description": "an objection (Art. 21) stops it"})
    restriction_exemption = fields.String(
        allow_none=True,
        metadata={"description": "storage or legal_claims: continues while restricted (Art. 18)"},
    )


class PurposeListSchema(Schema):
    items = fields.List(fields.Nested(PurposeSchema))


class _EventBody(Schema):
    # Deprecated: the gateway decides the source from the caller's key. Still accepted so
    # that clients which send it keep working, but only when it names that same source.
    source = fields.String(
        load_default=None,
        validate=validate.OneOf(BODY_SOURCES),
        metadata={
            "deprecated": True,
            "description": (
                "deprecated, leave it out: the gateway records the source from the caller's key "
                "(`api` for an application, `officer` for a compliance officer); any other "
                "value is refused with 422"
            ),
        },
    )
    policy_version = fields.String(
        validate=validate.Regexp(POLICY_VERSION),
        metadata={"description": "the version of the notice text the customer saw"},
    )
    evidence = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(EVIDENCE),
        metadata={"description": "a reference to stored evidence (id or path), not evidence"},
    )


class ConsentWriteSchema(_EventBody):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=64))
    action = fields.String(required=True, validate=validate.OneOf(["grant", "withdraw"]))
    policy_version = fields.String(
        required=True,
        validate=validate.Regexp(POLICY_VERSION),
        metadata={"description": "the version of the notice text the customer saw"},
    )


class ObjectionWriteSchema(_EventBody):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=64))
    action = fields.String(required=True, validate=validate.OneOf(["object", "lift"]))
    policy_version = fields.String(load_default=None, validate=validate.Regexp(POLICY_VERSION))


class RestrictionWriteSchema(_EventBody):
    action = fields.String(required=True, validate=validate.OneOf(["restrict", "lift"]))
    policy_version = fields.String(load_default=None, validate=validate.Regexp(POLICY_VERSION))


class ConsentEventSchema(Schema):
    id = fields.String()
    subject_id = fields.String()
    purpose = fields.String(allow_none=True)
    action = fields.String(
        metadata={
            "enum": [
                "grant",
                "withdraw",
                "object",
                "lift_objection",
                "restrict",
                "lift_restriction",
            ]
        }
    )
    source = fields.String()
    policy_version = fields.String(allow_none=True)
    evidence = fields.String(allow_none=True)
    occurred_at = UtcDateTime()
    recorded_at = UtcDateTime()
    actor_id = fields.String()


class RecordedEventSchema(ConsentEventSchema):
    gpc_opt_outs = fields.List(
        fields.Nested(ConsentEventSchema),
        metadata={"description": "opt-outs recorded because the request carried Sec-GPC: 1"},
    )


class CurrentConsentSchema(Schema):
    status = fields.String(metadata={"enum": ["granted", "withdrawn", "objected", "none"]})
    at = UtcDateTime(allow_none=True)
    source = fields.String(
        allow_none=True,
        metadata={"description": "the source of the latest event (compliance officers only)"},
    )
    processable = fields.Boolean(metadata={"description": "the purpose may process it now"})
    reason = fields.String()


class RestrictionStateSchema(Schema):
    at = UtcDateTime()
    source = fields.String()


class SubjectConsentSchema(Schema):
    subject_id = fields.String()
    current = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CurrentConsentSchema),
        metadata={"description": "per purpose; an application's own only"},
    )
    restricted = fields.Boolean(metadata={"description": "compliance officers only"})
    restriction = fields.Nested(
        RestrictionStateSchema,
        allow_none=True,
        metadata={"description": "compliance officers only"},
    )
    history = fields.List(
        fields.Nested(ConsentEventSchema),
        metadata={"description": "oldest first; compliance officers only"},
    )
