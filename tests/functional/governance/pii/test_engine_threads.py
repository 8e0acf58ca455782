"""The process's analyzer shared by a server worker's threads (issue 26 item 11): analyses
running at the same time give what each gives alone. spaCy's memory zones, which the engine
opens around each pass, must not overlap: one that ends frees what another pass still uses.
The real engine and model, real threads."""

from __future__ import annotations

import threading

from governance.pii.engine import engine_for
from governance.settings import DEFAULT_PII_MODEL, PII_CONFIG_FILE

NOTES = [
    f"Call {first} {last} back on +1 415 555 01{i:02d} or write to "
    f"{first.lower()}.{last.lower()}@mail.example about invoice {i} and the Zq{i}xv{i * 7}k "
    f"order; {first} said the courier in Ulm{i}berg lost it."
    for i, (first, last) in enumerate(
        [
            ("Ada", "Okafor"),
            ("Grace", "Lindqvist"),
            ("Ryan", "Gallagher"),
            ("Mei", "Tanaka"),
            ("Omar", "Haddad"),
            ("Lena", "Kowalski"),
        ]
        * 4
    )
]


def test_analyses_in_parallel_threads_find_what_each_finds_alone() -> None:
    engine = engine_for(PII_CONFIG_FILE, DEFAULT_PII_MODEL)
    alone = [engine.analyze(note) for note in NOTES]
    found: list[list[object]] = [[] for _ in range(8)]
    failures: list[BaseException] = []

    def analyse(slot: int) -> None:
        try:
            for _ in range(5):
                for i, note in enumerate(NOTES):
                    if i % 8 == slot % 8 or slot % 2:
                        found[slot].append((i, engine.analyze(note)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=analyse, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)

    assert not failures, failures
    for results in found:
        for i, entities in results:
            assert entities == alone[i], NOTES[i]
