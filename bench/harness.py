"""What the benchmarks share: a figure's row, throwaway SQLite and PostgreSQL databases, a
runtime on one of them, and the report (tables no wider than a terminal, or JSON).

Every benchmark imports from here and from nothing else in ``bench/``; ``bench.run`` alone
knows them all. A benchmark is a module with ``NAME`` and ``run(quick, progress) -> list[Row]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from audit.checkpoint import NoteSigner, generate_signing_key, load_signing_key
from audit.log import AuditLog
from governance.db import make_engine, make_session_factory
from governance.keys.services import FieldCrypto
from governance.migrate import upgrade, upgrade_keystore
from governance.runtime import Runtime, open_key_service
from governance.settings import PACKAGED_POLICY_DIR, Settings
from governance.store.schema import CrmTables
from policies.loader import load_policy_set

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SQLITE, POSTGRES = "SQLite", "PostgreSQL"
ORIGIN = "bench.crm-privacy-gateway.example/audit"


@dataclass
class Row:
    """One measure; ``cells`` maps a column (a backend) to its figure as printed."""

    measure: str
    cells: dict[str, str] = field(default_factory=dict)
    target: str = ""


# -- databases ------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(directory: Path, name: str) -> Iterator[str]:
    url = f"sqlite:///{directory / name}.db"
    upgrade(url)
    yield url


def postgres_server(url: str) -> str | None:
    """The server URL (psycopg driver) if a connection succeeds, else None."""
    server = make_url(url).set(drivername="postgresql+psycopg")
    engine = create_engine(server, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - unreachable for any reason: the column says so
        return None
    finally:
        engine.dispose()
    return server.render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    url = make_url(server)
    name = f"gov_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        db_url = url.set(database=name).render_as_string(hide_password=False)
        upgrade(db_url)
        yield db_url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_runtime(url: str, directory: Path) -> Runtime:
    """A runtime on the database at ``url`` with its keys and signing key under
    ``directory``, put together by hand (no settings file, the packaged policy)."""
    settings = Settings.from_env(
        {
            "GOVERNANCE_DATABASE_URL": url,
            "GOVERNANCE_VAR_DIR": str(directory),
            "GOVERNANCE_KEY_FILE": str(directory / "kek.json"),
        }
    )
    key = directory / "signing-key.pem"
    if not key.exists():
        generate_signing_key(key)
    policy = load_policy_set(PACKAGED_POLICY_DIR)
    engine = make_engine(url)
    upgrade_keystore(settings.keystore_url)
    keys = open_key_service(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        policy=policy,
        tables=CrmTables(policy.datamap),
        audit=AuditLog(NoteSigner(ORIGIN, load_signing_key(key)), ORIGIN),
        keys=keys,
        crypto=FieldCrypto(keys, policy.datamap),
    )


# -- the report ---------------------------------------------------------------------------

WIDTH = 100
_GAP = "  "
_MIN_COLUMN = 10


def table(headers: list[str], lines: list[list[str]], width: int = WIDTH) -> str:
    """A plain-text table no wider than ``width``: the widest columns are narrowed first
    and their cells wrap onto more lines of the same row."""
    rows = [headers, *lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    budget = width - len(_GAP) * (len(headers) - 1)
    while sum(widths) > budget:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= _MIN_COLUMN:
            break  # too many columns to fit; keep them readable rather than 3 wide
        widths[widest] -= 1

    def fmt(cells: list[str]) -> list[str]:
        wrapped = [
            textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
            for c, w in zip(cells, widths, strict=True)
        ]
        height = max(len(w) for w in wrapped)
        return [
            _GAP.join(
                (w[n] if n < len(w) else "").ljust(widths[i]) for i, w in enumerate(wrapped)
            ).rstrip()
            for n in range(height)
        ]

    rule = _GAP.join("-" * w for w in widths)
    return "\n".join([*fmt(headers), rule, *(text for line in lines for text in fmt(line))])


def benchmark_table(rows: Sequence[Any]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row.cells if c not in columns]
    headers = ["measure", *columns, "target"]
    return table(
        headers,
        [[row.measure, *(row.cells.get(c, "-") for c in columns), row.target] for row in rows],
    )


def as_json(results: Sequence[tuple[str, Sequence[Any]]], run: dict[str, Any]) -> str:
    return json.dumps(
        {
            "run": run,
            "benchmarks": {
                name: [
                    {"measure": row.measure.strip(), "cells": dict(row.cells), "target": row.target}
                    for row in rows
                ]
                for name, rows in results
            },
        },
        indent=2,
        ensure_ascii=False,
    )


def run_benchmarks(
    benchmarks: Mapping[str, Any],
    argv: Sequence[str] | None = None,
    *,
    description: str | None = None,
) -> int:
    """Run the benchmarks (modules with ``NAME`` and ``run``) the arguments select; print
    their tables, or one JSON document. ``python -m bench.run`` runs them all; a benchmark
    run as a module runs itself alone, through this same report."""
    parser = argparse.ArgumentParser(prog="bench.run", description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 2 minutes)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(benchmarks),
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the figures as one JSON document instead of tables",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results = []
    for name, module in benchmarks.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        results.append((name, module.run(quick=args.quick)))

    run = {
        "kind": "quick" if args.quick else "full",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started),
    }
    if args.json:
        print(as_json(results, run))
        return 0
    print()
    print(f"{run['kind']} run on {run['python']}, {run['cpus']} CPU(s), {run['seconds']} s")
    for name, rows in results:
        print()
        print(f"== {name}")
        print(benchmark_table(rows))
    return 0
