"""A failure while opening what a setting names, said as that setting: the one line a start
prints (``governance.startup``) instead of a driver's traceback, which can carry a URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from governance.db import UNAVAILABLE_ERRORS
from governance.errors import SettingsError


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
            f"{setting}: the database cannot be opened or does not answer ({type(exc).__name__})"
        ) from None
