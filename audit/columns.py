"""The filter columns of ``audit_entries`` and how verify checks them against the bytes.

``actor_id``, ``action``, ``subject_id``, ``event_id`` and ``recorded_at`` are copied out of
each entry's canonical bytes so that queries can filter on them. The served event is always
decoded from the bytes, but a doctored column hides the event from a filtered query
("who read this customer?") while the bytes still hash right. So verify compares every
copied column with the bytes, in the same pass that rehashes them.

Parsing every event's JSON would cost more than verify's whole budget, so the comparison
is done on the bytes: the canonical form sorts keys, so an event's bytes always

- start with ``{"action":"<action>","actor":{"id":"<actor_id>","role":"`` (*head*),
- hold ``,"id":"<event_id>","outcome":"`` once (*id part*), and
- end with ``"subject_id":"<subject_id>"},"time":"<recorded_at>","v":1}`` (*tail*; without
  a subject: ``,"time":"<recorded_at>","v":1}`` and no ``"subject_id":"`` anywhere).

The database builds the three fragments from the columns in the verify query itself
(``rawsql``), so Python only runs ``startswith``, one ``in`` and ``endswith`` per row.
These byte checks are exact for every event the log accepts: no string value it admits
holds a quote or a backslash (``events.py``), so each quoted key above occurs once and a
value ends at the first quote after it. A row that fails them is parsed and its columns
compared one by one (:func:`first_mismatch`), which names the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from audit.events import CANONICAL_VERSION, format_time

#: The copied-out columns, in the order a problem names the first that differs.
COLUMNS = ("action", "actor_id", "event_id", "subject_id", "recorded_at")

_TAIL_END = f'","v":{CANONICAL_VERSION}}}'
_SUBJECT_KEY = b'"subject_id":"'


def fragments(
    action: str, actor_id: str, event_id: str, subject_id: str | None, time: str
) -> tuple[bytes, bytes, bytes]:
    """(head, id part, tail) for these column values; ``time`` as the bytes write it
    (RFC 3339 UTC with microseconds and ``Z``). The SQL in ``rawsql`` builds the same."""
    subject = "" if subject_id is None else f'"subject_id":"{subject_id}"}}'
    return (
        f'{{"action":"{action}","actor":{{"id":"{actor_id}","role":"'.encode(),
        f',"id":"{event_id}","outcome":"'.encode(),
        f'{subject},"time":"{time}{_TAIL_END}'.encode(),
    )


def fragment_sql(dialect: str) -> str:
    """The three fragments as select-list SQL over ``audit_entries e``, for ``dialect``
    (sqlite or postgresql): what :func:`fragments` gives, built by the database."""
    if dialect == "postgresql":
        time = "to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        wrap = "convert_to({}, 'UTF8')"
    else:  # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (see log._insert)
        time = "replace(e.recorded_at, ' ', 'T') || 'Z'"
        wrap = "CAST({} AS BLOB)"
    head = ("'{\"action\":\"' || e.action || '\",\"actor\":{\"id\":\"' || e.actor_id || "
            "'\",\"role\":\"'")
    id_part = "',\"id\":\"' || e.event_id || '\",\"outcome\":\"'"
    tail = (f"COALESCE('\"subject_id\":\"' || e.subject_id || '\"}}', '') || ',\"time\":\"' || "
            f"{time} || '{_TAIL_END}'")
    return ", ".join(wrap.format(part) for part in (head, id_part, tail))


def rows_match(rows: Sequence[Sequence[Any]], first: int = 1) -> bool:
    """Whether every row's bytes (at ``first``) agree with its three fragments (right after
    them). The hot loop of verify: keep it to byte operations."""
    key = _SUBJECT_KEY
    for row in rows:
        data, head, id_part, tail = row[first], row[first + 1], row[first + 2], row[first + 3]
        if not (data.startswith(head) and id_part in data and data.endswith(tail)
                and (tail[0] == 34 or key not in data)):  # 34: '"', a subject's tail
            return False
    return True


def time_text(value: Any) -> str:
    """``recorded_at`` as the bytes write it: from a datetime (naive means UTC), or from
    SQLite's stored text."""
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    return str(value).replace(" ", "T") + "Z"


def first_mismatch(document: dict[str, Any], values: Sequence[Any]) -> str | None:
    """The first column (of :data:`COLUMNS`, whose values ``values`` are) that differs from
    the decoded event, or None."""
    target = document.get("target") or {}
    expected = (document.get("action"), (document.get("actor") or {}).get("id"),
                document.get("id"), target.get("subject_id"), document.get("time"))
    for name, want, have in zip(COLUMNS, expected, values, strict=True):
        if name == "recorded_at":
            have = None if have is None else time_text(have)
        if have != want:
            return name
    return None
