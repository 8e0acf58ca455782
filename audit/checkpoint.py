"""Signed tree heads: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes.

A checkpoint is the log's public commitment: "the first N entries hash to R".
Publishing it as a signed note (c2sp.org/signed-note, Ed25519 signature type
0x01) makes it checkable with standard tooling -- e.g. Go's
golang.org/x/mod/sumdb/note or any tlog witness -- without trusting our code.

Formats (see c2sp.org/tlog-checkpoint and c2sp.org/signed-note)::

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]
    \\n
    \u2014 <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\\n

    key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from audit.private_file import write_private_file

__all__ = [
    "Checkpoint",
    "CheckpointFormatError",
    "NoteSigner",
    "NoteVerificationError",
    "generate_signing_key",
    "key_id",
    "load_signing_key",
    "parse_verifier_key",
    "validate_key_name",
    "verifier_key",
    "verify_note",
    "verify_note_body",
]

#: Signature type byte for Ed25519 in c2sp.org/signed-note.
ALG_ED25519 = 0x01

_SIG_PREFIX = "\u2014 "  # EM DASH + SPACE
_HASH_SIZE = 32
_ED25519_PUBLIC_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
#: Upper bound on signature lines we parse.  The spec requires accepting at
#: least 16; Go's implementation stops at 100.  Bounding it stops a hostile
#: note from making us do unbounded work.
MAX_SIGNATURES = 100
_MAX_TREE_SIZE = 2**64 - 1  # tlog tree sizes are uint64 in every reference client
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)


class CheckpointFormatError(ValueError):
    """A checkpoint body does not follow c2sp.org/tlog-checkpoint."""


class NoteVerificationError(Exception):
    """A signed note is malformed or lacks a valid signature from the expected key."""


# --------------------------------------------------------------------------
# Names, key ids, verifier keys
# --------------------------------------------------------------------------


def validate_key_name(name: str) -> str:
    """Return ``name`` if it is a legal signed-note key name, else raise ValueError.

    Names appear on the signature line as ``— <name> <sig>`` and in verifier
    keys as ``<name>+<id>+<key>``, so whitespace or ``+`` would make both
    ambiguous.  Control characters are rejected because notes may not contain them.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("key name must be a non-empty string")
    if "+" in name:
        raise ValueError(f"key name {name!r} must not contain '+'")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ValueError(f"key name {name!r} must not contain whitespace or control characters")
    return name


def _public_key_bytes(public_key: bytes | Ed25519PublicKey) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if not isinstance(public_key, (bytes, bytearray)) or len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 raw bytes")
    return bytes(public_key)


def key_id(name: str, public_key: bytes | Ed25519PublicKey) -> bytes:
    """4-byte signed-note key id of an Ed25519 key.

    Binding the name and the algorithm byte into the id means the same raw key
    used under another name or algorithm yields a different id, so a verifier
    never confuses them.
    """
    validate_key_name(name)
    raw = _public_key_bytes(public_key)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + raw).digest()[:4]


