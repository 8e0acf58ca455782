"""Run every benchmark and print its figures side by side: ``python -m bench.run [--quick]``.

A benchmark is a module with ``NAME`` and ``run(quick, progress) -> list[Row]``; each row is
one measure with a figure per column (a database backend) and the target it is held to.
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence

from bench import (
    audit_bench,
    consent_bench,
    keys_bench,
    pii_bench,
    policy_bench,
    requests_bench,
)

BENCHMARKS = {
    audit_bench.NAME: audit_bench,
    keys_bench.NAME: keys_bench,
    consent_bench.NAME: consent_bench,
    pii_bench.NAME: pii_bench,
    policy_bench.NAME: policy_bench,
    requests_bench.NAME: requests_bench,
}


def table(headers: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), rule, *(fmt(line) for line in lines)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 2 minutes)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS),
                        help="run only this benchmark (repeatable)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results = []
    for name, module in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        results.append((name, module.run(quick=args.quick)))

    columns: list[str] = []
    for _, rows in results:
        for row in rows:
            columns += [c for c in row.cells if c not in columns]
    headers = ["benchmark", "measure", *columns, "target"]
    lines = [[name, row.measure, *(row.cells.get(c, "-") for c in columns), row.target]
             for name, rows in results for row in rows]
    print()
    print(f"{'quick' if args.quick else 'full'} run on {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{time.perf_counter() - started:.0f} s")
    print(table(headers, lines))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
