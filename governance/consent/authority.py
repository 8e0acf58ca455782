"""Who records a consent event, and what an application may change: asymmetric on purpose.

The source of an event is decided by the gateway from who calls, never taken from a body:
an application's key records ``api``, a compliance officer's ``officer``; the service itself
records ``request`` (a data-subject request it executes) and ``gpc`` (the ``Sec-GPC``
header). A channel the subject uses directly (a privacy center) will get its own source.

An application records events only for the purposes it holds. It may always make one of
them *more* restrictive (withdraw, object). Making it *less* restrictive (grant, lift an
objection) is judged against the subject's history, not the materialised state: if the
latest *protected* event of the purpose (one recorded by a compliance officer, a
data-subject request or a GPC signal) withdrew or objected, only an officer can reverse it.
The state row alone cannot be the judge, because any later event replaces its source: an
application's own withdrawal would otherwise turn a protected withdrawal into its own, and
its next grant would pass.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.consent.errors import ConsentChangeForbidden, InvalidConsentEvent
from governance.consent.models import EVENTS, STATE, ConsentSource

#: Sources an application can never reverse: only an officer can.
PROTECTED_SOURCES = frozenset({"officer", "request", "gpc"})
LOOSENING_ACTIONS = frozenset({"grant", "lift_objection"})
RESTRICTIVE_ACTIONS = frozenset({"withdraw", "object"})
RECORDED_BY = {
    "officer": "a compliance officer",
    "request": "a data-subject request",
    "gpc": "a Global Privacy Control signal",
}


def source_for(role: str, claimed: str | None = None) -> ConsentSource:
    """The source the gateway records for a caller of ``role``. ``claimed`` is a body's
    ``source`` (accepted for compatibility only): naming any other source than this one is
    refused (422), so that no client believes a claim was recorded that was not."""
    sources = {"application": ConsentSource.API, "compliance_officer": ConsentSource.OFFICER}
    source = sources.get(role)
    if source is None:
        raise ConsentChangeForbidden("this role records no consent events")
    if claimed is not None and claimed != str(source):
        raise InvalidConsentEvent(
            "the source of a consent event is decided by the gateway from the caller's key, "
            f"not by the body: this key records {source}",
            {"source": [f"this key records {source}; leave the field out"]},
        )
    return source


def latest_protected(session: Session, subject_id: str, purpose: str) -> tuple[str, str] | None:
    """(action, source) of the latest event of ``purpose`` recorded by an officer, a request
    or a GPC signal, or None. Locks the purpose's state row first (PostgreSQL; SQLite has one
    writer at a time), so an officer's withdrawal committed meanwhile is seen and cannot be
    overtaken by the change being judged."""
    session.execute(
        select(STATE.c.event_id)
        .where(STATE.c.subject_id == subject_id, STATE.c.purpose == purpose)
        .with_for_update()
    )
    row = session.execute(
        select(EVENTS.c.action, EVENTS.c.source)
        .where(
            EVENTS.c.subject_id == subject_id,
            EVENTS.c.purpose == purpose,
            EVENTS.c.source.in_(sorted(PROTECTED_SOURCES)),
        )
        .order_by(EVENTS.c.seq.desc())
        .limit(1)
    ).first()
    return (str(row.action), str(row.source)) if row is not None else None


def check_application_change(
    *,
    action: str,
    purpose: str | None,
    held_purposes: Collection[str],
    protected: tuple[str, str] | None,
) -> None:
    """Raise ConsentChangeForbidden (403, with the reason) when an application may not record
    this event; return when it may. ``protected`` is :func:`latest_protected` of the purpose
    (needed for a loosening only)."""
    if purpose is None:
        raise ConsentChangeForbidden(
            "an application cannot restrict processing or lift a restriction: a compliance "
            "officer records those"
        )
    if purpose not in held_purposes:
        raise ConsentChangeForbidden(
            f"purpose {purpose}: an application records consent, objections and withdrawals "
            "only for the purposes it holds"
        )
    if action not in LOOSENING_ACTIONS or protected is None:
        return
    protected_action, protected_source = protected
    if protected_action not in RESTRICTIVE_ACTIONS:
        return  # the latest protected event granted or lifted: nothing to protect
    what = "withdrawal" if protected_action == "withdraw" else "objection"
    raise ConsentChangeForbidden(
        f"purpose {purpose}: the {what} recorded by {RECORDED_BY[protected_source]} stands "
        "until a compliance officer reverses it; an application cannot undo it"
    )
