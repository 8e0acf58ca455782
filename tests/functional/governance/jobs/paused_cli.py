"""The `governance` CLI with the request executor paused after one step commits, so a test
can kill the process (a Celery worker, `governance serve`) in the middle of an erasure.

The pause is a test harness around the real executor's own checkpoint hook: the process
writes its pid to ``GOVERNANCE_TEST_PAUSE_MARKER`` once the step ``GOVERNANCE_TEST_PAUSE_AT``
committed, then waits to be killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from governance.cli import main
from governance.requests.services import RequestExecutor

STEP = os.environ.get("GOVERNANCE_TEST_PAUSE_AT")
MARKER = os.environ.get("GOVERNANCE_TEST_PAUSE_MARKER", "")

if STEP:
    original = RequestExecutor._checkpoint

    def paused(self: RequestExecutor, step: str, moment: str) -> None:
        original(self, step, moment)
        if step == STEP and moment == "after_commit":
            Path(MARKER).write_text(str(os.getpid()))
            time.sleep(3600)

    RequestExecutor._checkpoint = paused  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
