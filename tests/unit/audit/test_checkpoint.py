"""Tests for audit.checkpoint: signed-note interop vectors, independent verifier, key files."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.checkpoint import (
    Checkpoint,
    CheckpointFormatError,
    NoteSigner,
    NoteVerificationError,
    generate_signing_key,
    key_id,
    load_signing_key,
    parse_verifier_key,
    validate_key_name,
    verifier_key,
    verify_note,
    verify_note_body,
)

EM_DASH = "\u2014"

# ---------------------------------------------------------------------------
# Published vectors. Source: golang/mod, sumdb/note/note_test.go
# (TestNewSigner / TestSign / TestOpen / TestVerifierList).
# ---------------------------------------------------------------------------
GO_NAME = "PeterNeumann"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNED = (
    GO_TEXT
    + "\n"
    + EM_DASH
    + " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
# A second, unrelated key and its signature over the same text (TestOpen).
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_ENOCH_SIG = (
    EM_DASH
    + " EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)


def go_private_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Decode Go's PRIVATE+KEY+<name>+<id>+base64(0x01 || seed) format."""
    private, key, name, id_hex, b64 = skey.split("+", 4)
    assert (private, key) == ("PRIVATE", "KEY")
    blob = base64.b64decode(b64)
    assert blob[0] == 0x01 and len(blob) == 33
    priv = Ed25519PrivateKey.from_private_bytes(blob[1:])
    return name, priv


def go_public_key(vkey: str) -> tuple[str, bytes]:
    name, _id, b64 = vkey.split("+")
    blob = base64.b64decode(b64)
    return name, blob[1:]


# ---------------------------------------------------------------------------
# Independent minimal verifier (does not use audit.checkpoint internals).
# ---------------------------------------------------------------------------


def independent_verify(note: str, name: str, pub: bytes) -> bytes:
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    assert sigs.endswith("\n")
    want_id = hashlib.sha256(name.encode() + b"\x0a\x01" + pub).digest()[:4]
    ok = False
    for line in sigs[:-1].split("\n"):
        assert line.startswith("\u2014 ")
        sig_name, sig_b64 = line[2:].split(" ")
        raw = base64.b64decode(sig_b64, validate=True)
        if sig_name == name and raw[:4] == want_id:
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], text.encode())
            ok = True
    assert ok, "no matching signature"
    return text.encode()


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner("audit.example/log", Ed25519PrivateKey.generate())


def sample_checkpoint() -> Checkpoint:
    return Checkpoint("audit.example/log", 1234, hashlib.sha256(b"root").digest())


# ---------------------------------------------------------------------------
# Interop with the Go reference
# ---------------------------------------------------------------------------


def test_go_signature_is_byte_identical() -> None:
    name, priv = go_private_key(GO_SKEY)
    s = NoteSigner(name, priv)
    assert s.key_id.hex() == "c74f20a3"
    assert s.sign(GO_TEXT.encode()) == GO_SIGNED


def test_go_verifier_key_string() -> None:
    name, priv = go_private_key(GO_SKEY)
    s = NoteSigner(name, priv)
    assert verifier_key(name, s.public_key_bytes) == GO_VKEY
    assert s.verifier_key == GO_VKEY
    assert parse_verifier_key(GO_VKEY) == (GO_NAME, s.public_key_bytes)
    enoch_name, enoch_pub = go_public_key(GO_ENOCH_VKEY)
    assert verifier_key(enoch_name, enoch_pub) == GO_ENOCH_VKEY
    assert key_id(enoch_name, enoch_pub).hex() == "af0cfe78"


def test_go_note_verifies_and_foreign_signatures_are_ignored() -> None:
    name, pub = go_public_key(GO_VKEY)
    assert verify_note_body(GO_SIGNED, name, pub) == GO_TEXT.encode()
    cosigned = GO_SIGNED + GO_ENOCH_SIG
    assert verify_note_body(cosigned, name, pub) == GO_TEXT.encode()
    enoch_name, enoch_pub = go_public_key(GO_ENOCH_VKEY)
    assert verify_note_body(cosigned, enoch_name, enoch_pub) == GO_TEXT.encode()
    with pytest.raises(NoteVerificationError, match="no signature"):
        verify_note_body(GO_TEXT + "\n" + GO_ENOCH_SIG, name, pub)
    # Not a checkpoint, so verify_note (which parses the body) refuses it.
    with pytest.raises(NoteVerificationError, match="not a valid checkpoint"):
        verify_note(GO_SIGNED, name, pub)


