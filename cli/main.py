"""The ``governance`` command: operate the service from a shell.

Each command opens the runtime from the environment's settings, runs one unit of work and
records what it changed in the audit log as the CLI user. Output meant for scripts is on the
last line (a new key) or in ``--json``; nothing personal is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import (
    audit,
    clients,
    consent,
    demo,
    jobs,
    keys,
    pii,
    policy,
    requests,
    retention,
    ropa,
    serve,
    setup,
    users,
)
from cli.common import COMMAND_FAILURES, UsageError
from governance.errors import GovernanceError
from policies.errors import PolicyFileError

#: the command groups, in the order ``governance --help`` lists their commands
GROUPS = (
    setup,
    clients,
    users,
    audit,
    keys,
    policy,
    consent,
    pii,
    requests,
    jobs,
    retention,
    ropa,
    serve,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="governance", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PolicyFileError as exc:
        print(f"governance: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"governance: {exc}", file=sys.stderr)
        return 2
    except GovernanceError as exc:
        print(f"governance: {exc.detail}", file=sys.stderr)
        for name, messages in exc.extra.get("errors", {}).items():
            print(f"  {name}: {'; '.join(messages)}", file=sys.stderr)
        return 2
    except COMMAND_FAILURES as exc:  # a file or a store failing under a command
        from governance.startup import one_line

        print(f"governance: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
