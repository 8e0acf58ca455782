"""The store fixture of the request tests: retention sweeps and holds work on the same
subjects with records in every collection."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from governance.runtime import Runtime
from governance.store.services import RecordStore


@pytest.fixture
def store(session: Session, runtime: Runtime) -> RecordStore:
    return runtime.record_store(session)
