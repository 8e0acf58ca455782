"""``governance ropa export``: the record of processing activities (Art. 30)."""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import Subcommands, integrate, record, runtime
from governance.audit_actions import AuditAction
from governance.db import unit_of_work


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    ropa = sub.add_parser("ropa", help="the record of processing activities").add_subparsers(
        dest="ropa", required=True
    )
    rexport = ropa.add_parser("export", help="write the Art. 30 record (and CCPA view)")
    rexport.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    rexport.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="the file to write (default: stdout, not for xlsx)",
    )
    rexport.set_defaults(func=cmd_ropa_export)


def cmd_ropa_export(args: argparse.Namespace) -> int:
    """The record of processing activities (Art. 30) as JSON, CSV or XLSX."""
    from governance.ropa.formats import to_csv, to_xlsx
    from governance.ropa.record import build_record

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        document = build_record(session, rt)
        record(
            rt,
            session,
            AuditAction.ROPA_READ,
            details={"count": len(document["processing"]), "type": args.format},
        )
    integrate(rt, checkpoint=False)
    rt.dispose()
    if args.format == "xlsx":
        content: bytes = to_xlsx(document)
    elif args.format == "csv":
        content = to_csv(document).encode("utf-8")
    else:
        content = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    if args.output == "-":
        if args.format == "xlsx":
            print("governance: write XLSX to a file (-o FILE)", file=sys.stderr)
            return 2
        sys.stdout.write(content.decode("utf-8"))
    else:
        with open(args.output, "wb") as out:
            out.write(content)
        print(
            f"wrote the record of processing ({len(document['processing'])} purposes, "
            f"{args.format}) to {args.output}"
        )
    return 0
