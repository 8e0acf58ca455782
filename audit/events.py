"""What an audit event is, and its canonical bytes (the Merkle leaf).

An event says who did what to which record for which purpose, with what outcome under which
policy version. It must never carry a personal value, so every string in it is checked
against narrow shapes (identifiers, ids, dotted verbs, lower-case reasons) and ``details``
accepts only the keys declared in :data:`DETAIL_KEYS`: a new key has to be declared with its
shape before anyone can record it, which is where a reviewer catches a value-bearing key.

Canonical bytes: UTF-8 JSON, keys sorted, no white space (``separators=(",", ":")``), no
floats, keys whose value is null left out, times as RFC 3339 UTC with microseconds and ``Z``.
For this subset of JSON that is exactly RFC 8785 (JCS), so any JCS library reproduces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

CANONICAL_VERSION = 1

_ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*){1,3}$")
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/{}\-]{0,127}$")
_HEX = re.compile(r"^[0-9a-f]{1,128}$")
# Reasons are ours, never the client's: lower-case words, digits and light punctuation.
# Capital letters (names) and '@' (emails) cannot pass.
_REASON = re.compile(r"^[a-z0-9][a-z0-9 _.,:;()/\-]{0,199}$")


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


class UnsafeAuditEvent(ValueError):
    """The event would carry something that is not an id, a name of a thing or a number."""


def _ident(value: Any) -> bool:
    return isinstance(value, str) and bool(_IDENT.fullmatch(value))


def is_identifier(value: Any) -> bool:
    """Whether a value has the shape the log accepts for ids and names. Callers holding a
    client-supplied id test it first and record it only if it passes (an email cannot)."""
    return _ident(value)


def _ident_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) <= 1000 and all(map(_ident, value))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _count_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) <= 1000 and all(map(_count, value))


def _hex(value: Any) -> bool:
    return isinstance(value, str) and bool(_HEX.fullmatch(value))


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


_ROUTE = re.compile(r"^/[A-Za-z0-9_./<>:\-]{0,200}$")


def _route(value: Any) -> bool:
    """A URL rule template such as /v1/data/<collection>/<record_id>, never a concrete URL."""
    return isinstance(value, str) and bool(_ROUTE.fullmatch(value))


def _reason(value: Any) -> bool:
    return isinstance(value, str) and bool(_REASON.fullmatch(value))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any) -> bool:
    """A calendar date YYYY-MM-DD (a deadline, never a birth date: see the key's use)."""
    return isinstance(value, str) and bool(_DATE.fullmatch(value))


_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _slug(value: Any) -> bool:
    """A lower-case name of ours (a request type, a regulation): no id, no value."""
    return isinstance(value, str) and bool(_SLUG.fullmatch(value))


def _step_list(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) <= 100
        and all(isinstance(v, str) and bool(_STEP.fullmatch(v)) for v in value)
    )


_STEP = re.compile(r"^[a-z][a-z0-9_]{0,63}(:[a-z0-9][a-z0-9_]{0,63})?$")


def _step(value: Any) -> bool:
    """A request execution step: ``<verb>`` or ``<verb>:<collection or purpose>``."""
    return isinstance(value, str) and bool(_STEP.fullmatch(value))


_RULE = re.compile(r"^[a-z][a-z0-9_]{0,63}:[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63})?$")


def _rule(value: Any) -> bool:
    """A retention rule: ``<strategy>:<collection>`` or ``null:<collection>.<field>``."""
    return isinstance(value, str) and bool(_RULE.fullmatch(value))


# Every key a caller may put in `details`, with the only shape its value may take.
DETAIL_KEYS: Mapping[str, Callable[[Any], bool]] = {
    "attempts": _count,
    "client_id": _ident,
    "client_name": _ident,
    "collection": _ident,
    "count": _count,
    "digest": _hex,
    "dry_run": _flag,
    "due_date": _date,
    "entity_types": _ident_list,
    "fields": _ident_list,
    "held": _count,
    "hold_id": _hex,
    "http_status": _count,
    "job_id": _hex,
    "kek_version": _count,
    "kek_versions": _count_list,
    "key_id": _hex,
    "key_prefix": _ident,
    "masked_fields": _ident_list,
    "matter": _ident,
    "method": _ident,
    "problems": _step_list,
    "purposes": _ident_list,
    "reason_code": _slug,
    "record_ids": _ident_list,
    "redacted_fields": _ident_list,
    "regulation": _slug,
    "request_type": _slug,
    "resumed": _flag,
    "revoked": _flag,
    "role": _ident,
    "route": _route,
    "rows": _count,
    "rule": _rule,
    "run_id": _hex,
    "scope": _slug,
    "shredded": _flag,
    "source": _ident,
    "status": _ident,
    "step": _step,
    "subject_found": _flag,
    "subject_ids": _ident_list,
    "tree_size": _count,
    "type": _ident,
    "verified": _flag,
    "waiting_on": _slug,
}


@dataclass(frozen=True)
class Actor:
    id: str  # a client id, or "cli:<os user>", or "system"
    role: str


