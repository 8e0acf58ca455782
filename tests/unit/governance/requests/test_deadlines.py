"""Due dates by regulation: GDPR one month (EU periods rule), CCPA 45 days, CCPA opt-out 15
business days, and the one extension each allows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from governance.requests.deadlines import (
    Regulation,
    RequestType,
    add_business_days,
    add_months,
    due_at,
    extendable,
    needs_verification,
)

GDPR, CCPA = Regulation.GDPR, Regulation.CCPA


def received(day: str, hour: int = 15) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def due_day(regulation: Regulation, kind: RequestType, day: str, **kw: bool) -> date:
    moment = due_at(regulation, kind, received(day), **kw)
    assert (moment.hour, moment.minute, moment.second) == (23, 59, 59)  # end of the due day
    assert moment.tzinfo is not None
    return moment.date()


@pytest.mark.parametrize(
    ("receipt", "due"),
    [
        ("2026-01-15", date(2026, 2, 15)),  # same date next month
        ("2026-01-31", date(2026, 2, 28)),  # February has no 31st: its last day
        ("2028-01-31", date(2028, 2, 29)),  # leap year
        ("2028-01-29", date(2028, 2, 29)),
        ("2026-03-31", date(2026, 4, 30)),
        ("2026-12-31", date(2027, 1, 31)),  # across the year
        ("2026-02-28", date(2026, 3, 28)),
    ],
)
def test_gdpr_due_date_is_one_calendar_month_after_receipt(receipt: str, due: date) -> None:
    assert due_day(GDPR, RequestType.ACCESS, receipt) == due


@pytest.mark.parametrize(
    ("receipt", "due"),
    [
        ("2026-01-31", date(2026, 4, 30)),  # three months from receipt, not Feb 28 + 2 months
        ("2027-11-30", date(2028, 2, 29)),  # into a leap February
        ("2026-01-15", date(2026, 4, 15)),
    ],
)
def test_gdpr_extension_adds_two_further_months(receipt: str, due: date) -> None:
    assert due_day(GDPR, RequestType.ERASURE, receipt, extended=True) == due


def test_ccpa_due_date_is_45_calendar_days_counting_the_day_of_receipt() -> None:
    assert due_day(CCPA, RequestType.ACCESS, "2026-01-01") == date(2026, 2, 14)
    assert due_day(CCPA, RequestType.ERASURE, "2028-02-01") == date(2028, 3, 16)  # leap Feb


def test_ccpa_extension_adds_45_more_days() -> None:
    assert due_day(CCPA, RequestType.ACCESS, "2026-01-01", extended=True) == date(2026, 3, 31)


def test_ccpa_opt_out_is_due_in_15_business_days() -> None:
    # Monday 5 January 2026 is day 1; weekends are not counted.
    assert due_day(CCPA, RequestType.OPT_OUT, "2026-01-05") == date(2026, 1, 23)
    # received on a Saturday: the first business day is the Monday after
    assert due_day(CCPA, RequestType.OPT_OUT, "2026-01-10") == date(2026, 1, 30)


def test_the_receipt_day_is_taken_in_utc() -> None:
    late_evening_in_new_york = datetime.fromisoformat("2026-01-31T20:00:00-05:00")  # 1 Feb UTC
    assert due_at(GDPR, RequestType.ACCESS, late_evening_in_new_york).date() == date(2026, 3, 1)


def test_add_months_and_business_days_helpers() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 31), 13) == date(2027, 2, 28)
    assert add_business_days(date(2026, 1, 9), 1) == date(2026, 1, 9)  # a Friday counts
    assert add_business_days(date(2026, 1, 9), 2) == date(2026, 1, 12)


def test_only_a_ccpa_opt_out_skips_verification_and_cannot_be_extended() -> None:
    assert not needs_verification(CCPA, RequestType.OPT_OUT)
    assert not extendable(CCPA, RequestType.OPT_OUT)
    for kind in RequestType:
        if kind is not RequestType.OPT_OUT:
            assert needs_verification(CCPA, kind) and needs_verification(GDPR, kind)
            assert extendable(GDPR, kind)
