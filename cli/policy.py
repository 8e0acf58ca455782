"""``governance policy check``: validate the policy files and summarise them."""

from __future__ import annotations

import argparse

from cli.common import Subcommands
from governance.settings import Settings


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    policy = sub.add_parser("policy", help="policy files").add_subparsers(
        dest="policy", required=True
    )
    check = policy.add_parser("check", help="validate the policy files and summarise them")
    check.set_defaults(func=cmd_policy_check)


def cmd_policy_check(args: argparse.Namespace) -> int:
    from policies.loader import load_policy_set
    from policies.summary import access_summary

    policy = load_policy_set(Settings.from_env().policy_dir)
    datamap = policy.datamap
    print(f"policy version {policy.version}")
    print(
        f"{'collection':20} {'relation':8} {'fields':>6} {'encrypted':>9} {'retention':9} erasure"
    )
    for c in datamap.collections.values():
        enc = sum(f.encrypted for f in c.fields.values())
        print(
            f"{c.name:20} {c.relation:8} {len(c.fields):>6} {enc:>9} "
            f"{c.retention.period.text:9} {c.erasure.strategy}"
        )
    print()
    print(
        f"{'purpose':28} {'legal basis':20} {'consent':7} {'object':6} {'sells':5} "
        f"{'restricted':12} data use"
    )
    for p in policy.purposes:
        print(
            f"{p.id:28} {p.legal_basis:20} {_yes(p.requires_consent):7} "
            f"{_yes(p.objectable):6} {_yes(p.sells_or_shares):5} "
            f"{p.restriction_exemption or 'stops':12} {p.data_use}"
        )
    print()
    print(
        "what each purpose may see (field, or field:mask; * = may also write; "
        "anything not listed is denied)"
    )
    for purpose in access_summary(policy.access, policy.purposes):
        print(f"{purpose.purpose}  (free text with undeclared PII: {purpose.free_text_pii})")
        for grants in purpose.collections:
            print(f"  {grants.collection:20} {', '.join(g.label for g in grants.fields)}")
    return 0


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"
