"""Verify an exported log offline, with a key the auditor pinned: no server, no database.

An export (``governance audit export``) is JSON Lines: one ``{"index", "leaf", "event"}``
per event in log order, then ``{"checkpoint": {...}}``. Trusting nothing in it but what the
pinned key signed, this checks that

- the positions run 0, 1, 2, ... and each decoded ``event`` is exactly its ``leaf`` bytes;
- the checkpoint note is signed by the pinned key (C2SP signed note, Ed25519);
- the leaves, SHA-256(0x00 || bytes), hash to the signed root (RFC 6962), so no event was
  edited, removed, added or reordered;
- given an older checkpoint note the auditor kept, that it is signed by the same key, for
  the same log, and that its root is the root of the export's first events: the log only
  grew since (consistency, computed from the leaves themselves).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audit.checkpoint import NoteVerificationError, parse_verifier_key, verify_note
from audit.events import parse_leaf
from audit.tree import leaf_hash, root_from_leaf_hashes


class OfflineVerificationFailed(Exception):
    """One of the log's promises does not hold; the message says which, by position."""


@dataclass
class OfflineReport:
    said: list[str] = field(default_factory=list)


def fingerprint(public_key: bytes) -> str:
    """``SHA256:<hex>`` of the raw 32-byte Ed25519 key: a short form to read out or compare
    over another channel (the verifier key itself is what a verifier needs)."""
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()


def kept_note(text: str) -> str:
    """A kept checkpoint: the note itself, or a saved ``GET /v1/audit/checkpoint`` body."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            note = json.loads(stripped)["note"]
        except (ValueError, KeyError, TypeError):
            raise OfflineVerificationFailed("the kept checkpoint is not a note") from None
        if not isinstance(note, str):
            raise OfflineVerificationFailed("the kept checkpoint is not a note")
        return note
    return text


def verify_export(
    lines: Iterable[str], verifier_key: str, old_checkpoint: str | None = None
) -> OfflineReport:
    """Check an export against the pinned ``verifier_key`` (and a kept note); raise
    OfflineVerificationFailed with the first problem."""
    try:
        name, public_key = parse_verifier_key(verifier_key.strip())
    except ValueError as exc:
        raise OfflineVerificationFailed(f"the pinned key: {exc}") from None
    leaves: list[bytes] = []
    checkpoint: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if checkpoint is not None:
            raise OfflineVerificationFailed(f"line {number}: follows the checkpoint")
        try:
            item = json.loads(line)
        except ValueError:
            raise OfflineVerificationFailed(f"line {number}: not JSON") from None
        if not isinstance(item, dict):
            raise OfflineVerificationFailed(f"line {number}: not an event or a checkpoint")
        if "checkpoint" in item:
            checkpoint = item["checkpoint"]
            continue
        leaves.append(_leaf(item, len(leaves)))
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("note"), str):
        raise OfflineVerificationFailed("the export ends without a checkpoint")
    try:
        signed = verify_note(checkpoint["note"], name, public_key)
    except NoteVerificationError:
        raise OfflineVerificationFailed(
            "the checkpoint's signature does not verify with the pinned key"
        ) from None
    report = OfflineReport()
    if signed.tree_size > len(leaves):
        raise OfflineVerificationFailed(
            f"the checkpoint signs {signed.tree_size} events; the export holds {len(leaves)}"
        )
    if root_from_leaf_hashes(leaves[: signed.tree_size]) != signed.root_hash:
        raise OfflineVerificationFailed("the events do not hash to the signed root")
    report.said.append(
        f"checkpoint of {signed.origin}: {signed.tree_size} events, root "
        f"{signed.root_hash.hex()}, signature verified with the pinned key"
    )
    report.said.append(f"{signed.tree_size} events verified against the signed root")
    if len(leaves) > signed.tree_size:
        report.said.append(
            f"{len(leaves) - signed.tree_size} later events are not covered by the checkpoint"
        )
    if old_checkpoint is not None:
        try:
            old = verify_note(kept_note(old_checkpoint), name, public_key)
        except NoteVerificationError:
            raise OfflineVerificationFailed(
                "the kept checkpoint's signature does not verify with the pinned key"
            ) from None
        if old.origin != signed.origin:
            raise OfflineVerificationFailed("the kept checkpoint is of another log")
        if old.tree_size > signed.tree_size:
            raise OfflineVerificationFailed("the log shrank since the kept checkpoint")
        if root_from_leaf_hashes(leaves[: old.tree_size]) != old.root_hash:
            raise OfflineVerificationFailed(
                f"the first {old.tree_size} events are not those the kept checkpoint signed: "
                "the log was rewritten"
            )
        report.said.append(f"consistent with the kept checkpoint of {old.tree_size} events")
    return report


def _leaf(item: dict[str, Any], position: int) -> bytes:
    if item.get("index") != position:
        raise OfflineVerificationFailed(f"position {position}: the export skips or repeats one")
    try:
        data = base64.b64decode(item["leaf"], validate=True)
        decoded = parse_leaf(data)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise OfflineVerificationFailed(f"position {position}: the leaf is not an event") from None
    if decoded != item.get("event"):
        raise OfflineVerificationFailed(
            f"position {position}: the decoded event differs from its bytes"
        )
    return leaf_hash(data)
