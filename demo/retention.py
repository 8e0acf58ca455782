"""The demo's completed retention sweep (see the comment below)."""

from __future__ import annotations

from sqlalchemy import select

from audit.events import Actor
from demo.world import REFERENCE_TIME
from governance.db import unit_of_work
from governance.runtime import Runtime

# -- retention ------------------------------------------------------------------------------
# The demo world's last sweep ran at its "now" (REFERENCE_TIME): what expired since then is
# due in `GET /v1/retention/plan` (and already withheld from reads), and the held subject's
# records are counted as held.


def fill_demo_retention(runtime: Runtime, *, actor: Actor | None = None) -> str | None:
    """Run the demo's completed sweep once; its run id, or None if a run exists already."""
    from governance.retention.models import RetentionRun
    from governance.retention.sweep import RetentionSweep

    sweep = RetentionSweep(runtime, actor or Actor(id="demo", role="operator"))
    with unit_of_work(runtime.sessions) as session:
        if session.scalar(select(RetentionRun.id).limit(1)) is not None:
            return None
        run_id = sweep.create(session, as_of=REFERENCE_TIME).id
    return sweep.run(run_id).id