def test_go_malformed_notes_rejected() -> None:
    # The "badMsgs" list of TestOpen plus the corrupted-signature case.
    name, pub = go_public_key(GO_VKEY)
    peter_sig = GO_SIGNED[len(GO_TEXT) + 1 :]
    bad = [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + peter_sig[:-1],
        "\x01" + GO_TEXT + "\n" + peter_sig,
        GO_TEXT + "\n" + EM_DASH + " Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUg"
        "YN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + peter_sig + "Unexpected line.\n",
        GO_TEXT + "\n" + peter_sig * 101,
        GO_TEXT + "\n" + peter_sig[:60] + "ABCD" + peter_sig[60:],
    ]
    for msg in bad:
        with pytest.raises(NoteVerificationError):
            verify_note_body(msg, name, pub)
    with pytest.raises(NoteVerificationError):
        verify_note_body(b"\xff" + GO_SIGNED.encode(), name, pub)


# ---------------------------------------------------------------------------
# Checkpoint body
# ---------------------------------------------------------------------------


def test_checkpoint_body_format() -> None:
    cp = sample_checkpoint()
    expected = (
        "audit.example/log\n1234\n" + base64.b64encode(cp.root_hash).decode() + "\n"
    ).encode()
    assert cp.body() == expected
    assert Checkpoint.parse(expected) == cp
    assert Checkpoint.parse(expected.decode()) == cp


def test_checkpoint_spec_example_parses() -> None:
    # Example from C2SP/C2SP tlog-checkpoint.md.
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.parse(body)
    assert (cp.origin, cp.tree_size) == ("example.com/behind-the-sofa", 20852163)
    assert cp.body() == body


def test_checkpoint_extensions_round_trip() -> None:
    body = sample_checkpoint().body() + b"ext one\nanother\n"
    cp = Checkpoint.parse(body)
    assert cp.extensions == ("ext one", "another")
    assert cp.body() == body


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"origin\n1\n",
        b"origin\n1\n" + base64.b64encode(bytes(32)),  # no trailing newline
        b"\n1\n" + base64.b64encode(bytes(32)) + b"\n",
        b"o\n01\n" + base64.b64encode(bytes(32)) + b"\n",
        b"o\n-1\n" + base64.b64encode(bytes(32)) + b"\n",
        b"o\n+1\n" + base64.b64encode(bytes(32)) + b"\n",
        b"o\n 1\n" + base64.b64encode(bytes(32)) + b"\n",
        "o\n\u0661\n".encode() + base64.b64encode(bytes(32)) + b"\n",  # Arabic-Indic digit
        b"o\n18446744073709551616\n" + base64.b64encode(bytes(32)) + b"\n",
        b"o\n1\n" + base64.b64encode(bytes(31)) + b"\n",
        b"o\n1\n" + base64.b64encode(bytes(32)).rstrip(b"=") + b"\n",
        b"o\n1\n" + base64.b64encode(bytes(32))[:-2] + b"B=\n",  # non-canonical
        b"o\n1\n" + base64.b64encode(bytes(32)) + b"\n\n",  # empty extension line
        b"o\xff\n1\n" + base64.b64encode(bytes(32)) + b"\n",
    ],
)
def test_checkpoint_parse_rejects(body: bytes) -> None:
    with pytest.raises(CheckpointFormatError):
        Checkpoint.parse(body)


def test_checkpoint_constructor_validates() -> None:
    root = bytes(32)
    for args in [
        ("", 1, root),
        ("a\nb", 1, root),
        ("o", -1, root),
        ("o", True, root),
        ("o", 2**64, root),
        ("o", 1, root[:31]),
        ("o", 1, "x" * 32),
    ]:
        with pytest.raises(CheckpointFormatError):
            Checkpoint(*args)  # type: ignore[arg-type]
    with pytest.raises(CheckpointFormatError):
        Checkpoint("o", 1, root, ("bad\nline",))
    assert Checkpoint("o", 2**64 - 1, root).tree_size == 2**64 - 1
    assert isinstance(CheckpointFormatError("x"), ValueError)


