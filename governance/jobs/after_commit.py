"""What a use case hands back to its caller: its result, and the jobs it created in the
caller's transaction.

A use case (retry a job, start a rotation or a sweep, release a hold, execute a request)
writes its change, its job rows and its audit event in the caller's unit of work and never
commits or delivers: only the caller knows when its transaction commits (the HTTP request's
end, the CLI's unit of work), and a job delivered before that commit is one a worker cannot
find yet, or one of a change that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class AfterCommit(Generic[T]):
    """``value``: what the use case did; ``jobs``: the ids to deliver once it committed."""

    value: T
    jobs: tuple[str, ...] = ()
