"""``governance serve``: the API under gunicorn."""

from __future__ import annotations

import argparse

from cli.common import Subcommands, serving_args
from governance.settings import Settings


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    serve = sub.add_parser("serve", help="serve the API under gunicorn")
    serving_args(serve)
    serve.add_argument(
        "--threads", type=int, default=None, help="requests each worker runs at once (default 8)"
    )
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from api.serving import serve
    from governance.startup import check_service

    settings = Settings.from_env()
    check_service(settings)  # fail here, once, with the setting's name, not in each worker
    extra = {} if args.threads is None else {"threads": args.threads}
    serve(settings, host=args.host, port=args.port, workers=args.workers, **extra)
    return 0