def verifier_key(name: str, public_key: bytes | Ed25519PublicKey) -> str:
    """Go ``note`` verifier-key string ``<name>+<hex key id>+<base64(0x01 || key)>``.

    This is the form operators paste into witness / monitor configuration.
    """
    raw = _public_key_bytes(public_key)
    kid = key_id(name, raw)
    return f"{name}+{kid.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode()}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """Parse a verifier key string into ``(name, 32-byte public key)``.

    The embedded key id is recomputed and must match, which catches
    copy-and-paste damage before it turns into confusing verification errors.
    """
    parts = vkey.split("+", 2)  # the name has no '+'; the base64 key may ('+' is a digit)
    if len(parts) != 3:
        raise ValueError("verifier key must look like <name>+<hex id>+<base64 key>")
    name, id_hex, key_b64 = parts
    validate_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise ValueError("verifier key id must be 8 lowercase hex digits")
    try:
        blob = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("verifier key is not valid base64") from exc
    if len(blob) != 1 + _ED25519_PUBLIC_KEY_SIZE or blob[0] != ALG_ED25519:
        raise ValueError("verifier key is not an Ed25519 (type 0x01) key")
    raw = blob[1:]
    if key_id(name, raw).hex() != id_hex:
        raise ValueError("verifier key id does not match name and key")
    return name, raw


# --------------------------------------------------------------------------
# Checkpoint body
# --------------------------------------------------------------------------


def _check_line(what: str, line: str) -> None:
    if not line:
        raise CheckpointFormatError(f"{what} must be non-empty")
    if any(ord(ch) < 0x20 for ch in line):
        raise CheckpointFormatError(f"{what} must not contain newlines or control characters")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: ``tree_size`` leaves of log ``origin`` hash to ``root_hash``.

    ``extensions`` holds optional extension lines (without newlines).  We never
    write any -- the spec discourages them because monitors cannot audit them
    -- but keeping those we parse means ``parse(body).body() == body``.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str):
            raise CheckpointFormatError("origin must be a string")
        _check_line("origin", self.origin)
        if (
            not isinstance(self.tree_size, int)
            or isinstance(self.tree_size, bool)
            or not 0 <= self.tree_size <= _MAX_TREE_SIZE
        ):
            raise CheckpointFormatError("tree_size must be an int in [0, 2**64)")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _HASH_SIZE:
            raise CheckpointFormatError("root_hash must be 32 bytes")
        if not isinstance(self.extensions, tuple):
            object.__setattr__(self, "extensions", tuple(self.extensions))
        for ext in self.extensions:
            if not isinstance(ext, str):
                raise CheckpointFormatError("extension lines must be strings")
            _check_line("extension line", ext)

    def body(self) -> bytes:
        """The note text to sign (UTF-8, every line newline-terminated)."""
        lines = [
            self.origin,
            str(self.tree_size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def parse(cls, body: bytes | str) -> Checkpoint:
        """Parse a checkpoint note text strictly; raise CheckpointFormatError.

        Strictness (canonical decimal, canonical base64, exact hash length)
        matters because two different byte strings must never be accepted as
        the same checkpoint: witnesses compare bodies byte-for-byte.
        """
        if isinstance(body, bytes):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CheckpointFormatError("checkpoint is not valid UTF-8") from exc
        elif isinstance(body, str):
            text = body
        else:
            raise CheckpointFormatError("checkpoint body must be bytes or str")
        if not text.endswith("\n"):
            raise CheckpointFormatError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointFormatError("checkpoint needs origin, size and root hash lines")
        origin, size_line, root_line, *extensions = lines
        _check_line("origin", origin)
        if len(size_line) > 20 or not _DECIMAL.fullmatch(size_line):
            raise CheckpointFormatError(f"invalid tree size {size_line!r}")
        try:
            root = base64.b64decode(root_line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CheckpointFormatError("root hash is not valid base64") from exc
        if len(root) != _HASH_SIZE or base64.b64encode(root).decode() != root_line:
            raise CheckpointFormatError("root hash must be canonical base64 of 32 bytes")
        for ext in extensions:
            _check_line("extension line", ext)
        return cls(origin, int(size_line), root, tuple(extensions))


# --------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------


def _check_note_text(text: str) -> None:
    """Enforce the signed-note text rules; raise ValueError."""
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise ValueError("note text must not contain control characters other than newline")


class NoteSigner:
    """Signs note texts with an Ed25519 key under a signed-note key name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("private_key must be an Ed25519PrivateKey")
        self.name = validate_key_name(name)
        self._key = private_key
        self.public_key_bytes: bytes = _public_key_bytes(private_key.public_key())
        #: 4-byte key id prefixed to every signature (see :func:`key_id`).
        self.key_id: bytes = key_id(name, self.public_key_bytes)

    @property
    def verifier_key(self) -> str:
        """The public verifier key string to publish for this signer."""
        return verifier_key(self.name, self.public_key_bytes)

    def signature_line(self, body: bytes) -> str:
        """Just the ``— <name> <base64>\\n`` line for ``body`` (for cosigning flows)."""
        text = _decode_text(body)
        _check_note_text(text)
        sig = self._key.sign(body)
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + sig).decode()}\n"

    def sign(self, body: bytes) -> str:
        """Return the complete signed note: ``body``, a blank line, our signature line.

        ``body`` must be UTF-8, newline-terminated and free of control
        characters other than newline, as c2sp.org/signed-note requires;
        otherwise a standard verifier would reject what we published.
        """
        line = self.signature_line(body)
        return body.decode("utf-8") + "\n" + line

    def sign_checkpoint(self, checkpoint: Checkpoint) -> str:
        """Convenience: ``sign(checkpoint.body())``."""
        return self.sign(checkpoint.body())


