#!/usr/bin/env python3
"""Check the gateway's audit log without trusting the gateway's code.

Uses only the standard library and `cryptography`: it fetches the latest signed checkpoint,
checks its Ed25519 signature (C2SP signed note) against a verifier key you pinned earlier,
then checks RFC 6962 inclusion proofs of the first events against the checkpoint's root,
recomputing each leaf hash from the event's canonical bytes. Optionally it checks that an
older checkpoint you kept is a prefix of the current one (consistency proof).

    python verify_log.py --url http://127.0.0.1:8000 --token AUDITOR_KEY \\
        --verifier-key 'name+1a2b3c4d+AbC...' [--events 20] [--old-checkpoint OLD.note]

Exit 0: everything verified. Exit 1: a check failed (the line says which).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.parse
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class VerificationFailed(Exception):
    """One of the log's promises does not hold."""


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """`<name>+<hex key id>+<base64(0x01 || 32-byte key)>`, the key id recomputed."""
    name, key_id_hex, blob_b64 = vkey.strip().split("+", 2)
    blob = base64.b64decode(blob_b64, validate=True)
    if len(blob) != 33 or blob[0] != 0x01:
        raise VerificationFailed("the verifier key is not an Ed25519 key")
    if note_key_id(name, blob[1:]).hex() != key_id_hex:
        raise VerificationFailed("the verifier key's id does not match its name and key")
    return name, blob[1:]


def note_key_id(name: str, raw_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + raw_key).digest()[:4]


def verify_checkpoint(note: str, name: str, raw_key: bytes) -> tuple[str, int, bytes]:
    """Return (origin, tree size, root hash) of a note signed by the pinned key."""
    split = note.rfind("\n\n")
    if split < 0:
        raise VerificationFailed("the checkpoint is not a signed note")
    body, signatures = note[: split + 1], note[split + 2 :]
    wanted = note_key_id(name, raw_key)
    public_key = Ed25519PublicKey.from_public_bytes(raw_key)
    for line in signatures.splitlines():
        prefix = "\u2014 " + name + " "
        if not line.startswith(prefix):
            continue
        blob = base64.b64decode(line[len(prefix) :], validate=True)
        if blob[:4] != wanted:
            continue
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise VerificationFailed("the checkpoint's signature does not verify") from None
        lines = body.splitlines()
        return lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    raise VerificationFailed("the checkpoint carries no signature by the pinned key")


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root that `path` proves `leaf` at `index` belongs to."""
    if index >= size:
        raise VerificationFailed(f"leaf {index} is outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerificationFailed(f"the inclusion proof of {index} is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationFailed(f"the inclusion proof of {index} is too short")
    return r


def roots_from_consistency(
    first: int, second: int, proof: list[bytes], first_root: bytes
) -> tuple[bytes, bytes]:
    """RFC 9162 section 2.1.4.2: the two roots a consistency proof commits to."""
    if first == 0 or first == second:
        return first_root, first_root
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, first_root)
    if not path:
        raise VerificationFailed("the consistency proof is empty")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationFailed("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationFailed("the consistency proof is too short")
    return fr, sr


class Log:
    """The few auditor endpoints this script reads."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token

    def get(self, path: str, **query: object) -> dict:
        address = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(address, headers={"Authorization": f"Bearer {self.token}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - auditor's URL
            return json.load(response)


def verify(log: Log, name: str, raw_key: bytes, events: int, old_note: str | None) -> list[str]:
    checkpoint = log.get("/v1/audit/checkpoint")
    origin, size, root = verify_checkpoint(checkpoint["note"], name, raw_key)
    said = [f"checkpoint of {origin}: {size} entries, root {root.hex()}, signature verified"]
    items = log.get("/v1/audit/events", limit=max(1, min(events, 500)))["items"]
    for item in items[:events]:
        if item["index"] >= size:
            break
        leaf = leaf_hash(base64.b64decode(item["leaf"]))
        proof = log.get("/v1/audit/proofs/inclusion", index=item["index"], tree_size=size)
        if bytes.fromhex(proof["leaf_hash"]) != leaf:
            raise VerificationFailed(f"event {item['index']}: served leaf hash differs")
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        if root_from_inclusion(item["index"], size, leaf, path) != root:
            raise VerificationFailed(f"event {item['index']} is not in the signed tree")
    said.append(f"inclusion of {min(len(items), events)} events verified")
    if old_note is not None:
        _, old_size, old_root = verify_checkpoint(old_note, name, raw_key)
        if old_size > size:
            raise VerificationFailed("the log shrank since the kept checkpoint")
        proof = log.get("/v1/audit/proofs/consistency", first=old_size, second=size)["proof"]
        old, new = roots_from_consistency(
            old_size, size, [bytes.fromhex(h) for h in proof], old_root
        )
        if old != old_root or new != root:
            raise VerificationFailed("the log was rewritten since the kept checkpoint")
        said.append(f"consistency with the kept checkpoint of {old_size} entries verified")
    return said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True, help="an auditor's API key")
    parser.add_argument("--verifier-key", required=True, help="the key you pinned")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--old-checkpoint", help="a checkpoint note you kept earlier")
    args = parser.parse_args(argv)
    old = open(args.old_checkpoint, encoding="utf-8").read() if args.old_checkpoint else None
    try:
        name, raw_key = parse_verifier_key(args.verifier_key)
        for line in verify(Log(args.url, args.token), name, raw_key, args.events, old):
            print(line)
    except VerificationFailed as failure:
        print(f"FAILED: {failure}")
        return 1
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
