"""Errors of the key room. None of them ever carries key material or a decrypted value."""

from __future__ import annotations

from governance.errors import Conflict, GovernanceError, SettingsError


class KeyFileError(SettingsError):
    """The key-encryption key cannot be loaded, created or trusted; the service does not start."""

    type = "key-file"


class CiphertextIntegrityError(GovernanceError):
    """A stored ciphertext failed authentication: tampered, truncated, moved to another row,
    field or subject, or sealed under another key. Never shown as garbage plaintext."""

    type = "integrity-error"
    title = "Stored data failed its integrity check"
    status = 500


class UnknownKekVersion(GovernanceError):
    """A wrapped data key names a KEK version the provider no longer (or never) had."""

    type = "unknown-kek-version"
    title = "Key-encryption key version not available"
    status = 500


class ReadOnlyKeyProvider(Conflict):
    """The KEK comes from the environment: a new version is added there, not by the service."""

    type = "read-only-key-provider"


class RotationInProgress(Conflict):
    type = "rotation-in-progress"
