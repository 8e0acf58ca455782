"""Run every benchmark and print its figures side by side: ``python -m bench.run [--quick]``.

A benchmark is a module with ``NAME`` and ``run(quick, progress) -> list[Row]``; each row is
one measure with a figure per column (a database backend) and the target it is held to.
Progress goes to stderr; to stdout, one table per benchmark with only the columns it
measured, each table at most ``WIDTH`` characters wide (long cells wrap within their
column), or with ``--json`` one JSON document for tooling. What the benchmarks share, the
report included, is ``bench.harness``; this module alone knows every benchmark.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

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
from bench.harness import run_benchmarks

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


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmarks(BENCHMARKS, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
