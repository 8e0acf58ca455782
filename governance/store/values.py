"""Turn JSON input into typed values per the data map, and typed values back into JSON.

Error messages name the expected shape, never the rejected value: the value may be personal.
``to_plain_bytes``/``from_plain_bytes`` fix the byte form of a value stored in an encrypted
column: the plaintext that field encryption seals.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from policies.types import Field, FieldType

_MAX_TEXT = 100_000


class InvalidValue(ValueError):
    """The message is safe to show: it describes the expected shape only."""


def coerce(field: Field, raw: Any) -> Any:
    if raw is None:
        if field.required:
            raise InvalidValue("is required")
        return None
    match field.type:
        case FieldType.STRING | FieldType.TEXT | FieldType.REF:
            if not isinstance(raw, str):
                raise InvalidValue("must be a string")
            limit = field.max_length or (_MAX_TEXT if field.type is FieldType.TEXT else 255)
            if field.type is FieldType.REF:
                limit = 32
            if len(raw) > limit:
                raise InvalidValue(f"must be at most {limit} characters")
            if field.required and not raw.strip():
                raise InvalidValue("is required")
            if field.choices and raw not in field.choices:
                raise InvalidValue(f"must be one of {', '.join(field.choices)}")
            return raw
        case FieldType.INTEGER:
            if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) >= 2**63:
                raise InvalidValue("must be a whole number")
            return raw
        case FieldType.DECIMAL:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
                raise InvalidValue("must be a decimal number (a string like \"12.50\" or a number)")
            try:
                value = Decimal(str(raw))
            except InvalidOperation:
                raise InvalidValue("must be a decimal number") from None
            if not value.is_finite() or abs(value) >= Decimal(10) ** 12:
                raise InvalidValue("must be a finite decimal below 10^12")
            return value.quantize(Decimal("0.01"))
        case FieldType.BOOLEAN:
            if not isinstance(raw, bool):
                raise InvalidValue("must be true or false")
            return raw
        case FieldType.DATE:
            if isinstance(raw, date) and not isinstance(raw, datetime):
                return raw
            try:
                return date.fromisoformat(raw) if isinstance(raw, str) else _fail()
            except ValueError:
                raise InvalidValue("must be a date YYYY-MM-DD") from None
        case FieldType.DATETIME:
            if isinstance(raw, datetime):
                moment = raw
            else:
                try:
                    moment = datetime.fromisoformat(raw) if isinstance(raw, str) else _fail()
                except ValueError:
                    raise InvalidValue("must be an RFC 3339 time with a UTC offset") from None
            if moment.tzinfo is None:
                raise InvalidValue("must be an RFC 3339 time with a UTC offset")
            return moment.astimezone(UTC)
    raise AssertionError(field.type)  # pragma: no cover


def _fail() -> Any:
    raise ValueError


def to_json(field: Field, value: Any) -> Any:
    if value is None:
        return None
    match field.type:
        case FieldType.DECIMAL:
            return str(Decimal(value).quantize(Decimal("0.01")))
        case FieldType.DATE:
            return value.isoformat()
        case FieldType.DATETIME:
            return format_datetime(value)
    return value


def format_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC only
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_json(field: Field, value: Any) -> Any:
    return coerce(field, value) if value is not None else None


def to_plain_bytes(field: Field, value: Any) -> bytes:
    return json.dumps(to_json(field, value), ensure_ascii=False).encode("utf-8")


def from_plain_bytes(field: Field, data: bytes) -> Any:
    raw = json.loads(data.decode("utf-8"))
    if raw is None:
        return None
    if field.type in (FieldType.DATE, FieldType.DATETIME, FieldType.DECIMAL):
        # Parse the stored text back to its type; "required" is a write rule, not a read one.
        return coerce(replace(field, required=False), raw)
    return raw
