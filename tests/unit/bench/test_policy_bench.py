"""The policy benchmark's server CPU probe: a master's workers and their CPU from /proc."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.policy_bench import cpu_seconds, worker_pids


def test_the_probe_finds_a_processs_children_and_reads_the_cpu_they_spend() -> None:
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # noqa: S603
    try:
        assert child.pid in worker_pids(os.getpid())
        first = cpu_seconds([child.pid])[child.pid]
        later = first
        for _ in range(10_000_000):  # until the busy child's next clock tick is counted
            later = cpu_seconds([child.pid])[child.pid]
            if later > first:
                break
        assert later > first >= 0
    finally:
        child.kill()
        child.wait()
