"""What the rest of the service needs from whoever holds the key-encryption key (KEK).

Callers never see KEK bytes: they ask the provider to wrap or unwrap a data key under a
version. A cloud KMS or Vault Transit provider implements the same five methods (their
wrap/unwrap are the KMS's encrypt/decrypt calls with the associated data as encryption
context), so adding one touches nothing but :func:`governance.keys.local.open_key_provider`.
"""

from __future__ import annotations

from typing import Protocol


class KeyProvider(Protocol):
    def current_version(self) -> int:
        """The version new data keys are wrapped with."""
        ...

    def versions(self) -> list[int]:
        """Versions that can still unwrap (not retired), ascending."""
        ...

    def wrap(self, version: int, plaintext: bytes, associated_data: bytes) -> bytes:
        """Seal ``plaintext`` under KEK ``version``; raises UnknownKekVersion."""
        ...

    def unwrap(self, version: int, wrapped: bytes, associated_data: bytes) -> bytes:
        """Open what :meth:`wrap` sealed; raises CiphertextIntegrityError or UnknownKekVersion."""
        ...

    def create_version(self) -> int:
        """Add a new KEK version and make it current; raises ReadOnlyKeyProvider."""
        ...

    def retire(self, version: int) -> None:
        """Destroy a version that nothing refers to any more; never the current one."""
        ...

    def index_key(self) -> bytes:
        """The separate HMAC key of the blind indexes (it is not versioned: rotating it
        would mean recomputing every index, a different operation from a KEK rotation)."""
        ...
