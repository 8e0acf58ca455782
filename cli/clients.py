"""``governance clients``: API clients and their keys (a key is shown once)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.orm import Session

from cli.common import Subcommands, integrate, runtime
from governance.authz import Role
from governance.clients.admin import ClientAdmin
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.runtime import Runtime, cli_actor


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    clients = sub.add_parser("clients", help="API clients").add_subparsers(
        dest="clients", required=True
    )
    create = clients.add_parser("create", help="create a client and print its key once")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--purpose", action="append", help="a purpose an application may use")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=cmd_clients_create)
    listing = clients.add_parser("list", help="list clients (never their keys)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_clients_list)
    revoke = clients.add_parser("revoke", help="revoke a client's key")
    revoke.add_argument("client", help="client id or name")
    revoke.set_defaults(func=cmd_clients_revoke)


def _admin(rt: Runtime, session: Session) -> ClientAdmin:
    return ClientAdmin(
        session,
        rt.audit,
        cli_actor(),
        policy_version=rt.policy.version,
        known_purposes=rt.policy.purposes.ids(),
    )


def cmd_clients_create(args: argparse.Namespace) -> int:
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        issued = _admin(rt, session).create(args.name, args.role, args.purpose or ())
    integrate(rt, checkpoint=False)
    if args.json:
        print(json.dumps({"id": issued.client.id, "key": issued.key}))
    else:
        print(
            f"created client {issued.client.name} ({issued.client.id}), role {issued.client.role}"
        )
        print("the key is shown once; store it now:")
        print(issued.key)
    return 0


def cmd_clients_list(args: argparse.Namespace) -> int:
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        clients: list[dict[str, Any]] = [
            {
                "id": c.id,
                "name": c.name,
                "role": c.role,
                "purposes": c.purposes,
                "key_prefix": c.key_prefix,
                "created_at": c.created_at.isoformat(),
                "revoked": c.revoked_at is not None,
            }
            for c in ClientService(session).list()
        ]
    if args.json:
        print(json.dumps(clients, indent=2))
        return 0
    print(f"{'id':32}  {'name':24} {'role':18} {'key':10} {'state':8} purposes")
    for c in clients:
        state = "revoked" if c["revoked"] else "active"
        print(
            f"{c['id']:32}  {c['name']:24} {c['role']:18} {c['key_prefix']:10} {state:8} "
            f"{','.join(c['purposes'])}"
        )
    return 0


def cmd_clients_revoke(args: argparse.Namespace) -> int:
    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        client = _admin(rt, session).revoke(args.client)
    integrate(rt, checkpoint=False)
    print(f"revoked client {client.name} ({client.id})")
    return 0
