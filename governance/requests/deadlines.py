"""When a data-subject request is due, by regulation. Pure date arithmetic, in UTC.

GDPR (Art. 12(3)): one month from receipt, extendable once by two further months. Periods
follow Regulation (EEC, Euratom) No 1182/71, Art. 3: a period in months starts the day after
the event and ends at the end of the day of the last month that has the same date as the
day of receipt; if that month has no such day, it ends at the end of the month's last day.
So 15 January -> 15 February, 31 January -> 28 February (29 in a leap year), 31 March ->
30 April. An extension makes the whole period three months from receipt (31 January ->
30 April), not two months from the first due date (which would lose days after a short
month).

CCPA (Cal. Civ. Code 1798.130(a)(2), CCPA Regulations 7021(b)): 45 calendar days,
extendable once by 45 more. The regulation says the period "begins on the day that the
business receives the request"; we count that day as day 1 (the conservative reading), so
a request received on 1 January is due at the end of 14 February. An opt-out of sale or
sharing (Regulations 7026(f)) must be acted on within 15 business days, counted the same
way, with Saturdays and Sundays not counted (public holidays differ by place and are not
subtracted: the deadline can only come earlier than the law's, never later). An opt-out
cannot be extended.

A due time is the last instant of the due day in UTC (23:59:59.999999).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from governance.timestamps import as_utc

CCPA_DAYS = 45
CCPA_EXTENSION_DAYS = 45
CCPA_OPT_OUT_BUSINESS_DAYS = 15
GDPR_MONTHS = 1
GDPR_EXTENSION_MONTHS = 2
END_OF_DAY = time(23, 59, 59, 999999, tzinfo=UTC)


class Regulation(StrEnum):
    CCPA = "ccpa"
    GDPR = "gdpr"


class RequestType(StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    OBJECTION = "objection"
    OPT_OUT = "opt_out"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"


def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, or that month's last day if it has no such date."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_business_days(day: date, count: int, *, counting_first: bool = True) -> date:
    """The ``count``-th Monday-to-Friday day, counting ``day`` itself as the first if it is
    one and ``counting_first``."""
    current = day if counting_first else day + timedelta(days=1)
    seen = 0
    while True:
        if current.weekday() < 5:
            seen += 1
            if seen == count:
                return current
        current += timedelta(days=1)


def end_of(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY)


def receipt_day(received_at: datetime) -> date:
    return as_utc(received_at).astimezone(UTC).date()


def due_at(
    regulation: Regulation,
    request_type: RequestType,
    received_at: datetime,
    *,
    extended: bool = False,
) -> datetime:
    """The end of the last day on which the request may be answered."""
    day = receipt_day(received_at)
    if regulation is Regulation.GDPR:
        months = GDPR_MONTHS + (GDPR_EXTENSION_MONTHS if extended else 0)
        return end_of(add_months(day, months))
    if request_type is RequestType.OPT_OUT:
        return end_of(add_business_days(day, CCPA_OPT_OUT_BUSINESS_DAYS))
    days = CCPA_DAYS + (CCPA_EXTENSION_DAYS if extended else 0)
    return end_of(day + timedelta(days=days - 1))


class ExtensionReason(StrEnum):
    """Why a deadline is extended: the grounds the law names (GDPR Art. 12(3) "taking into
    account the complexity and number of the requests"; CCPA Regulations 7021(b) "where
    reasonably necessary", explained to the consumer). A closed list, because the reason is
    recorded in the append-only audit log where free text could never be erased."""

    COMPLEXITY = "complexity"
    NUMBER_OF_REQUESTS = "number_of_requests"


EXTENSION_EXPLANATIONS = {
    ExtensionReason.COMPLEXITY: "the request is complex (the data is held in several systems "
    "or needs review before it is released)",
    ExtensionReason.NUMBER_OF_REQUESTS: "the number of requests received at the same time",
}


def extension_explanation(code: str | None) -> str | None:
    """The sentence for a stored reason code (None for an extension recorded before
    reasons were codes)."""
    try:
        return EXTENSION_EXPLANATIONS[ExtensionReason(code)] if code else None
    except ValueError:
        return None


def extendable(regulation: Regulation, request_type: RequestType) -> bool:
    return not (regulation is Regulation.CCPA and request_type is RequestType.OPT_OUT)


def needs_verification(regulation: Regulation, request_type: RequestType) -> bool:
    """A CCPA opt-out need not be verified (Regulations 7026(d)); everything else must be."""
    return not (regulation is Regulation.CCPA and request_type is RequestType.OPT_OUT)


# Which rights each regulation grants: GDPR Arts. 15-18, 20, 21; CCPA 1798.100-.121
# (know, delete, correct, opt out of sale/sharing; "know" includes a portable copy).
RIGHTS: dict[Regulation, frozenset[RequestType]] = {
    Regulation.GDPR: frozenset(
        {
            RequestType.ACCESS,
            RequestType.PORTABILITY,
            RequestType.ERASURE,
            RequestType.RECTIFICATION,
            RequestType.RESTRICTION,
            RequestType.OBJECTION,
        }
    ),
    Regulation.CCPA: frozenset(
        {
            RequestType.ACCESS,
            RequestType.PORTABILITY,
            RequestType.ERASURE,
            RequestType.RECTIFICATION,
            RequestType.OPT_OUT,
        }
    ),
}
