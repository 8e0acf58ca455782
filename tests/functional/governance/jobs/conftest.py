from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from governance.runtime import Runtime
from governance.store.services import RecordStore


@pytest.fixture
def store(session: Session, runtime: Runtime) -> RecordStore:
    return runtime.record_store(session)