@settings(max_examples=50, deadline=None)
@given(
    origin=st.text(
        alphabet=st.characters(min_codepoint=0x20, blacklist_categories=("Cs",)), min_size=1
    ),
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_checkpoint_round_trip_property(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    assert Checkpoint.parse(cp.body()) == cp


# ---------------------------------------------------------------------------
# Signing / verifying our own notes
# ---------------------------------------------------------------------------


def test_sign_and_verify_checkpoint(signer: NoteSigner) -> None:
    cp = sample_checkpoint()
    note = signer.sign(cp.body())
    assert note.startswith(cp.body().decode() + "\n" + EM_DASH + " audit.example/log ")
    assert note.endswith("\n")
    assert signer.sign_checkpoint(cp) == note  # Ed25519 is deterministic
    assert verify_note(note, signer.name, signer.public_key_bytes) == cp
    assert verify_note(note.encode(), signer.name, signer.public_key_bytes) == cp
    assert (
        verify_note(note, signer.name, Ed25519PublicKey.from_public_bytes(signer.public_key_bytes))
        == cp
    )
    assert verify_note(note, signer.name, signer.public_key_bytes, origin=cp.origin) == cp
    with pytest.raises(NoteVerificationError, match="origin"):
        verify_note(note, signer.name, signer.public_key_bytes, origin="other.example/log")


def test_independent_verifier_accepts_our_notes(signer: NoteSigner) -> None:
    bodies = (sample_checkpoint().body(), b"hello\n\nwith blank line\n", "\u00e9t\u00e9\n".encode())
    for body in bodies:
        note = signer.sign(body)
        assert independent_verify(note, signer.name, signer.public_key_bytes) == body
        assert verify_note_body(note, signer.name, signer.public_key_bytes) == body
    # The key id on the wire is the spec's SHA-256(name || 0x0A || 0x01 || pub)[:4].
    want = hashlib.sha256(signer.name.encode() + b"\n\x01" + signer.public_key_bytes).digest()[:4]
    assert signer.key_id == want


def test_independent_verifier_catches_tampering(signer: NoteSigner) -> None:
    note = signer.sign(sample_checkpoint().body())
    with pytest.raises(InvalidSignature):
        independent_verify(note.replace("1234", "1235", 1), signer.name, signer.public_key_bytes)


def _resign_line(note: str, transform) -> str:
    text, _, sigs = note.rpartition("\n\n")
    line = sigs[:-1]
    prefix, b64 = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    transform(raw)
    return text + "\n\n" + prefix + " " + base64.b64encode(bytes(raw)).decode() + "\n"


def test_verify_rejects_tampering(signer: NoteSigner) -> None:
    cp = sample_checkpoint()
    note = signer.sign(cp.body())
    pub = signer.public_key_bytes

    # Modified body.
    with pytest.raises(NoteVerificationError, match="invalid signature"):
        verify_note(note.replace("\n1234\n", "\n1235\n", 1), signer.name, pub)

    # Modified signature bytes (id intact).
    def flip_sig(raw: bytearray) -> None:
        raw[10] ^= 1

    with pytest.raises(NoteVerificationError, match="invalid signature"):
        verify_note(_resign_line(note, flip_sig), signer.name, pub)

    # Truncated signature (id intact).
    with pytest.raises(NoteVerificationError, match="invalid signature"):
        verify_note(
            _resign_line(note, lambda raw: raw.__delitem__(slice(-1, None))), signer.name, pub
        )

    # Wrong key id: treated as an unknown key, so no signature from our key.
    def flip_id(raw: bytearray) -> None:
        raw[0] ^= 1

    with pytest.raises(NoteVerificationError, match="no signature"):
        verify_note(_resign_line(note, flip_id), signer.name, pub)

    # Other key (same name, so key id differs).
    other = NoteSigner(signer.name, Ed25519PrivateKey.generate())
    with pytest.raises(NoteVerificationError, match="no signature"):
        verify_note(note, other.name, other.public_key_bytes)
    with pytest.raises(NoteVerificationError, match="no signature"):
        verify_note(other.sign(cp.body()), signer.name, pub)

    # Wrong name on the verifier side or on the signature line.
    with pytest.raises(NoteVerificationError, match="no signature"):
        verify_note(note, "someone.else/log", pub)
    renamed = note.replace(EM_DASH + " audit.example/log ", EM_DASH + " audit.example/other ")
    with pytest.raises(NoteVerificationError, match="no signature"):
        verify_note(renamed, signer.name, pub)

    # Missing signature / missing separator / junk after signatures.
    for broken in (
        cp.body().decode(),
        cp.body().decode() + "\n",
        note + "junk\n",
        note.replace(EM_DASH, "-"),
        note[:-1],
        note.replace("\n\n", "\n"),
    ):
        with pytest.raises(NoteVerificationError):
            verify_note(broken, signer.name, pub)


def test_cosigned_note_with_unknown_signatures(signer: NoteSigner) -> None:
    witness = NoteSigner("witness.example/w1", Ed25519PrivateKey.generate())
    body = sample_checkpoint().body()
    note = signer.sign(body) + witness.signature_line(body)
    assert verify_note(note, signer.name, signer.public_key_bytes) == sample_checkpoint()
    assert verify_note(note, witness.name, witness.public_key_bytes) == sample_checkpoint()
    assert independent_verify(note, witness.name, witness.public_key_bytes) == body


def test_signer_rejects_bad_bodies_and_names() -> None:
    key = Ed25519PrivateKey.generate()
    for name in ("", "a b", "a+b", "tab\tname", "nl\nname", "nbsp\u00a0name", "\u2003"):
        with pytest.raises(ValueError):
            NoteSigner(name, key)
        with pytest.raises(ValueError):
            validate_key_name(name)
        with pytest.raises(ValueError):
            verifier_key(name, bytes(32))
    s = NoteSigner("ok.example/log", key)
    for body in (b"no newline", b"ctrl\x07\n", b"\xff\n"):
        with pytest.raises(ValueError):
            s.sign(body)
    with pytest.raises(TypeError):
        NoteSigner("ok", "not a key")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verify_note(s.sign(b"x\n"), "ok.example/log", bytes(31))


def test_a_verifier_key_whose_base64_holds_a_plus_parses() -> None:
    """'+' is a base64 digit: only the first two separate name, id and key (as in Go's note)."""
    for seed in range(64):
        key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        vkey = NoteSigner("log.example/audit", key).verifier_key
        if "+" in vkey.split("+", 2)[2]:
            break
    else:
        raise AssertionError("no seed gave a key with '+' in its base64")

    assert parse_verifier_key(vkey) == (
        "log.example/audit",
        NoteSigner("log.example/audit", key).public_key_bytes,
    )


def test_parse_verifier_key_rejects_damage() -> None:
    for bad in (
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("+ARpc", "+AhRpc"),
        GO_VKEY[:-4],
        "PeterNeumann+c74f20a3",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong alg byte
    ):
        with pytest.raises(ValueError):
            parse_verifier_key(bad)


# ---------------------------------------------------------------------------
# Key files
# ---------------------------------------------------------------------------


def test_generate_and_load_signing_key(tmp_path) -> None:
    path = tmp_path / "log.key"
    key = generate_signing_key(path)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_signing_key(path)
    s1, s2 = NoteSigner("k", key), NoteSigner("k", loaded)
    assert s1.public_key_bytes == s2.public_key_bytes
    assert s1.sign(b"x\n") == s2.sign(b"x\n")
    # No stray temp files left behind.
    assert [p.name for p in tmp_path.iterdir()] == ["log.key"]


def test_generate_refuses_to_clobber(tmp_path) -> None:
    path = tmp_path / "log.key"
    first = generate_signing_key(str(path))
    with pytest.raises(FileExistsError):
        generate_signing_key(path)
    assert (
        NoteSigner("k", load_signing_key(path)).public_key_bytes
        == NoteSigner("k", first).public_key_bytes
    )
    second = generate_signing_key(path, overwrite=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert (
        NoteSigner("k", load_signing_key(path)).public_key_bytes
        == NoteSigner("k", second).public_key_bytes
    )
    assert [p.name for p in tmp_path.iterdir()] == ["log.key"]


def test_generate_ignores_permissive_umask(tmp_path) -> None:
    old = os.umask(0)
    try:
        generate_signing_key(tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "k.pem").st_mode) == 0o600


def test_load_rejects_non_ed25519(tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError):
        load_signing_key(path)
