"""A background thread that keeps integrating queued audit entries into the tree.

Each worker process runs one; they compete for the integrator lock without waiting
(``wait=False``), so exactly one integrates at a time and the others skip that round. It
also signs a checkpoint every ``checkpoint_every`` seconds when the tree has grown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from audit.log import AuditLog

log = logging.getLogger("audit.integrator")


class BackgroundIntegrator:
    def __init__(
        self,
        sessions: Callable[[], Session],
        audit_log: AuditLog,
        *,
        interval: float = 0.5,
        checkpoint_every: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.log = audit_log
        self.interval = interval
        self.checkpoint_every = checkpoint_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_checkpoint = 0.0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-integrator", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> int:
        sign = time.monotonic() - self._last_checkpoint >= self.checkpoint_every
        peek = self.sessions()
        try:
            # A read first: an idle log costs no write (on SQLite, no write lock) per round.
            if not sign and self.log.pending(peek) == 0:
                return 0
        finally:
            peek.close()
        session = self.sessions()
        try:
            result = self.log.integrate(session, wait=False, checkpoint=sign)
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()
        if sign and not result.locked_out:
            self._last_checkpoint = time.monotonic()
        return result.integrated

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - keep integrating after a passing fault
                log.warning("audit integration round failed: %s", type(exc).__name__)
