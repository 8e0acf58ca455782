"""The local KEK provider: a versioned key set in an owner-only JSON file, or in an
environment variable for deployments that inject secrets that way.

File format (``crm-privacy-gateway/keyset/v1``)::

    {"format": ..., "current": 2,
     "versions": {"1": {"created_at": ..., "retired_at": ..., "key": null},
                  "2": {"created_at": ..., "retired_at": null, "key": "<base64 32 bytes>"}},
     "index_key": "<base64 32 bytes>"}

A retired version keeps its entry (so the history of versions stays visible) but loses its
key bytes. The file is rewritten atomically (temp file, fsync, rename) under an exclusive
``flock`` on a sibling lock file, so two rotations cannot interleave, and every process
re-reads it when it changes on disk, so gunicorn workers pick up a rotation done by another
process before they wrap a new data key.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit.private_file import write_private_file
from governance.keys.errors import (
    CiphertextIntegrityError,
    KeyFileError,
    ReadOnlyKeyProvider,
    UnknownKekVersion,
)
from governance.keys.provider import KeyProvider

FORMAT = "crm-privacy-gateway/keyset/v1"
KEY_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True)
class _KeySet:
    current: int
    keys: Mapping[int, AESGCM]  # live versions only
    index_key: bytes
    document: Mapping[str, Any]


def new_keyset_document() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "current": 1,
        "versions": {"1": _new_version_entry()},
        "index_key": _b64(secrets.token_bytes(KEY_BYTES)),
    }


def _new_version_entry() -> dict[str, Any]:
    return {"created_at": _now(), "retired_at": None, "key": _b64(secrets.token_bytes(KEY_BYTES))}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Malformed(ValueError):
    """Our own description of what is wrong; it never quotes the document."""


def _parse(document: Any, where: str) -> _KeySet:
    """Validate a key-set document. Messages name the problem, never a key."""
    try:
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise _Malformed(f"is not a {FORMAT} key set")
        current = int(document["current"])
        keys: dict[int, AESGCM] = {}
        for name, entry in document["versions"].items():
            version = int(name)
            if entry.get("key") is not None:
                raw = base64.b64decode(entry["key"], validate=True)
                if len(raw) != KEY_BYTES:
                    raise _Malformed(f"has a version {version} that is not a 256-bit key")
                keys[version] = AESGCM(raw)
        if current not in keys:
            raise _Malformed("has no key for its current version")
        index_key = base64.b64decode(document["index_key"], validate=True)
        if len(index_key) != KEY_BYTES:
            raise _Malformed("has an index_key that is not a 256-bit key")
    except _Malformed as exc:
        raise KeyFileError(f"{where} {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError):
        raise KeyFileError(f"{where} is malformed (expected the {FORMAT} layout)") from None
    return _KeySet(current=current, keys=keys, index_key=index_key, document=document)


class LocalKeyProvider(KeyProvider):
    """KEK versions from a key file (read-write) or from a JSON value (read-only)."""

    def __init__(self, *, path: Path | None = None, value: str | None = None) -> None:
        if (path is None) == (value is None):
            raise ValueError("give exactly one of path or value")
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        if value is not None:
            try:
                document = json.loads(value)
            except ValueError:
                raise KeyFileError("GOVERNANCE_KEK is not JSON") from None
            self._keyset = _parse(document, "GOVERNANCE_KEK")
        else:
            self._keyset = self._load()

    # -- loading --------------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        return self._path is not None

    def _load(self) -> _KeySet:
        assert self._path is not None
        try:
            fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise KeyFileError(f"GOVERNANCE_KEY_FILE {self._path} does not exist") from None
        except OSError as exc:
            raise KeyFileError(
                f"GOVERNANCE_KEY_FILE {self._path} cannot be opened ({exc.strerror})"
            ) from None
        try:
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                check_owner_only(self._path, info)
                raw = handle.read()
        except OSError as exc:  # a directory in its place, an I/O error
            raise KeyFileError(
                f"GOVERNANCE_KEY_FILE {self._path} cannot be read ({exc.strerror})"
            ) from None
        try:
            document = json.loads(raw)
        except ValueError:
            raise KeyFileError(f"GOVERNANCE_KEY_FILE {self._path} is not JSON") from None
        self._stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        return _parse(document, f"GOVERNANCE_KEY_FILE {self._path}")

    def _fresh(self) -> _KeySet:
        """The key set, re-read if another process rewrote the file since we loaded it."""
        if self._path is not None:
            try:
                info = os.stat(self._path)
            except OSError:
                return self._keyset  # keep serving with what we have; the next load reports it
            if (info.st_ino, info.st_mtime_ns, info.st_size) != self._stamp:
                self._keyset = self._load()
        return self._keyset

    # -- KeyProvider ----------------------------------------------------------------------
    def current_version(self) -> int:
        return self._fresh().current

    def versions(self) -> list[int]:
        return sorted(self._fresh().keys)

    def index_key(self) -> bytes:
        return self._keyset.index_key

    def _key(self, version: int) -> AESGCM:
        key = self._keyset.keys.get(version)
        if key is None:
            key = self._fresh().keys.get(version)
        if key is None:
            raise UnknownKekVersion(f"KEK version {version} is not available (retired or unknown)")
        return key

    def wrap(self, version: int, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._key(version).encrypt(nonce, plaintext, associated_data)

    def unwrap(self, version: int, wrapped: bytes, associated_data: bytes) -> bytes:
        key = self._key(version)
        try:
            return key.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise CiphertextIntegrityError(
                f"a wrapped data key failed authentication under KEK version {version}"
            ) from None

    def create_version(self) -> int:
        with self._rewrite() as document:
            version = max(int(v) for v in document["versions"]) + 1
            document["versions"][str(version)] = _new_version_entry()
            document["current"] = version
        return version

    def retire(self, version: int) -> None:
        with self._rewrite() as document:
            if int(document["current"]) == version:
                raise ValueError("the current KEK version cannot be retired")
            entry = document["versions"].get(str(version))
            if entry is None or entry.get("key") is None:
                return
            entry["key"] = None
            entry["retired_at"] = _now()

    def describe(self) -> list[dict[str, Any]]:
        """Versions with their dates and state, no key bytes."""
        document = self._fresh().document
        return [
            {
                "version": int(name),
                "created_at": entry.get("created_at"),
                "retired_at": entry.get("retired_at"),
                "current": int(name) == int(document["current"]),
            }
            for name, entry in sorted(document["versions"].items(), key=lambda kv: int(kv[0]))
        ]

    @contextlib.contextmanager
    def _rewrite(self) -> Iterator[dict[str, Any]]:
        if self._path is None:
            raise ReadOnlyKeyProvider(
                "the KEK comes from GOVERNANCE_KEK: add the new version there, restart, "
                "then run the rotation to rewrap the data keys"
            )
        with _locked(self._path):
            self._keyset = self._load()
            document = json.loads(json.dumps(self._keyset.document))
            yield document
            _parse(document, "the new key set")
            write_keyset(self._path, document, replace=True)
            self._keyset = self._load()


def check_owner_only(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"GOVERNANCE_KEY_FILE {path} is not a regular file")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"GOVERNANCE_KEY_FILE {path} is accessible to group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_keyset(path: Path, document: Mapping[str, Any], *, replace: bool) -> None:
    """Write atomically with mode 0600; with ``replace=False`` fail if the file exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.dumps(document, indent=2, sort_keys=True).encode("utf-8")
    write_private_file(path, data, overwrite=replace)


def open_local_provider(key_file: Path, kek_value: str | None) -> tuple[LocalKeyProvider, bool]:
    """The provider and whether this call created the key file (the embedded default's
    first run)."""
    if kek_value:
        return LocalKeyProvider(value=kek_value), False
    created = False
    if not key_file.exists():
        try:
            write_keyset(key_file, new_keyset_document(), replace=False)
            created = True
        except FileExistsError:
            pass  # another worker created it first: use theirs
        except OSError as exc:
            raise KeyFileError(
                f"GOVERNANCE_KEY_FILE {key_file} cannot be created ({exc.strerror})"
            ) from None
    return LocalKeyProvider(path=key_file), created
