from datetime import UTC, date, datetime, time
from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from governance.timestamps import as_utc

#: The largest integer a query may carry: PostgreSQL's bigint and SQLite's INTEGER hold no
#: more, and a larger one bound into a query is an OverflowError (a 500), not an answer.
MAX_STORED_INT = 2**63 - 1


class PageQuery(Schema):
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


class StatusSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(StatusSchema):
    status = fields.String(required=True, metadata={"enum": ["ready", "degraded"]})
    broker = fields.String(
        metadata={
            "description": "with a job queue: ok or unreachable",
            "enum": ["ok", "unreachable"],
        }
    )


class UtcDateTime(fields.DateTime):
    """An ISO 8601 time with its offset: stored times are UTC, and SQLite returns them
    without a zone, which would otherwise be served without one."""

    def _serialize(
        self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | float | None:
        return super()._serialize(as_utc(value), attr, obj, **kwargs)


class Choice(fields.String):
    """One of a closed list, matched in any case and without surrounding blanks: a person
    types `GDPR` or ` access`, and the list's own spelling is what is stored."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.strip().lower()


class DayOrTime(fields.AwareDateTime):
    """A time with its offset, or a bare date (`2026-12-02`) meaning the start of that day
    in UTC, which is what a person types for "since"; a time without an offset stays refused
    (it could be any of 38 time zones)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return datetime.combine(date.fromisoformat(value.strip()), time(), tzinfo=UTC)
            except ValueError:
                pass  # not a date: the time parser explains what is expected
        return super()._deserialize(value, attr, data, **kwargs)


class ProblemSchema(Schema):
    """An RFC 9457 problem document: what every error of this service is. Some problems
    add members of their own (a conflict names the request it conflicts with, a 403 the
    purposes the client holds), so members beyond these are allowed."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(
        required=True,
        metadata={
            "description": "a URI naming the kind of problem; stable, for programs to branch on"
        },
    )
    title = fields.String(required=True, metadata={"description": "a short summary of the kind"})
    status = fields.Integer(required=True, metadata={"description": "the HTTP status code"})
    detail = fields.String(
        required=True,
        metadata={"description": "what went wrong in this occurrence, for a person to read"},
    )
    trace_id = fields.String(
        metadata={
            "description": "the id of this HTTP exchange (also `X-Trace-Id`); quote it to the "
            "operator. Not a data-subject request id"
        }
    )
    errors = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "per input field (query parameter or body field), the rules it broke"
        },
    )
