"""Test database set-up, as in warehouse: one database per run, migrated once; per test a
connection, an outer transaction and savepoint sessions, rolled back afterwards.

``GOVERNANCE_TEST_DATABASE_URL`` chooses the server: unset -> a SQLite file in a temp dir;
a PostgreSQL URL (e.g. postgresql://postgres@127.0.0.1:5432/test) -> a fresh database is
created on that server for this run and dropped after it.

Under pytest-xdist (``./scripts/test`` runs ``-n``) every worker is a session of its own:
its own databases (fresh names, or files under its own temp dir), key files, free ports,
and Redis database (:func:`redis_db`), so workers share nothing but the servers.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from audit.checkpoint import NoteSigner, generate_signing_key
from audit.log import AuditLog
from governance.db import make_engine
from governance.keys.keystore import KeyStore
from governance.keys.local import open_local_provider
from governance.keys.services import FieldCrypto, KeyService
from governance.migrate import upgrade, upgrade_keystore
from governance.runtime import Runtime
from governance.settings import Settings
from governance.store.schema import CrmTables
from policies.loader import load_policy_set


def _server_url() -> str | None:
    return os.environ.get("GOVERNANCE_TEST_DATABASE_URL") or None


# The fixtures that open a database. ./scripts/test runs tests/unit in the SQLite pass only,
# so a unit test that asks for one of these belongs under tests/functional instead.
DATABASE_FIXTURES = frozenset(
    {
        "engine",
        "connection",
        "sessions",
        "session",
        "runtime",
        "app",
        "http",
        "issue_key",
        "keystore_engine",
        "key_service",
        "crypto",
    }
)
UNIT_TESTS = Path(__file__).resolve().parent / "unit"


def _opens_a_database(item: pytest.Item) -> bool:
    """Whether the test uses one of this module's database fixtures (a test module's own
    fixture of the same name, such as a policy ``engine``, is not one)."""
    info = getattr(item, "_fixtureinfo", None)  # pytest's record of the fixtures it resolved
    if info is None:
        return False
    return any(
        defs[-1].func.__module__ == __name__
        for name, defs in info.name2fixturedefs.items()
        if name in DATABASE_FIXTURES and defs
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    misplaced = [
        item.nodeid
        for item in items
        if item.path.is_relative_to(UNIT_TESTS) and _opens_a_database(item)
    ]
    if misplaced:
        raise pytest.UsageError(
            "unit tests run on SQLite only (./scripts/test); these use a database and belong "
            f"under tests/functional: {misplaced}"
        )


def redis_db() -> int:
    """This test process's Redis database on 127.0.0.1:6379 (the tests flush it): the run's
    base (``GOVERNANCE_TEST_REDIS_DB``, default 11; ./scripts/test gives the SQLite and the
    PostgreSQL runs bases apart) plus the xdist worker's number, so no two processes that
    run at the same time flush each other's queue."""
    base = int(os.environ.get("GOVERNANCE_TEST_REDIS_DB", "11"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    number = base + worker
    assert number <= 15, f"Redis database {number} does not exist (0-15): fewer xdist workers"
    return number


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = _server_url()
    if server is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    yield from fresh_postgres_database(server)


def fresh_postgres_database(server: str) -> Iterator[str]:
    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"gov_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def keystore_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The key store is its own database, on the same server kind as the CRM store."""
    server = _server_url()
    if server is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('keystore') / 'keystore.db'}"
        return
    yield from fresh_postgres_database(server)


@pytest.fixture(scope="session")
def keystore_engine(keystore_url: str) -> Iterator[Engine]:
    upgrade_keystore(keystore_url)
    eng = make_engine(keystore_url, write_lock_at_begin=False, secure_delete=True)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def key_service(key_dir: Path, keystore_engine: Engine) -> KeyService:
    """Committed key-store writes are shared by the session's tests; subject ids are fresh
    uuids per test, so no test sees another's keys. Tests that rotate or count keys build
    their own key store (tests/functional/governance/keys)."""
    provider, _ = open_local_provider(key_dir / "kek.json", None)
    return KeyService(provider, KeyStore(keystore_engine))


@pytest.fixture(scope="session")
def crypto(key_service: KeyService, policy) -> FieldCrypto:  # noqa: ANN001
    return FieldCrypto(key_service, policy.datamap)


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    s = sessions()
    yield s
    s.close()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def settings(database_url: str, keystore_url: str, key_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "GOVERNANCE_DATABASE_URL": database_url,
            "GOVERNANCE_KEYSTORE_URL": keystore_url,
            "GOVERNANCE_KEY_FILE": str(key_dir / "kek.json"),
            "GOVERNANCE_VAR_DIR": str(key_dir),
        }
    )


@pytest.fixture(scope="session")
def policy(settings: Settings):  # noqa: ANN201
    return load_policy_set(settings.policy_dir)


@pytest.fixture(scope="session")
def pii_engine(settings: Settings):  # noqa: ANN201
    """The process's one PII analyzer, built once for the whole test session."""
    from governance.pii.engine import engine_for

    return engine_for(settings.pii_config_file, settings.pii_model)


@pytest.fixture(scope="session")
def signer(key_dir: Path) -> NoteSigner:
    key = generate_signing_key(key_dir / "audit-signing-key.pem")
    return NoteSigner("crm-privacy-gateway.example/audit", key)


@pytest.fixture
def audit_log(signer: NoteSigner) -> AuditLog:
    return AuditLog(signer, "crm-privacy-gateway.example/audit")


@pytest.fixture
def runtime(settings, engine, sessions, policy, audit_log, key_service, crypto) -> Runtime:  # noqa: ANN001
    # A store scan analyses in this process, with the session's analyzer, instead of
    # spawning workers that each load the NLP model (seconds of CPU per scan). The pool's
    # reports are proven the same as one process's by
    # tests/functional/governance/pii/test_scan_pool.py, which asks for its processes.
    return Runtime(
        settings=dataclasses.replace(settings, pii_scan_processes=1),
        engine=engine,
        sessions=sessions,
        policy=policy,
        tables=CrmTables(policy.datamap),
        audit=audit_log,
        keys=key_service,
        crypto=crypto,
    )


@pytest.fixture
def app(runtime: Runtime):  # noqa: ANN201
    from api import create_app

    return create_app(runtime=runtime, background_integrator=False)


@pytest.fixture
def http(app):  # noqa: ANN001, ANN201
    return app.test_client()


@pytest.fixture
def issue_key(sessions: sessionmaker[Session]):  # noqa: ANN201
    """issue_key(role, *purposes) -> bearer key of a new client (committed to the test tx)."""
    from governance.clients.services import ClientService

    def issue(role: str, *purposes: str) -> str:
        with sessions() as s:
            issued = ClientService(s).create(f"{role}-{uuid.uuid4().hex[:8]}", role, purposes)
            s.commit()
            return issued.key

    return issue


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
