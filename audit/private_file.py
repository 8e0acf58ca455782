"""Writing a secret to disk: owner-only, atomic, durable.

The log's signing key lives here; the gateway's key file (``governance.keys.local``) uses
the same routine, which is why it sits in ``audit`` (which imports nothing of governance)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private_file(path: str | os.PathLike[str], data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` with mode 0600 so that readers see the old file or the whole new one.

    Without ``overwrite`` an existing file is never replaced (``FileExistsError``): two
    processes creating a key at once cannot both win. The directory entry is fsynced (best
    effort where the platform has no directory descriptors) so the file survives a power
    loss."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp_name, target)
        else:
            os.link(tmp_name, target)  # atomic, fails with FileExistsError if present
            os.unlink(tmp_name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
