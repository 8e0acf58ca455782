"""Per-subject data keys (envelope encryption) and the field encryption the store uses.

``KeyService`` hands out unwrapped data keys for subjects, creating them on first write and
reporting shredded ones as gone. ``FieldCrypto`` seals and opens the encrypted fields and
computes blind indexes of one data map; ``governance.store`` calls it and never sees a key.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.errors import Conflict
from governance.keys.blind_index import BlindIndexer
from governance.keys.cipher import DataKey, aad_prefix, open_sealed, seal
from governance.keys.keystore import KeyStore, StoredKey
from governance.keys.provider import KeyProvider
from governance.store.values import plain_decoder, plain_encoder
from policies.types import DataMap, Field

DEK_BYTES = 32
_CACHE_LIMIT = 100_000


class SubjectErased(Conflict):
    """Encrypted data cannot be written for a subject whose key was shredded."""

    type = "subject-erased"


def dek_associated_data(subject_id: str, kek_version: int, key_id: str) -> bytes:
    """Binds a wrapped data key to its subject, KEK version and key id, so a wrapped key
    copied to another subject's row, or relabelled with another version, fails to unwrap."""
    return (
        b"crm-gw/dek/v1\x00"
        + subject_id.encode()
        + b"\x00"
        + str(kek_version).encode()
        + b"\x00"
        + key_id.encode()
    )


@dataclass(frozen=True)
class _Cached:
    stored: StoredKey
    key: DataKey


class KeyService:
    def __init__(self, provider: KeyProvider, keystore: KeyStore) -> None:
        self.provider = provider
        self.keystore = keystore
        self._cache: dict[str, _Cached] = {}

    def data_keys(
        self, subject_ids: Iterable[str], *, create: bool = False
    ) -> dict[str, DataKey | None]:
        """Each subject's data key; None for a subject whose key was shredded (or, without
        ``create``, never made). The key store is asked every time, so a shred done by
        another process is seen at once; only the unwrapping is cached."""
        ids = list(dict.fromkeys(s for s in subject_ids if s is not None))
        stored = self.keystore.fetch(ids)
        if create:
            missing = [s for s in ids if s not in stored]
            if missing:
                self.keystore.insert([self._new_key(s) for s in missing])
                stored.update(self.keystore.fetch(missing))
        return {s: self._unwrapped(stored[s]) if s in stored else None for s in ids}

    def _new_key(self, subject_id: str) -> StoredKey:
        version = self.provider.current_version()
        key_id = secrets.token_hex(8)
        wrapped = self.provider.wrap(
            version,
            secrets.token_bytes(DEK_BYTES),
            dek_associated_data(subject_id, version, key_id),
        )
        return StoredKey(subject_id, key_id, version, wrapped)

    def _unwrapped(self, stored: StoredKey) -> DataKey | None:
        if stored.wrapped is None or stored.kek_version is None:
            return None
        cached = self._cache.get(stored.subject_id)
        if cached is not None and cached.stored == stored:
            return cached.key
        raw = self.provider.unwrap(
            stored.kek_version,
            stored.wrapped,
            dek_associated_data(stored.subject_id, stored.kek_version, stored.key_id),
        )
        key = DataKey(stored.subject_id, bytes.fromhex(stored.key_id), AESGCM(raw))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[stored.subject_id] = _Cached(stored, key)
        return key

    def check_kek(self) -> None:
        """Unwrap one stored data key (not from the cache): raises
        ``CiphertextIntegrityError`` or ``UnknownKekVersion`` if the KEK this process holds
        is not the one the key store's keys were wrapped by. An empty key store passes."""
        stored = self.keystore.one_live()
        if stored is None or stored.wrapped is None or stored.kek_version is None:
            return
        self.provider.unwrap(
            stored.kek_version,
            stored.wrapped,
            dek_associated_data(stored.subject_id, stored.kek_version, stored.key_id),
        )

    def derived_key(self, label: str) -> bytes:
        """A 256-bit key for one named use (keyed hashes of masks and redactions), derived
        from the provider's index key, so it survives restarts and is shared by workers
        without a key file of its own. Each label gives an unrelated key."""
        return hmac.digest(
            self.provider.index_key(), b"crm-gw/derived/v1\x00" + label.encode(), "sha256"
        )

    def shred(self, subject_id: str) -> str | None:
        """Destroy the subject's data key. Returns its key id (for the audit event), or None
        if the subject had no live key."""
        before = self.keystore.fetch([subject_id]).get(subject_id)
        self.keystore.shred(subject_id)
        self._cache.pop(subject_id, None)
        return before.key_id if before is not None and not before.shredded else None

    def rewrap(self, stored: StoredKey, version: int) -> bytes:
        """The same data key wrapped by KEK ``version`` (rotation); the key never leaves memory."""
        assert stored.wrapped is not None and stored.kek_version is not None
        raw = self.provider.unwrap(
            stored.kek_version,
            stored.wrapped,
            dek_associated_data(stored.subject_id, stored.kek_version, stored.key_id),
        )
        return self.provider.wrap(
            version, raw, dek_associated_data(stored.subject_id, version, stored.key_id)
        )


class _FieldCodec:
    """What sealing one field needs, computed once per field."""

    __slots__ = ("field", "prefix", "indexer", "index_column", "encode", "decode")

    def __init__(self, collection: str, field: Field, index_key: bytes) -> None:
        self.field = field
        self.prefix = aad_prefix(collection, field.name)
        self.encode = plain_encoder(field)
        self.decode = plain_decoder(field)
        self.indexer = (
            BlindIndexer(index_key, collection, field.name, field.category)
            if field.lookup
            else None
        )
        self.index_column = field.blind_index_column


class FieldCrypto:
    """Field encryption and blind indexes for one data map, driven by its declarations."""

    def __init__(self, keys: KeyService, datamap: DataMap) -> None:
        self.keys = keys
        index_key = keys.provider.index_key()
        self._codecs: dict[str, dict[str, _FieldCodec]] = {
            c.name: {
                f.name: _FieldCodec(c.name, f, index_key) for f in c.fields.values() if f.encrypted
            }
            for c in datamap.collections.values()
        }

    def encrypted_fields(self, collection: str) -> Mapping[str, _FieldCodec]:
        return self._codecs[collection]

    def seal_cells(
        self, collection: str, record_id: str, key: DataKey | None, cells: dict[str, Any]
    ) -> None:
        """Replace plain values of encrypted fields in ``cells`` by ciphertext, in place, and
        set the blind index of each lookup field."""
        for name, codec in self._codecs[collection].items():
            if name not in cells:
                continue
            value = cells[name]
            if value is None:
                if codec.index_column:
                    cells[codec.index_column] = None
                continue
            if key is None:
                raise SubjectErased("the data subject was erased; its data cannot be written")
            cells[name] = seal(key, codec.prefix, record_id, codec.encode(value))
            if codec.indexer is not None and codec.index_column:
                cells[codec.index_column] = codec.indexer(value)

    def open_value(
        self, collection: str, field: str, record_id: str, key: DataKey, stored: bytes
    ) -> Any:
        codec = self._codecs[collection][field]
        return codec.decode(open_sealed(key, codec.prefix, record_id, stored))

    def blind_index(self, collection: str, field: str, value: str) -> bytes:
        codec = self._codecs[collection].get(field)
        if codec is None or codec.indexer is None:
            raise KeyError(field)
        return codec.indexer(value)
