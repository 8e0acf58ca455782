"""The retention package's job: a sweep. Registered where the process is put together
(``governance.runtime``)."""

from __future__ import annotations

from audit.events import Actor
from governance.db import unit_of_work
from governance.jobs.handlers import JobHandlers
from governance.jobs.models import Job
from governance.jobs.service import JobKind
from governance.retention.sweep import RetentionSweep
from governance.shared import Shared


def register(handlers: JobHandlers) -> None:
    handlers.register(JobKind.RETENTION_SWEEP, sweep_retention)


def sweep_retention(runtime: Shared, job: Job) -> None:
    """A requested run (its id is the target), or the scheduler's daily one, which records
    its own run (or resumes the unfinished one) first."""
    sweeper = RetentionSweep(
        runtime, Actor(id=job.requested_by, role=job.requested_role), request_id=job.trace_id
    )
    run_id = job.target_id
    if run_id is None:
        with unit_of_work(runtime.sessions) as session:
            run_id = sweeper.create(session).id
    sweeper.run(run_id)
