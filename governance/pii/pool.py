"""Scan values in worker processes, each building the analyzer once.

Why processes: analysis is CPU-bound Python (spaCy, regexes, validators), so threads give
nothing (the GIL); a scan uses the cores through ``processes`` workers. Why the spawn start
method: the parent holds database connections, the key service and task-runner threads;
a forked child would inherit copies of them (and of locks held at the time of the fork).
A spawned worker starts a fresh interpreter, imports ``governance.pii`` (which sets the
no-network environment before Presidio loads, as in the parent, whose environment it
inherits as well) and builds its analyzer once from the picklable :class:`EngineSpec`.

Flow: :meth:`ScanPool.submit` splits one field's values into contiguous chunks, one per
worker (fewer when there are few values), and returns at once; :meth:`PendingScan.result`
puts the chunks' entity lists back together in the values' order. Submitting every field of
a collection before collecting any keeps all workers busy across fields. With
``processes == 1`` there is no pool: the values are scanned in the calling process, with
its analyzer, when submitted.

What crosses the pipe: the values to the workers (decrypted by the parent in memory only;
pickled onto the pipe, never written anywhere) and, back, entity lists (type, positions,
score, recognizer name): never matched text.
"""

from __future__ import annotations

import os
import queue
import resource
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import TracebackType
from typing import Any

from governance.pii.engine import EngineSpec
from governance.pii.models import Entity
from governance.pii.plans import FieldPlan, scan_values

# No chunk of fewer values: below that, a field's scan takes about as long as the messages
# that splitting it adds (a fraction of a millisecond each).
MIN_CHUNK = 16
# Fictional values that make a new worker load the lazy data of its validators (phone
# metadata, the e-mail suffix list, the card and IBAN checks) before its first real chunk.
_WARM_UP = [
    "Call Ryan Gallagher on +4915112345678 or ryan@mail.example, card 4111111111111111, "
    "IBAN DE89370400440532013000"
] * 4


@dataclass
class WorkerUsage:
    """What the workers spent on scanning (not on building their analyzers): CPU seconds
    summed over workers, and each worker's peak resident memory (KiB, by process id)."""

    cpu_seconds: float = 0.0
    peak_rss_kb: dict[int, int] = field(default_factory=dict)


class PendingScan:
    """One field's scan, submitted; :meth:`result` waits for it."""

    def __init__(
        self,
        parts: Sequence[Future[Any]] = (),
        usage: WorkerUsage | None = None,
        found: list[list[Entity]] | None = None,
    ) -> None:
        self._parts = list(parts)
        self._usage = usage
        self._found = found

    def result(self) -> list[list[Entity]]:
        """The entities of each value, in the order the values were submitted."""
        if self._found is None:
            found: list[list[Entity]] = []
            for part in self._parts:
                entities, cpu, pid, rss_kb = part.result()
                if self._usage is not None:
                    self._usage.cpu_seconds += cpu
                    self._usage.peak_rss_kb[pid] = max(rss_kb, self._usage.peak_rss_kb.get(pid, 0))
                found += entities
            self._found = found
        return self._found


class ScanPool:
    """``processes`` worker processes (or, for 1, the calling process) that scan values.

    Use it as a context manager: the workers exit when the block ends, also on an error;
    futures not yet started are cancelled.
    """

    def __init__(self, spec: EngineSpec, processes: int) -> None:
        if processes < 1:
            raise ValueError("a scan needs at least one process")
        self.spec = spec
        self.processes = processes
        self.usage = WorkerUsage()
        self._executor: ProcessPoolExecutor | None = None
        self._ready: Any = None
        if processes > 1:
            context = get_context("spawn")
            self._ready = context.Queue()
            self._executor = ProcessPoolExecutor(
                processes,
                mp_context=context,
                initializer=_init_worker,
                initargs=(spec, self._ready),
            )

    def start(self, *, wait: bool = False, timeout: float = 600.0) -> None:
        """Start every worker now, so that their analyzers load while the caller does other
        work (a scan samples its first collection meanwhile); with ``wait``, return only
        once each worker has built its analyzer (a benchmark then times the scan alone)."""
        if self._executor is None:
            self.spec.engine()
            return
        # With the spawn method, each submission that finds no idle worker starts one.
        started = [self._executor.submit(os.getpid) for _ in range(self.processes)]
        if not wait:
            return
        deadline = time.monotonic() + timeout
        ready = 0
        while ready < self.processes:
            try:
                self._ready.get(timeout=1.0)
                ready += 1
            except queue.Empty:
                error = next((f.exception() for f in started if f.done() and f.exception()), None)
                if error is not None:  # a worker could not build its analyzer
                    raise error from None
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        "the scan workers did not build their analyzers in time"
                    ) from None

    def submit(self, plan: FieldPlan, values: Sequence[str]) -> PendingScan:
        """Start scanning one field's values; the result keeps their order."""
        if plan.method == "typed" or not values:
            return PendingScan(found=[[] for _ in values])  # nothing to analyse
        if self._executor is None:
            return PendingScan(found=scan_values(self.spec.engine(), plan, values))
        chunks = max(1, min(self.processes, len(values) // MIN_CHUNK))
        size = -(-len(values) // chunks)
        parts = [
            self._executor.submit(_scan_chunk, self.spec, plan, list(values[i : i + size]))
            for i in range(0, len(values), size)
        ]
        return PendingScan(parts, self.usage)

    def scan(self, plan: FieldPlan, values: Sequence[str]) -> list[list[Entity]]:
        return self.submit(plan, values).result()

    def close(self) -> None:
        """Stop the workers (waiting for them to exit) and cancel what has not started."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._ready is not None:
            self._ready.close()
            self._ready.join_thread()
            self._ready = None

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- in the worker processes ---------------------------------------------------------------
def _init_worker(spec: EngineSpec, ready: Any) -> None:
    """Build this worker's analyzer once, warm it, and say so."""
    engine = spec.engine()
    engine.analyze_batch(_WARM_UP, free_text=True)
    engine.analyze_batch(_WARM_UP, free_text=False)
    ready.put(os.getpid())


def _scan_chunk(
    spec: EngineSpec, plan: FieldPlan, values: list[str]
) -> tuple[list[list[Entity]], float, int, int]:
    """Entities of a chunk of values, the CPU time it took, and this worker's id and peak
    memory; the analyzer is the one the initializer built (``engine_for`` keeps it)."""
    cpu = time.process_time()
    found = scan_values(spec.engine(), plan, values)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return found, time.process_time() - cpu, os.getpid(), rss_kb
