"""Readiness: whether this process can serve now, and if not, why in a few words.

A ping proves a database answers, not that serving works: with the disk full every request
fails on its audit event, and a worker holding another key-encryption key fails every
encrypted field while both databases answer. So readiness checks what serving needs: both
stores commit a write (``governance.db.write_problem``), the key files are there, and the
KEK opens a stored data key. The reasons name no path, host or value: ``/readyz`` answers
anyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance.db import failure_cause, write_problem
from governance.keys.errors import CiphertextIntegrityError, UnknownKekVersion
from governance.keys.local import LocalKeyProvider

if TYPE_CHECKING:
    from governance.runtime import Runtime


def not_ready(runtime: Runtime) -> str | None:
    """The first reason this process cannot serve, or None when it can."""
    provider = runtime.keys.provider
    if (
        isinstance(provider, LocalKeyProvider)
        and provider.writable
        and not runtime.settings.key_file.is_file()
    ):
        return "the key file is missing (GOVERNANCE_KEY_FILE)"
    if not runtime.settings.audit_signing_key_file.is_file():
        return "the audit signing key file is missing (GOVERNANCE_AUDIT_SIGNING_KEY_FILE)"
    for name, engine in (
        ("the CRM database", runtime.engine),
        ("the key store", runtime.keys.keystore.engine),
    ):
        cause = write_problem(engine)
        if cause is not None:
            return f"{name}: {cause}"
    try:
        runtime.keys.check_kek()
    except (CiphertextIntegrityError, UnknownKekVersion):
        return "the key-encryption key does not open the stored data keys"
    except Exception as exc:  # noqa: BLE001 - the key store failed between two checks
        return f"the key store: {failure_cause(exc)}"
    return None
