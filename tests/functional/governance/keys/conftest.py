"""Key tests that commit: each gets its own CRM store, key store and key file (SQLite files,
or fresh PostgreSQL databases when the suite runs on PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from governance.runtime import Runtime, open_runtime
from governance.settings import Settings
from tests.conftest import _server_url, fresh_postgres_database
from tests.migrated import migrated, migrated_keystore


@pytest.fixture
def own_runtime(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """own_runtime(name="a", crm_url=None) -> a Runtime on fresh, migrated stores."""
    stack = contextlib.ExitStack()
    runtimes: list[Runtime] = []

    def database(name: str) -> str:
        server = _server_url()
        if server is None:
            return f"sqlite:///{tmp_path / name}.db"
        return stack.enter_context(contextlib.contextmanager(fresh_postgres_database)(server))

    def make(name: str = "a", *, crm_url: str | None = None) -> Runtime:
        crm = crm_url or database(f"{name}-crm")
        keystore = database(f"{name}-keystore")
        migrated(crm)
        migrated_keystore(keystore)
        settings = Settings.from_env(
            {
                "GOVERNANCE_DATABASE_URL": crm,
                "GOVERNANCE_KEYSTORE_URL": keystore,
                "GOVERNANCE_KEY_FILE": str(tmp_path / name / "kek.json"),
                "GOVERNANCE_VAR_DIR": str(tmp_path / name),
            }
        )
        rt = open_runtime(settings)
        runtimes.append(rt)
        return rt

    yield make
    for rt in runtimes:
        rt.dispose()
    stack.close()


def environment(rt: Runtime) -> dict[str, str]:
    """The settings of ``rt`` as environment variables, for a subprocess."""
    s = rt.settings
    return {
        "GOVERNANCE_DATABASE_URL": s.database_url,
        "GOVERNANCE_KEYSTORE_URL": s.keystore_url,
        "GOVERNANCE_KEY_FILE": str(s.key_file),
        "GOVERNANCE_AUDIT_SIGNING_KEY_FILE": str(s.audit_signing_key_file),
        "GOVERNANCE_VAR_DIR": str(s.key_file.parent),
    }


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"
