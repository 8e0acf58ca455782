"""What a start can fail on, said in one line that names the setting or file.

``governance serve`` checks everything a worker will open (settings, policy files, the PII
model, the key file, both stores answering) in the master, before gunicorn forks, so a bad
start fails once and clearly (``check_service``); a worker that later fails to boot retries
(``api.gunicorn_worker``) and logs ``one_line`` of the failure. The CLI prints the same
line. No traceback, and nothing but names, paths and error kinds: a database URL can carry
a password and is never shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from governance.db import UNAVAILABLE_ERRORS, ping
from governance.errors import GovernanceError, SettingsError
from governance.settings import Settings
from policies.errors import PolicyFileError


@contextmanager
def naming(setting: str) -> Iterator[None]:
    """Turn an OS or database error raised while opening what ``setting`` names into a
    :class:`SettingsError` that names it (the file, for an OS error)."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise SettingsError(
            f"{setting}:{where} cannot be used ({exc.strerror or type(exc).__name__})"
        ) from None
    except UNAVAILABLE_ERRORS as exc:
        raise SettingsError(
            f"{setting}: the database cannot be opened or does not answer "
            f"({type(exc).__name__})") from None


def check_service(settings: Settings) -> None:
    """Open everything a worker opens, check that both stores answer, and close it all."""
    from governance.runtime import open_runtime

    runtime = open_runtime(settings)
    try:
        with naming("GOVERNANCE_DATABASE_URL"):
            ping(runtime.engine)
        with naming("GOVERNANCE_KEYSTORE_URL"):
            ping(runtime.keys.keystore.engine)
    finally:
        runtime.dispose()


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
