"""Turn JSON input into typed values per the data map, and typed values back into JSON.

Error messages name the expected shape, never the rejected value: the value may be personal.
``plain_encoder``/``plain_decoder`` fix the byte form of a value that field encryption
seals: the value's canonical text per type, UTF-8 (strings as they are, integers and
decimals in decimal notation, booleans ``1``/``0``, dates ISO 8601, times RFC 3339 UTC).
They are chosen once per field, because this sits on the path of every encrypted cell.
``to_plain_bytes``/``from_plain_bytes`` are the JSON plain form that columns held before
encryption existed; ``keys encrypt-existing`` still reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from policies.types import Field, FieldType

_MAX_TEXT = 100_000
#: The data category whose values must have the shape of an e-mail address.
EMAIL_CATEGORY = "user.contact.email"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.][^@\s]*\.[^@\s.]{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
            if _CONTROL.search(
                raw
                if field.type is not FieldType.TEXT
                else raw.replace("\t", "").replace("\n", "").replace("\r", "")
            ):
                raise InvalidValue("must not contain control characters")
            if field.category == EMAIL_CATEGORY:
                raw = raw.strip()
                if not _EMAIL.fullmatch(raw):
                    raise InvalidValue("must be an email address (name@domain.tld)")
            if field.choices and raw not in field.choices:
                raise InvalidValue(f"must be one of {', '.join(field.choices)}")
            return raw
        case FieldType.INTEGER:
            if isinstance(raw, bool) or not isinstance(raw, int) or abs(raw) >= 2**63:
                raise InvalidValue("must be a whole number")
            return raw
        case FieldType.DECIMAL:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
                raise InvalidValue('must be a decimal number (a string like "12.50" or a number)')
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


def _encode_text(value: str) -> bytes:
    return value.encode("utf-8")


def _decode_text(data: bytes) -> str:
    return data.decode("utf-8")


def _encode_str(value: Any) -> bytes:
    return str(value).encode("ascii")


def _encode_datetime(value: datetime) -> bytes:
    return format_datetime(value).encode("ascii")


def _decode_datetime(data: bytes) -> datetime:
    return datetime.fromisoformat(data.decode("ascii")).astimezone(UTC)


_ENCODERS: dict[FieldType, Callable[[Any], bytes]] = {
    FieldType.STRING: _encode_text,
    FieldType.TEXT: _encode_text,
    FieldType.REF: _encode_text,
    FieldType.INTEGER: _encode_str,
    FieldType.DECIMAL: lambda v: str(Decimal(v).quantize(Decimal("0.01"))).encode("ascii"),
    FieldType.BOOLEAN: lambda v: b"1" if v else b"0",
    FieldType.DATE: lambda v: v.isoformat().encode("ascii"),
    FieldType.DATETIME: _encode_datetime,
}
_DECODERS: dict[FieldType, Callable[[bytes], Any]] = {
    FieldType.STRING: _decode_text,
    FieldType.TEXT: _decode_text,
    FieldType.REF: _decode_text,
    FieldType.INTEGER: int,
    FieldType.DECIMAL: lambda d: Decimal(d.decode("ascii")),
    FieldType.BOOLEAN: lambda d: d == b"1",
    FieldType.DATE: lambda d: date.fromisoformat(d.decode("ascii")),
    FieldType.DATETIME: _decode_datetime,
}


def plain_encoder(field: Field) -> Callable[[Any], bytes]:
    return _ENCODERS[field.type]


def plain_decoder(field: Field) -> Callable[[bytes], Any]:
    return _DECODERS[field.type]
