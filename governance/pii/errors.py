"""Errors of PII detection. None of them carries a matched value: entity types, positions,
field and collection names only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from governance.errors import Conflict, GovernanceError, NotFound, SettingsError, ValidationFailed


class PiiModelMissing(SettingsError):
    """The configured NLP model is not installed; the service refuses to start."""

    type = "pii-model-missing"


class PiiConfigInvalid(SettingsError):
    type = "pii-config"


class TextTooLarge(GovernanceError):
    type = "payload-too-large"
    title = "Payload too large"
    status = 413


class InvalidText(ValidationFailed):
    type = "invalid-text"


class UnknownOperator(ValidationFailed):
    type = "unknown-operator"


class PiiRefused(ValidationFailed):
    """A write put personal data in a field the data map does not declare for it (422).

    The problem lists, per field, the entity types and their character positions; never the
    text that matched.
    """

    type = "pii-refused"

    def __init__(self, collection: str, findings: Sequence[Any]) -> None:
        errors: dict[str, list[str]] = {}
        for finding in findings:
            errors.setdefault(finding.field, []).append(
                f"{finding.entity_type} at {finding.start}-{finding.end} "
                "is not declared for this field"
            )
        super().__init__(
            f"the {collection} record holds personal data in fields not declared for it",
            errors,
        )
        self.extra["entities"] = [
            {"field": f.field, "type": f.entity_type, "start": f.start, "end": f.end}
            for f in findings
        ]


class ScanNotFound(NotFound):
    type = "scan-not-found"

    def __init__(self) -> None:
        super().__init__("no such PII scan")


class ScanInProgress(Conflict):
    """A scan is already queued or running; only one runs at a time (the CLI's refusal: the
    HTTP API answers with the running scan instead)."""

    type = "scan-in-progress"

    def __init__(self, scan_id: str) -> None:
        super().__init__(
            f"scan {scan_id} is already queued or running; follow it with GET "
            f"/v1/pii/scans/{scan_id}, or if its process stopped, resume it with "
            f"governance pii scan --resume {scan_id}"
        )
        self.extra["scan_id"] = scan_id
