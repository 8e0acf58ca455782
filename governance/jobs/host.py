"""What the jobs machinery needs of the process that runs it: its settings, sessions, audit
log and policy version, the key service (to tell a key-store outage from a database one)
and the handlers the domains registered. ``governance.runtime.Runtime`` is the one host; the
jobs package depends on this shape so that the runtime can build its runner."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from audit.log import AuditLog
from governance.jobs.handlers import JobHandlers
from governance.keys.services import KeyService
from governance.settings import Settings
from policies.loader import PolicySet


class JobHost(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def policy(self) -> PolicySet: ...

    @property
    def keys(self) -> KeyService: ...

    @property
    def job_handlers(self) -> JobHandlers: ...
