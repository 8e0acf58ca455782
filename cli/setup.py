"""``governance init`` and ``governance db upgrade``: put the stores and keys in place."""

from __future__ import annotations

import argparse

from cli.common import Subcommands
from governance.settings import Settings


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    init = sub.add_parser(
        "init",
        help="first run: migrate both stores and create the key file and the signing key "
        "(never over keys the stores say existed)",
    )
    init.set_defaults(func=cmd_init)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    up = db.add_parser(
        "upgrade",
        help="apply the migrations to GOVERNANCE_DATABASE_URL and GOVERNANCE_KEYSTORE_URL",
    )
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from governance.migrate import upgrade, upgrade_keystore

    settings = Settings.from_env()
    upgrade(settings.database_url, args.revision)
    upgrade_keystore(settings.keystore_url)
    print(f"database and key store migrated to {args.revision}")
    return 0


def cmd_init(_args: argparse.Namespace) -> int:
    from governance.startup import initialise

    settings = Settings.from_env()
    created = initialise(settings)
    for path in created:
        print(f"created {path} (0600): back it up, apart from the stores")
    print("database and key store migrated; keys ready")
    return 0
