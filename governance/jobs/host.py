"""What the jobs machinery needs of the process that runs it: its settings, sessions, audit
log and policy version, the key store's engine (to tell a key-store outage from a database
one) and the handlers the domains registered. ``governance.runtime.Runtime`` is the one host; the
jobs package depends on this shape so that the runtime can build its runner."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from audit.log import AuditLog
from governance.jobs.handlers import JobHandlers
from governance.settings import Settings
from policies.loader import PolicySet


class KeyStoreEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


class KeysWithAStore(Protocol):
    """Of the key service, only its store's engine: asked whether it answers."""

    @property
    def keystore(self) -> KeyStoreEngine: ...


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
    def keys(self) -> KeysWithAStore: ...

    @property
    def job_handlers(self) -> JobHandlers: ...
