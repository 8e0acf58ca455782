"""Stored times are UTC; SQLite hands back ``DateTime(timezone=True)`` values without a zone.

One helper makes them aware again wherever a stored time is compared or served, so that an
API answer says ``+00:00`` on SQLite exactly as it does on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
@overload
def as_utc(moment: datetime | None) -> datetime | None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` with its zone; a naive value read from the store is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
