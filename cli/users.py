"""``governance users``: console users (people); passwords are prompted, never shown."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from cli.common import Subcommands, integrate, runtime
from governance.db import unit_of_work
from governance.runtime import Runtime, cli_actor
from governance.timestamps import as_utc


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    users = sub.add_parser("users", help="console users (people)").add_subparsers(
        dest="users", required=True
    )
    ucreate = users.add_parser("create", help="create a console user; the password is prompted")
    ucreate.add_argument("name")
    ucreate.add_argument(
        "--role", required=True, choices=["admin", "compliance_officer", "auditor"]
    )
    how = ucreate.add_mutually_exclusive_group()
    how.add_argument(
        "--one-time",
        action="store_true",
        help="print a one-time password, to be changed at the first sign-in",
    )
    how.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    ucreate.set_defaults(func=cmd_users_create)
    ulist = users.add_parser("list", help="list console users (never their passwords)")
    ulist.add_argument("--json", action="store_true")
    ulist.set_defaults(func=cmd_users_list)


def _users(rt: Runtime, session: Any) -> Any:
    from governance.users.services import UserService

    return UserService(session, rt.audit, cli_actor(), rt.policy.version)


def cmd_users_create(args: argparse.Namespace) -> int:
    import getpass

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not args.one_time:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("governance: the passwords differ", file=sys.stderr)
            return 2
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        created = _users(rt, session).create(args.name, args.role, password)
        user_id, name, role = created.user.id, created.user.name, created.user.role
    integrate(rt, checkpoint=False)
    print(f"created console user {name} ({user_id}), role {role}")
    if created.one_time_password is not None:
        print("one-time password (shown once; it must be changed at the first sign-in):")
        print(created.one_time_password)
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        users = [
            {
                "id": u.id,
                "name": u.name,
                "role": u.role,
                "disabled": u.disabled_at is not None,
                "locked": (
                    u.locked_until is not None and as_utc(u.locked_until) > datetime.now(UTC)
                ),
            }
            for u in _users(rt, session).list()
        ]
    if args.json:
        print(json.dumps(users, indent=2))
        return 0
    for u in users:
        state = "disabled" if u["disabled"] else "locked" if u["locked"] else "active"
        print(f"{u['id']:32}  {u['name']:24} {u['role']:18} {state}")
    return 0
