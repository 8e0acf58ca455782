"""The `governance` CLI with the request executor paused after one step commits, so a test
can kill the process (a Celery worker, `governance serve`) in the middle of an erasure.

The pause is a test harness around the real executor's own checkpoint hook (or, with
``rotation-batch``, the rotation's own progress callback after its first batch committed;
with ``sweep:<rule>:<moment>``, a retention sweep's own checkpoint, before that commit):
the process writes its pid to ``GOVERNANCE_TEST_PAUSE_MARKER`` once the step
``GOVERNANCE_TEST_PAUSE_AT`` committed, then waits to be killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cli.main import main
from governance.requests.services import RequestExecutor

STEP = os.environ.get("GOVERNANCE_TEST_PAUSE_AT")
MARKER = os.environ.get("GOVERNANCE_TEST_PAUSE_MARKER", "")

if STEP == "rotation-batch":  # a KEK rotation, after its first committed batch of 50
    import governance.keys.rotation as rotation

    rotate = rotation.run_rotation

    def paused_rotation(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        def progress(done: int) -> None:
            Path(MARKER).write_text(str(os.getpid()))
            time.sleep(3600)

        return rotate(*args, **{**kwargs, "batch_size": 50, "progress": progress})

    rotation.run_rotation = paused_rotation  # type: ignore[assignment]
elif STEP and STEP.startswith("sweep:"):  # a retention sweep, at its checkpoint of that name
    from governance.retention.sweep import RetentionSweep

    build = RetentionSweep.__init__

    def pausing(self: RetentionSweep, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        def checkpoint(name: str, moment: str) -> None:
            if f"sweep:{name}" == STEP:
                Path(MARKER).write_text(str(os.getpid()))
                time.sleep(3600)

        build(self, *args, **{**kwargs, "checkpoint": checkpoint})

    RetentionSweep.__init__ = pausing  # type: ignore[method-assign]
elif STEP:
    original = RequestExecutor._checkpoint

    def paused(self: RequestExecutor, step: str, moment: str) -> None:
        original(self, step, moment)
        if step == STEP and moment == "after_commit":
            Path(MARKER).write_text(str(os.getpid()))
            time.sleep(3600)

    RequestExecutor._checkpoint = paused  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
