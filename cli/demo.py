"""``governance demo``: a demo store, demo clients and users, served."""

from __future__ import annotations

import argparse

from cli.common import Subcommands, serving_args


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    demo = sub.add_parser("demo", help="create a demo store, demo clients, and serve it")
    demo.add_argument("--customers", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=20261123)
    demo.add_argument("--no-serve", action="store_true", help="fill the store and exit")
    serving_args(demo)
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.setup import run_demo

    return run_demo(args)
