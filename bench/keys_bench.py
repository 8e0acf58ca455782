"""Field encryption and KEK rotation benchmark.

- Field path: the store's own sealing and opening (``FieldCrypto.seal_cells`` for a
  customer's encrypted fields, blind indexes included, then ``FieldCrypto.open_value`` for
  each) against the raw ``cryptography`` AESGCM calls on the same plaintext bytes with a
  fresh nonce and associated data of the same length: the ceiling. Both in one process,
  one after the other, on the same values.
- Rotation: ``rotate`` of a key store holding N subject keys (100,000 in the full run), on
  SQLite and, when reachable, PostgreSQL (``GOVERNANCE_BENCH_PG_URL``).

Targets (from the issue): the store's field path within 3x of raw AESGCM; rotation of
100,000 subjects in under a minute on SQLite.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.harness import DEFAULT_PG_URL, Row, postgres_database, postgres_server
from governance.db import make_engine
from governance.keys.keystore import KeyStore
from governance.keys.local import open_local_provider
from governance.keys.rotation import rotate
from governance.keys.services import FieldCrypto, KeyService
from governance.migrate import upgrade_keystore
from governance.settings import PACKAGED_POLICY_DIR
from governance.store.values import coerce, plain_encoder
from policies.loader import load_policy_set

NAME = "keys"
RATIO_TARGET = 3.0
ROTATION_TARGET_S = 60.0
SQLITE, POSTGRES = "SQLite", "PostgreSQL"

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Fictional-Example",
    "email": "ada.fictional@mail.example",
    "phone": "+4915123456789",
    "street": "Beispielstrasse 12",
    "postal_code": "10115",
    "date_of_birth": "1990-04-01",
    "gender": "female",
}


def _keystore(url: str, key_file: Path) -> KeyService:
    upgrade_keystore(url)
    provider, _ = open_local_provider(key_file, None)
    return KeyService(
        provider, KeyStore(make_engine(url, write_lock_at_begin=False, secure_delete=True))
    )


def field_path(keys: KeyService, rounds: int) -> tuple[float, float]:
    """(fields/s through the store's path, fields/s of raw AESGCM) on the same values."""
    datamap = load_policy_set(PACKAGED_POLICY_DIR).datamap
    crypto = FieldCrypto(keys, datamap)
    collection = datamap.collections["customers"]
    typed = {n: coerce(collection.fields[n], v) for n, v in CUSTOMER.items()}
    subject = uuid.uuid4().hex
    key = keys.data_keys([subject], create=True)[subject]
    assert key is not None
    record_ids = [uuid.uuid4().hex for _ in range(rounds)]
    names = list(typed)

    started = time.perf_counter()
    for record_id in record_ids:
        cells = dict(typed)
        crypto.seal_cells("customers", record_id, key, cells)
        for name in names:
            crypto.open_value("customers", name, record_id, key, cells[name])
    ours = rounds * len(names) / (time.perf_counter() - started)

    # The very bytes the store's path seals, so both sides encrypt the same plaintexts.
    plaintexts = [plain_encoder(collection.fields[n])(typed[n]) for n in names]
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    aad = b"crm-gw/field/v1\x00customers\x00email\x00" + record_ids[0].encode() + b"\x00" + bytes(8)
    started = time.perf_counter()
    for _ in record_ids:
        for plaintext in plaintexts:
            nonce = os.urandom(12)
            aead.decrypt(nonce, aead.encrypt(nonce, plaintext, aad), aad)
    raw = rounds * len(names) / (time.perf_counter() - started)
    return ours, raw


def rotation(keys: KeyService, subjects: int, say: Callable[[str], None]) -> float:
    """Seconds to rotate the KEK of a key store holding ``subjects`` data keys."""
    say(f"  creating {subjects:,} data keys")
    for at in range(0, subjects, 5000):
        keys.keystore.insert(
            [keys._new_key(f"{n:032x}") for n in range(at, min(at + 5000, subjects))]
        )
    started = time.perf_counter()
    report = rotate(keys, None)
    seconds = time.perf_counter() - started
    assert report.rewrapped == subjects and keys.keystore.count_by_version() == {
        report.kek_version: subjects
    }
    return seconds


def run(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Row]:
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    rounds = 5_000 if quick else 25_000
    subjects = 10_000 if quick else 100_000
    pg = postgres_server(os.environ.get("GOVERNANCE_BENCH_PG_URL", DEFAULT_PG_URL))
    ours_row = Row("fields sealed+opened/s, store path (FieldCrypto, blind indexes incl.)")
    raw_row = Row("fields encrypted+decrypted/s, raw AESGCM (ceiling)")
    ratio_row = Row("raw AESGCM / store path", target=f"<= {RATIO_TARGET:.0f}x")
    rotate_row = Row(
        f"KEK rotation of {subjects:,} subjects, seconds",
        target=f"< {ROTATION_TARGET_S:.0f} s on SQLite (100,000 subjects)",
    )
    rate_row = Row("KEK rotation, data keys rewrapped/s")
    with tempfile.TemporaryDirectory(prefix="keys-bench-") as tmp:
        directory = Path(tmp)
        keys = _keystore(f"sqlite:///{directory / 'keystore.db'}", directory / "kek.json")
        say(f"SQLite: field path, {rounds:,} customers x {len(CUSTOMER)} fields")
        ours, raw = field_path(keys, rounds)
        ours_row.cells[SQLITE] = f"{ours:,.0f}/s"
        raw_row.cells[SQLITE] = f"{raw:,.0f}/s"
        ratio = raw / ours
        ratio_row.cells[SQLITE] = f"{ratio:.2f}x  " + (
            "target met" if ratio <= RATIO_TARGET else "above target"
        )
        say(f"SQLite: rotation of {subjects:,} subjects")
        seconds = rotation(
            _keystore(f"sqlite:///{directory / 'rotation.db'}", directory / "kek2.json"),
            subjects,
            say,
        )
        met = "  target met" if seconds < ROTATION_TARGET_S else "  above target"
        rotate_row.cells[SQLITE] = f"{seconds:.1f} s" + (met if subjects >= 100_000 else "")
        rate_row.cells[SQLITE] = f"{subjects / seconds:,.0f}/s"
        if pg:
            with postgres_database(pg) as url:
                say(f"PostgreSQL: rotation of {subjects:,} subjects")
                pg_keys = _keystore(url, directory / "kek3.json")
                seconds = rotation(pg_keys, subjects, say)
                pg_keys.keystore.engine.dispose()
                rotate_row.cells[POSTGRES] = f"{seconds:.1f} s"
                rate_row.cells[POSTGRES] = f"{subjects / seconds:,.0f}/s"
        else:
            rotate_row.cells[POSTGRES] = "unreachable"
    return [ours_row, raw_row, ratio_row, rotate_row, rate_row]