def _decode_text(body: bytes) -> str:
    if not isinstance(body, bytes):
        raise TypeError("note body must be bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("note body must be valid UTF-8") from exc


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def verify_note_body(note: str | bytes, name: str, public_key: bytes | Ed25519PublicKey) -> bytes:
    """Verify a signed note against one trusted Ed25519 key; return the signed text.

    Follows c2sp.org/signed-note: signatures from other keys (different name
    or key id) are ignored, so cosigned notes and key rotation work; a
    signature that claims to be from our key but does not verify rejects the
    whole note; and a note with no valid signature from our key is rejected.
    Raises NoteVerificationError with the reason.
    """
    validate_key_name(name)
    raw_key = _public_key_bytes(public_key)
    expected_id = key_id(name, raw_key)
    verifier = Ed25519PublicKey.from_public_bytes(raw_key)

    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteVerificationError("malformed note: not valid UTF-8") from exc
    elif not isinstance(note, str):
        raise NoteVerificationError("malformed note: expected str or bytes")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise NoteVerificationError("malformed note: contains control characters")

    split = note.rfind("\n\n")
    if split < 0:
        raise NoteVerificationError("malformed note: no blank line before signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise NoteVerificationError("malformed note: missing or unterminated signature lines")

    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteVerificationError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    text_bytes = text.encode("utf-8")
    verified = False
    others: list[str] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteVerificationError(f"malformed note: bad signature line {line!r}")
        sig_name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            validate_key_name(sig_name)
            if not sep or not b64:
                raise ValueError("missing signature")
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoteVerificationError(f"malformed note: bad signature line {line!r}") from exc
        if len(blob) < 5:
            raise NoteVerificationError("malformed note: signature too short")
        sig_id, sig = blob[:4], blob[4:]
        if sig_name != name or sig_id != expected_id:
            others.append(f"{sig_name}+{sig_id.hex()}")
            continue  # unknown key: ignore, per spec
        try:
            if len(sig) != _ED25519_SIGNATURE_SIZE:
                raise InvalidSignature
            verifier.verify(sig, text_bytes)
        except InvalidSignature as exc:
            raise NoteVerificationError(
                f"invalid signature for key {name}+{expected_id.hex()}"
            ) from exc
        verified = True
    if not verified:
        found = ", ".join(others) if others else "none"
        raise NoteVerificationError(
            f"note has no signature by key {name}+{expected_id.hex()} (found: {found})"
        )
    return text_bytes


def verify_note(
    note: str | bytes,
    name: str,
    public_key: bytes | Ed25519PublicKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint note and return the parsed :class:`Checkpoint`.

    Pass ``origin`` to also require the checkpoint's origin line: a valid
    signature only proves the key signed *some* checkpoint, and a key shared
    between logs (or a test log) must not vouch for this one.  Every failure,
    including a correctly signed but malformed checkpoint body, raises
    NoteVerificationError.
    """
    body = verify_note_body(note, name, public_key)
    try:
        checkpoint = Checkpoint.parse(body)
    except CheckpointFormatError as exc:
        raise NoteVerificationError(f"signed text is not a valid checkpoint: {exc}") from exc
    if origin is not None and checkpoint.origin != origin:
        raise NoteVerificationError(
            f"checkpoint origin {checkpoint.origin!r} does not match expected {origin!r}"
        )
    return checkpoint


# --------------------------------------------------------------------------
# Key files
# --------------------------------------------------------------------------


def generate_signing_key(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> Ed25519PrivateKey:
    """Create a new Ed25519 key and store it as an unencrypted PKCS#8 PEM file.

    The file is created 0600 from the start (never world-readable, even
    briefly) in a temporary file in the same directory, fsynced, then linked
    into place, so a crash cannot leave a truncated key.  An existing key is
    refused unless ``overwrite=True``: replacing a log key by accident would
    orphan every checkpoint signed with it.
    """
    target = Path(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private_file(target, pem, overwrite=overwrite)
    return key


def load_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from an unencrypted PKCS#8 PEM file.

    Raises ValueError if the file holds anything but an Ed25519 private key,
    so a misconfigured path fails at startup instead of at first signature.
    """
    data = Path(path).read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{os.fspath(path)} does not contain an Ed25519 private key")
    return key
