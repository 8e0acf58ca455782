"""``governance audit``: verify, export and pin the audit log."""

from __future__ import annotations

import argparse
import os
import sys

from cli.common import Subcommands, UsageError, integrate, record, runtime
from governance.audit_actions import AuditAction
from governance.db import unit_of_work


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit", required=True
    )
    verify = audit.add_parser(
        "verify",
        help="recompute the tree and check every checkpoint; with --file, check an "
        "export offline against a pinned key",
    )
    verify.add_argument("--file", metavar="EXPORT", help="an export (governance audit export)")
    verify.add_argument(
        "--key", metavar="VERIFIER_KEY", help="the verifier key you pinned (or a file holding it)"
    )
    verify.add_argument(
        "--checkpoint", metavar="OLD", help="a checkpoint note you kept: the export must extend it"
    )
    verify.set_defaults(func=cmd_audit_verify)
    key = audit.add_parser("key", help="print the checkpoint verifier key and its fingerprint")
    key.set_defaults(func=cmd_audit_key)
    export = audit.add_parser("export", help="write the log as JSON Lines with its checkpoint")
    export.add_argument("--output", "-o", default="-")
    export.set_defaults(func=cmd_audit_export)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.file is not None:
        return _audit_verify_offline(args)
    rt = runtime()
    integrate(rt)
    with unit_of_work(rt.sessions) as session:
        report = rt.audit.verify(session)
    print(
        f"tree size {report.tree_size}, root {report.root_hash.hex()}, "
        f"{report.checkpoints_checked} checkpoint(s) checked, {report.pending} pending"
    )
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print("ok" if report.ok else f"FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def _audit_verify_offline(args: argparse.Namespace) -> int:
    """An export against a pinned key: no settings, no database, no key file of ours."""
    from audit.offline import OfflineVerificationFailed, verify_export

    if args.key is None:
        raise UsageError("--file needs --key VERIFIER_KEY (the key you pinned, or its file)")
    key = _text_or_file(args.key, "--key")
    old = None if args.checkpoint is None else _read(args.checkpoint, "--checkpoint")
    lines = _read(args.file, "--file").splitlines()
    try:
        report = verify_export(lines, key, old)
    except OfflineVerificationFailed as failure:
        print(f"FAILED: {failure}")
        return 1
    for line in report.said:
        print(line)
    print("verified")
    return 0


def _read(path: str, option: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: cannot read it ({type(exc).__name__})") from None


def _text_or_file(value: str, option: str) -> str:
    """A verifier key given as itself, or as the file that holds it."""
    return value if "+" in value and not os.path.exists(value) else _read(value, option)


def cmd_audit_key(args: argparse.Namespace) -> int:
    from audit.offline import fingerprint

    signer = runtime().audit.signer
    print(f"verifier key: {signer.verifier_key}")
    print(f"fingerprint: {fingerprint(signer.public_key_bytes)}")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    rt = runtime()
    integrate(rt)
    with unit_of_work(rt.sessions) as session:
        record(rt, session, AuditAction.AUDIT_EXPORTED)
    integrate(rt)
    with unit_of_work(rt.sessions) as session:
        if args.output == "-":
            count = rt.audit.export(session, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                count = rt.audit.export(session, out)
    print(f"exported {count} events", file=sys.stderr)
    return 0
