"""Runs a KEK rotation's rewrap in a background thread of the serving process.

The embedded default has no task queue, so long key work runs in-process (DESIGN: "run
in-process on the embedded default"). The job itself keeps its progress in the key store,
so if the process dies the next start resumes it (``resume_pending``); several workers
resuming the same job is safe (see rotation.py).
"""

from __future__ import annotations

import logging
import threading

from governance.keys.events import KeyAuditor
from governance.keys.keystore import KeyJob
from governance.keys.rotation import ROTATION, run_rotation
from governance.keys.services import KeyService

logger = logging.getLogger(__name__)


class RotationRunner:
    def __init__(self, keys: KeyService, events: KeyAuditor) -> None:
        self.keys = keys
        self.events = events
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, job: KeyJob, *, resumed: bool) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return  # this process already works on the (single) running job
            self._thread = threading.Thread(
                target=self._run, args=(job, resumed), name="kek-rotation", daemon=True
            )
            self._thread.start()

    def resume_pending(self) -> None:
        job = self.keys.keystore.running_job(ROTATION)
        if job is not None:
            logger.info("resuming KEK rotation job %s", job.id)
            self.start(job, resumed=True)

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, job: KeyJob, resumed: bool) -> None:
        try:
            report = run_rotation(self.keys, job, self.events, resumed=resumed)
            logger.info("KEK rotation job %s done: %d data keys rewrapped",
                        job.id, report.rewrapped)
        except Exception as exc:  # noqa: BLE001 - a background thread must log; the job resumes later
            # The type only: driver errors render their SQL parameters (wrapped keys).
            logger.error("KEK rotation job %s stopped (%s); it resumes on the next start",
                         job.id, type(exc).__name__)
