"""``governance consent verify``: the materialised consent state against the history."""

from __future__ import annotations

import argparse

from cli.common import Subcommands, record, runtime
from governance.audit_actions import AuditAction
from governance.db import unit_of_work


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    consent = sub.add_parser("consent", help="consent records").add_subparsers(
        dest="consent", required=True
    )
    verify_consent = consent.add_parser(
        "verify", help="check the materialised consent state against the history"
    )
    verify_consent.add_argument(
        "--rebuild", action="store_true", help="recompute the state from the history if they differ"
    )
    verify_consent.set_defaults(func=cmd_consent_verify)


def cmd_consent_verify(args: argparse.Namespace) -> int:
    from governance.consent.services import rebuild_state, state_differences

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        differences = state_differences(session)
        for d in differences[:50]:
            print(f"DIFFERS: {d.key}: stored {d.stored!r}, history says {d.computed!r}")
        if differences and args.rebuild:
            rows = rebuild_state(session)
            record(rt, session, AuditAction.CONSENT_REBUILT, details={"rows": rows})
            print(f"rebuilt the consent state from the history ({rows} rows)")
    if not differences:
        print("ok: the consent state agrees with the history")
        return 0
    print(f"{len(differences)} difference(s)" + ("" if args.rebuild else "; --rebuild fixes them"))
    return 0 if args.rebuild else 1
