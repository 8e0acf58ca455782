"""Template filters: times as dates people read, urgency classes, e-mail-free labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app

from governance.timestamps import as_utc


def iso(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def day(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def date_only(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return moment.date().isoformat() if moment else "—"


def aware(moment: datetime | None) -> datetime | None:
    return as_utc(moment)


def days_left(moment: datetime | None) -> int | None:
    moment = as_utc(moment)
    if moment is None:
        return None
    return (moment.date() - datetime.now(UTC).date()).days


def urgency(request: Any, soon_days: int = 7) -> str:
    """A CSS class: overdue, soon (due within a week), on-time, or closed."""
    if request.status in ("completed", "rejected"):
        return "closed"
    now = datetime.now(UTC)
    due = as_utc(request.due_at) or now
    if due < now:
        return "overdue"
    return "soon" if (due - now).days < soon_days else "on-time"


def words(value: str | None) -> str:
    return (value or "").replace("_", " ")


def register(blp: Blueprint) -> None:
    for name, fn in (
        ("iso", iso),
        ("day", day),
        ("date_only", date_only),
        ("aware", aware),
        ("days_left", days_left),
        ("urgency", urgency),
        ("words", words),
    ):
        blp.add_app_template_filter(fn, name)
    blp.add_app_template_global(lambda: datetime.now(UTC), "now")
    # Links to pages that exist in this build only (no placeholder pages).
    blp.add_app_template_global(lambda endpoint: endpoint in current_app.view_functions, "has_page")
