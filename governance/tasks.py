"""Task runners: how long work (store scans, data-subject request execution) leaves the
request that asked for it. Chosen by ``GOVERNANCE_TASK_RUNNER``; a Celery runner would
implement the same ``submit``.

A job must find its state committed when it starts, so callers submit it after their unit of
work commits (``api``: on response close). Every job records its own progress and failure in
its own tables, and resumes from them when run again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class InlineRunner:
    """Runs a job in the caller's thread (tests, the CLI)."""

    def submit(self, job: Callable[[], None]) -> None:
        job()


class ThreadRunner:
    """The embedded default's task runner: one daemon thread per job, in this process.

    A job that dies with the process stays unfinished in its table and is resumed by its
    CLI command (``governance pii scan --resume``, ``governance requests execute``); a
    Celery runner would retry it instead."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def submit(self, job: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                job()
            except Exception:  # noqa: BLE001, S110 - the job recorded its failure state
                pass

        thread = threading.Thread(target=guarded, name="governance-task", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
