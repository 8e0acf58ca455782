"""Verify's share in a second process: the second half of a large log, rehashed on
another CPU.

Verify is bound by one core: about one SHA-256 per leaf and one per interior node, and
reading the rows. Leaves are independent, and a chunk-aligned range of them is a run of
perfect subtrees, so another process can rehash a range and hand back only each chunk's
summary (:func:`audit.tree.chunk_summary`: its root, and the roots at the checkpoint sizes
inside it). The parent keeps the tree and every problem: a chunk whose leaves do not match
is only marked here, and the parent reads it again and names its problems as it would
have, so the report is the same.

This process opens its own connection and reads committed rows. Integrated positions never
change, so it reads what the parent's transaction sees; if it reads fewer rows than asked
(positions the parent's own transaction integrated and did not commit), the parent
verifies the range itself.

It is a plain ``python -m audit.parallel`` with the request on its stdin and the summary on
its stdout (pickles between two processes of this code), not a ``multiprocessing`` child:
those import the parent's main module again (the CLI's, gunicorn's, a benchmark's), which
costs seconds, and may not be started from a daemonic process such as a Celery prefork
worker. This one imports only the audit package and SQLAlchemy. The database URL travels on
stdin, never on the command line where ``ps`` shows it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from audit import rawsql
from audit.tree import chunk_summary

Chunk = tuple[int, bytes | None, dict[int, bytes]]
"""(leaves in the chunk, its root or None if its leaves did not match, roots by size)."""


@dataclass(frozen=True)
class RangeSummary:
    chunks: list[Chunk]
    rows: int  # rows read: fewer than asked means the range is not all committed


def summarise_range(
    url: str, start: int, end: int, chunk_size: int, sizes: Sequence[int]
) -> RangeSummary:
    """Rehash positions ``start`` (a multiple of ``chunk_size``) to ``end`` of the log at
    ``url``, a chunk at a time; ``sizes``: the checkpoint sizes inside the range."""
    engine = create_engine(url, poolclass=NullPool)
    chunks: list[Chunk] = []
    wanted = sorted(sizes)
    position, k = start, 0
    sha256 = hashlib.sha256
    try:
        with engine.connect() as connection:
            found = rawsql.for_connection(connection)
            if found is None:
                raise ValueError(f"no verify driver for {connection.dialect.name}")
            driver, raw = found
            for rows in driver.leaf_rows(raw, chunk_size, columns=False, between=(start, end)):
                n = len(rows)
                offsets = []
                while k < len(wanted) and wanted[k] <= position + n:
                    offsets.append(wanted[k] - position)
                    k += 1
                try:
                    leaves: list[bytes] | None = [sha256(b"\x00" + r[1]).digest() for r in rows]
                except TypeError:  # an entry row is missing (NULL data)
                    leaves = None
                if leaves is None or leaves != [r[0] for r in rows]:
                    chunks.append((n, None, {}))
                else:
                    root, partials = chunk_summary(leaves, offsets)
                    chunks.append((n, root, {position + o: h for o, h in partials.items()}))
                position += n
    finally:
        engine.dispose()
    return RangeSummary(chunks, position - start)


class SecondProcess:
    """The running ``python -m audit.parallel`` that summarises one range."""

    def __init__(
        self, url: str, start: int, end: int, chunk_size: int, sizes: Sequence[int]
    ) -> None:
        root = str(Path(__file__).resolve().parent.parent)  # where the audit package is
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "audit.parallel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(pickle.dumps((url, start, end, chunk_size, list(sizes))))
        self.process.stdin.close()
        self.process.stdin = None  # (communicate() would flush the closed pipe)

    def result(self, timeout: float) -> RangeSummary:
        """Wait up to ``timeout`` seconds for the summary; raises if the process failed or
        did not answer in time (a child blocked on a lock, or stopped, must not hold the
        verify for ever: the caller then verifies its share itself)."""
        try:
            data, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the second process did not answer in {timeout:.0f} s") from None
        if self.process.returncode != 0:
            raise RuntimeError(f"the second process exited with {self.process.returncode}")
        summary = pickle.loads(data)  # noqa: S301 - written by our own child process
        if not isinstance(summary, RangeSummary):
            raise RuntimeError("the second process answered something else")
        return summary

    def stop(self) -> None:
        """End the child if it still runs, and close its pipe (a child that timed out was
        never read to the end, so nothing else closes it)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def main() -> None:
    url, start, end, chunk_size, sizes = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    summary = summarise_range(url, start, end, chunk_size, sizes)
    sys.stdout.buffer.write(pickle.dumps(summary))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    # run as audit.parallel, not __main__, so that the summary pickles by its real name
    from audit import parallel

    parallel.main()
