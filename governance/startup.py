"""What a start can fail on, said in one line that names the setting or file.

``governance serve`` checks everything a worker will open (settings, policy files, the PII
model, the key file, both stores answering) in the master, before gunicorn forks, so a bad
start fails once and clearly (``check_service``); a worker that later fails to boot retries
(``api.gunicorn_worker``) and logs ``one_line`` of the failure. The CLI prints the same
line. No traceback, and nothing but names, paths and error kinds: a database URL can carry
a password and is never shown.
"""

from __future__ import annotations

from pathlib import Path

from governance.db import UNAVAILABLE_ERRORS, make_engine, ping
from governance.errors import GovernanceError
from governance.migrate import upgrade, upgrade_keystore
from governance.naming import naming
from governance.runtime import check_key_files, open_runtime
from governance.settings import Settings
from governance.store.schema import CrmTables
from policies.errors import PolicyFileError
from policies.loader import load_policy_set


def check_service(settings: Settings) -> None:
    """Open everything a worker opens, check that both stores answer, and close it all.

    A serving process never creates a key: a missing one is a volume not mounted, a restore
    in progress or a first run nobody made (``governance init``), each refused in one line.
    """
    runtime = open_runtime(settings, create_keys=False)
    try:
        with naming("GOVERNANCE_DATABASE_URL"):
            ping(runtime.engine)
        with naming("GOVERNANCE_KEYSTORE_URL"):
            ping(runtime.keys.keystore.engine)
    finally:
        runtime.dispose()


def initialise(settings: Settings) -> list[Path]:
    """The first-run step (``governance init``, the demo): migrate both stores and create
    the key file and the signing key where they are missing. Idempotent; refuses, before
    anything is created, a key the stores say existed (``runtime.check_key_files``).
    Returns the files it created."""
    with naming("GOVERNANCE_DATABASE_URL"):
        upgrade(settings.database_url)
    with naming("GOVERNANCE_POLICY_DIR"):
        tables = CrmTables(load_policy_set(settings.policy_dir).datamap)
    with naming("GOVERNANCE_DATABASE_URL"):
        engine = make_engine(settings.database_url)
    try:
        check_key_files(settings, engine, tables, create_keys=True)
    finally:
        engine.dispose()
    files = [settings.audit_signing_key_file]
    if not settings.kek_value:
        files.insert(0, settings.key_file)
    existed = {path: path.exists() for path in files}
    with naming("GOVERNANCE_KEYSTORE_URL"):
        upgrade_keystore(settings.keystore_url)
    open_runtime(settings, create_keys=True).dispose()
    return [path for path in files if not existed[path] and path.exists()]


def one_line(exc: BaseException) -> str:
    """The failure of a start in one line: our own message, else the kind of error."""
    if isinstance(exc, GovernanceError):
        return exc.detail
    if isinstance(exc, PolicyFileError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where} ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return f"a database cannot be opened or does not answer ({type(exc).__name__})"
    return f"unexpected {type(exc).__name__}"