@dataclass(frozen=True)
class Target:
    collection: str | None = None
    record_id: str | None = None
    subject_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    action: str
    actor: Actor
    outcome: Outcome = Outcome.ALLOWED
    target: Target = field(default_factory=Target)
    purpose: str | None = None
    reason: str | None = None
    policy_version: str | None = None
    request_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    #: The subjects whose records the request returned (a list read). The ids go to the
    #: log's subject index (``audit_subjects``); the bytes carry their count and digest
    #: (``viewed_subjects``), which is what makes the index verifiable.
    subjects: tuple[str, ...] = ()

    def validate(self) -> None:
        """Refuse anything that could be a personal value; the message names the key only.

        Written as straight-line checks: it runs once per audited request.
        """
        if not (isinstance(self.action, str) and _ACTION.fullmatch(self.action)):
            raise UnsafeAuditEvent("action must be a dotted lower-case verb like data.read")
        actor, target = self.actor, self.target
        if not _ident(actor.id):
            raise _unsafe("actor.id")
        if not _ident(actor.role):
            raise _unsafe("actor.role")
        if not isinstance(self.outcome, Outcome):
            raise _unsafe("outcome")
        for name, value, shape in (
            ("target.collection", target.collection, _ident),
            ("target.record_id", target.record_id, _ident),
            ("target.subject_id", target.subject_id, _ident),
            ("purpose", self.purpose, _ident),
            ("reason", self.reason, _reason),
            ("policy_version", self.policy_version, _hex),
            ("request_id", self.request_id, _ident),
        ):
            if value is not None and not shape(value):
                raise _unsafe(name)
        subjects = self.subjects
        if (
            not isinstance(subjects, tuple | list)
            or len(subjects) > MAX_SUBJECTS
            or not all(map(_ident, subjects))
        ):
            raise _unsafe("subjects")
        details = self.details
        for key in details:
            if key not in DETAIL_KEYS:
                raise UnsafeAuditEvent(f"details.{key} is not a declared audit detail key")
        for key, value in details.items():
            if not DETAIL_KEYS[key](value):
                raise _unsafe(f"details.{key}")

    def to_document(self, event_id: str, recorded_at: datetime) -> dict[str, Any]:
        target = self.target
        doc: dict[str, Any] = {
            "v": CANONICAL_VERSION,
            "id": event_id,
            "time": format_time(recorded_at),
            "action": self.action,
            "actor": {"id": self.actor.id, "role": self.actor.role},
            "outcome": str(self.outcome),
        }
        if (
            target.collection is not None
            or target.record_id is not None
            or (target.subject_id is not None)
        ):
            doc["target"] = {k: v for k, v in vars(target).items() if v is not None}
        if self.purpose is not None:
            doc["purpose"] = self.purpose
        if self.reason is not None:
            doc["reason"] = self.reason
        if self.policy_version is not None:
            doc["policy_version"] = self.policy_version
        if self.request_id is not None:
            doc["request_id"] = self.request_id
        if self.details:
            doc["details"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.details.items()
            }
        if self.subjects:
            doc["viewed_subjects"] = viewed_subjects(self.subjects)
        return doc

    def indexed_subjects(self) -> list[str]:
        """The rows of the subject index: each subject once, sorted."""
        return sorted(set(self.subjects))


#: At most this many subjects in one event's index (a list page holds at most 500 records).
MAX_SUBJECTS = 1000


def viewed_subjects(subject_ids: Iterable[str]) -> dict[str, Any]:
    """What an event's bytes say about its subject index: ``count`` distinct ids and their
    ``sha256``, the hex SHA-256 of the ids sorted, each followed by a newline (so
    ``sort -u ids.txt | sha256sum`` reproduces it).

    The key sorts after ``v``, so it is the last of the canonical bytes: verify's check of
    an event without one stays a single ``endswith`` (``columns.py``).
    """
    ids = sorted(set(subject_ids))
    return {
        "count": len(ids),
        "sha256": hashlib.sha256("".join(f"{s}\n" for s in ids).encode()).hexdigest(),
    }


def _unsafe(name: str) -> UnsafeAuditEvent:
    return UnsafeAuditEvent(f"{name} does not have the shape of an id or name")


# A version 4 UUID is 122 random bits with the version nibble set to 4 and the variant's two
# top bits to 10 (RFC 9562 section 5.4).
_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_event_id() -> str:
    """A fresh event id: a random version 4 UUID as 32 lower-case hex digits.

    The same value ``uuid.uuid4().hex`` gives, at a third of its cost: ``uuid.UUID``
    checks its arguments in Python, and the id is made once per audited request.
    """
    return f"{int.from_bytes(os.urandom(16), 'big') & _UUID4_KEEP | _UUID4_SET:032x}"


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    # isoformat() of a naive UTC time is YYYY-MM-DDTHH:MM:SS.ffffff, as strftime's
    # "%Y-%m-%dT%H:%M:%S.%f" would be, at a third of the cost.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Built once: json.dumps with non-default options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    return _CANONICAL.encode(document).encode("utf-8")


def parse_leaf(leaf: bytes) -> dict[str, Any]:
    return json.loads(leaf.decode("utf-8"))
