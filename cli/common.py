"""What every command group shares: the runtime from the environment, recording an audit
event as the CLI user, integrating the log, and the argument types and failures of a command.
"""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

from audit.events import AuditEvent
from governance.audit_actions import AuditAction
from governance.db import UNAVAILABLE_ERRORS, unit_of_work
from governance.runtime import Runtime, cli_actor, open_runtime
from governance.settings import Settings

#: the parser's subcommand table a group adds its commands to
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: what a command meets when a file or a store fails under it (one line, exit 2)
COMMAND_FAILURES: tuple[type[BaseException], ...] = (OSError, *UNAVAILABLE_ERRORS)


class UsageError(Exception):
    """A command given options or files it cannot use: one line, exit status 2."""


def runtime() -> Runtime:
    return open_runtime(Settings.from_env())


def record(rt: Runtime, session: Any, action: AuditAction, **kwargs: Any) -> None:
    rt.audit.record(
        session,
        AuditEvent(
            action=str(action), actor=cli_actor(), policy_version=rt.policy.version, **kwargs
        ),
    )


def integrate(rt: Runtime, checkpoint: bool = True) -> None:
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session, checkpoint=checkpoint)


def positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def serving_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
