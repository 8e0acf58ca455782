"""The filter columns of ``audit_entries`` and how verify checks them against the bytes,
when the table's definition no longer computes them from the bytes (``derived.py``).

``action``, ``actor_id``, ``event_id``, ``subject_id`` and ``recorded_at`` are computed from
each entry's canonical bytes so that queries can filter on them. The served event is always
decoded from the bytes, but a doctored column would hide the event from a filtered query
("who read this customer?") while the bytes still hash right. A table rebuilt with plain
columns allows that, so verify then compares every column with the bytes, in the same pass
that rehashes them.

Parsing every event's JSON would cost more than verify's whole budget, so the comparison
is done on the text: the canonical form sorts keys, so an event's bytes always

- start with ``{"action":"<action>","actor":{"id":"<actor_id>","role":"``,
- hold ``,"id":"<event_id>","outcome":"`` once, and
- end with ``"subject_id":"<subject_id>"},"time":"<recorded_at>","v":1}``; without a
  subject, with ``,"time":"<recorded_at>","v":1}`` and no target ending in a subject;
  with a subject index, ``"v":1`` is followed by ``,"viewed_subjects":{...}}``, the last
  key (``events.viewed_subjects``).

These text checks are exact for every event the log accepts: no string value it admits
holds a quote or a backslash (``events.py``), so each quoted key above occurs once and a
value ends at the first quote after it. A row that fails them is parsed and its columns
compared one by one (:func:`first_mismatch`), which names the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from audit.events import CANONICAL_VERSION, canonical_bytes, format_time, viewed_subjects

#: The copied-out columns, in the order verify reads them and a problem names the first
#: that differs.
COLUMNS = ("action", "actor_id", "event_id", "subject_id", "recorded_at")

_END = f'","v":{CANONICAL_VERSION}}}'
_VIEWED = ',"viewed_subjects":'


def time_sql(dialect: str) -> str:
    """SQL giving ``e.recorded_at`` as the bytes write it (RFC 3339 UTC, microseconds, Z)."""
    if dialect == "postgresql":
        return "to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff', in UTC (AuditLog.record stores UTC).
    return "replace(e.recorded_at, ' ', 'T') || 'Z'"


def time_text(value: Any) -> str:
    """``recorded_at`` as the bytes write it, from a datetime (naive means UTC)."""
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    return str(value)


def check_rows(rows: Sequence[Sequence[Any]], first: int = 1) -> tuple[bool, list[tuple[int, str]]]:
    """The hot loop of verify: whether every row's bytes (at ``first``, followed by the
    columns of :data:`COLUMNS`, the time as :func:`time_sql` gives it) agree with its
    columns; and, for the rows whose bytes end with a subject index's digest, their
    offsets in ``rows`` and their text, to be checked against the index
    (:func:`index_matches`)."""
    viewed: list[tuple[int, str]] = []
    for i, row in enumerate(rows):
        data, action, actor, event_id, subject, time = row[first : first + 6]
        text = data.decode()
        if not (
            text.startswith(f'{{"action":"{action}","actor":{{"id":"{actor}","role":"')
            and f',"id":"{event_id}","outcome":"' in text
        ):
            return False, viewed
        end = (
            f',"time":"{time}{_END}'
            if subject is None
            else f'"subject_id":"{subject}"}},"time":"{time}{_END}'
        )
        if text.endswith(end):
            if subject is None:
                at = len(text) - len(end)
                # A target that ends right before the time must not end with a subject.
                if text[at - 1] == "}" and text.startswith(
                    '"subject_id":"', text.rfind('"', 0, at - 2) - 13
                ):
                    return False, viewed
        elif end[:-1] + _VIEWED in text and (subject is not None or '"subject_id":"' not in text):
            viewed.append((i, text))
        else:
            return False, viewed
    return True, viewed


def index_suffix(indexed: Sequence[str]) -> str:
    """How the bytes of an event whose subject index rows are ``indexed`` end. Enough on a
    table that computes the columns from the bytes: no string value holds a quote, so the
    key can only be the top-level one, which the canonical form puts last."""
    return _VIEWED + canonical_bytes(viewed_subjects(indexed)).decode() + "}"


def index_matches(text: str, time: str, subject: str | None, indexed: Sequence[str]) -> bool:
    """Whether the text of an event with a subject index ends with the digest of the index
    rows ``indexed``."""
    end = (
        f',"time":"{time}","v":{CANONICAL_VERSION}'
        if subject is None
        else f'"subject_id":"{subject}"}},"time":"{time}","v":{CANONICAL_VERSION}'
    )
    return text.endswith(end + _VIEWED + canonical_bytes(viewed_subjects(indexed)).decode() + "}")


def first_mismatch(
    document: dict[str, Any], values: Sequence[Any], indexed: Sequence[str] | None = None
) -> str | None:
    """What first differs from the decoded event: a column (of :data:`COLUMNS`, whose
    stored values ``values`` are, the time as the bytes write it) or else the subject index
    (its ids, or None to skip it); None if nothing does."""
    target = document.get("target") or {}
    expected = (
        document.get("action"),
        (document.get("actor") or {}).get("id"),
        document.get("id"),
        target.get("subject_id"),
        document.get("time"),
    )
    for name, want, have in zip(COLUMNS, expected, values, strict=True):
        if have != want:
            return f"column {name} differs from the event bytes"
    if indexed is not None:
        index = viewed_subjects(indexed) if indexed else None
        if document.get("viewed_subjects") != index:
            return "subject index differs from the event bytes"
    return None
