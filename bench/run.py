"""Run every benchmark and print its figures side by side: ``python -m bench.run [--quick]``.

A benchmark is a module with ``NAME`` and ``run(quick, progress) -> list[Row]``; each row is
one measure with a figure per column (a database backend) and the target it is held to.
Progress goes to stderr; to stdout, one table per benchmark with only the columns it
measured, each table at most ``WIDTH`` characters wide (long cells wrap within their
column), or with ``--json`` one JSON document for tooling.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import Any

from bench import (
    audit_bench,
    consent_bench,
    console_bench,
    jobs_bench,
    keys_bench,
    pii_bench,
    policy_bench,
    requests_bench,
    retention_bench,
)

BENCHMARKS = {
    audit_bench.NAME: audit_bench,
    keys_bench.NAME: keys_bench,
    consent_bench.NAME: consent_bench,
    pii_bench.NAME: pii_bench,
    policy_bench.NAME: policy_bench,
    requests_bench.NAME: requests_bench,
    jobs_bench.NAME: jobs_bench,
    retention_bench.NAME: retention_bench,
    console_bench.NAME: console_bench,
}


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
        wrapped = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
                   for c, w in zip(cells, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        return [_GAP.join((w[n] if n < len(w) else "").ljust(widths[i])
                          for i, w in enumerate(wrapped)).rstrip() for n in range(height)]

    rule = _GAP.join("-" * w for w in widths)
    return "\n".join([*fmt(headers), rule, *(text for line in lines for text in fmt(line))])


def benchmark_table(rows: Sequence[Any]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row.cells if c not in columns]
    headers = ["measure", *columns, "target"]
    return table(headers, [[row.measure, *(row.cells.get(c, "-") for c in columns), row.target]
                           for row in rows])


def as_json(results: Sequence[tuple[str, Sequence[Any]]], run: dict[str, Any]) -> str:
    return json.dumps({
        "run": run,
        "benchmarks": {name: [{"measure": row.measure.strip(), "cells": dict(row.cells),
                               "target": row.target} for row in rows]
                       for name, rows in results},
    }, indent=2, ensure_ascii=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 2 minutes)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS),
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON document instead of tables")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results = []
    for name, module in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        results.append((name, module.run(quick=args.quick)))

    run = {"kind": "quick" if args.quick else "full",
           "python": f"{platform.python_implementation()} {platform.python_version()}",
           "cpus": os.cpu_count(), "seconds": round(time.perf_counter() - started)}
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
