from datetime import UTC, date, datetime, time
from typing import Any

from marshmallow import Schema, fields, validate

from governance.timestamps import as_utc


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


class StatusSchema(Schema):
    status = fields.String(required=True)


class UtcDateTime(fields.DateTime):
    """An ISO 8601 time with its offset: stored times are UTC, and SQLite returns them
    without a zone, which would otherwise be served without one."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | float | None:
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
