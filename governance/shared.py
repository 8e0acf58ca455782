"""What a process shares with the domain services that still take it whole.

``governance.runtime.Runtime`` builds these once per process and is the one implementation;
the services depend on this shape, not on the module that builds it, so that the place
where a process is put together (``runtime.py``: the job handlers each domain registers,
the data-access path) may import them without an import circle. A service that needs less
should take less (a session, the policy set, the audit log, the actor), as the users, keys
and jobs services do.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from audit.log import AuditLog
from governance.keys.services import FieldCrypto, KeyService
from governance.settings import Settings
from governance.store.schema import CrmTables
from governance.store.services import RecordStore
from policies.loader import PolicySet


class Shared(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def read_sessions(self) -> sessionmaker[Session] | None: ...

    @property
    def policy(self) -> PolicySet: ...

    @property
    def tables(self) -> CrmTables: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def keys(self) -> KeyService: ...

    @property
    def crypto(self) -> FieldCrypto: ...

    def record_store(self, session: Session) -> RecordStore: ...
