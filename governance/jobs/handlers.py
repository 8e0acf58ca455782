"""What each kind of job does, as each domain registers it where the process is put together
(``governance.runtime``): the jobs package runs, retries and buries jobs, and knows no
domain service.

A handler is a thin call into the service that owns the work; it holds no state and may be
called again for the same job after a crash (the services resume from their own records).
It raises :class:`governance.jobs.work.JobFailed` when the work cannot succeed by running
again (the officer has to act), anything else to be retried. A domain may also say when a
job's half-done work must never be given up (``must_finish``) and what a dead job means for
its records (``on_dead``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from governance.jobs.models import Job

# Each takes the process's shared parts first (``governance.shared.Shared``: the runtime).
Handler = Callable[[Any, Job], None]
MustFinish = Callable[[Any, Job], bool]
OnDead = Callable[[Any, Session, Job], None]


class UnknownJobKind(KeyError):
    """A job of a kind no domain registered here: it is never run (and dies at its cap)."""


@dataclass
class JobHandlers:
    """kind -> handler, filled once per process by the domains that own the work."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    must_finish_checks: dict[str, MustFinish] = field(default_factory=dict)
    on_dead_hooks: dict[str, OnDead] = field(default_factory=dict)

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        must_finish: MustFinish | None = None,
        on_dead: OnDead | None = None,
    ) -> None:
        self.handlers[str(kind)] = handler
        if must_finish is not None:
            self.must_finish_checks[str(kind)] = must_finish
        if on_dead is not None:
            self.on_dead_hooks[str(kind)] = on_dead

    def run(self, host: Any, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            raise UnknownJobKind(job.kind)
        handler(host, job)

    def must_finish(self, host: Any, job: Job) -> bool:
        """Whether the job's work is half-done in a way that must not be left (an erasure
        whose rows are gone and whose key is not yet shredded): it waits out any outage."""
        check = self.must_finish_checks.get(job.kind)
        return check is not None and check(host, job)

    def on_dead(self, host: Any, session: Session, job: Job) -> None:
        """A dead job's work shows it where its users look (the owning domain says how)."""
        hook = self.on_dead_hooks.get(job.kind)
        if hook is not None:
            hook(host, session, job)
