"""``governance demo``: migrate, fill a synthetic CRM, issue demo keys, and serve.

Running it twice is safe: the generator skips batches already stored, and the demo clients
keep their ids while their keys are reissued (the old keys stop working), because a key is
stored only as a hash and cannot be shown again.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session

from audit.events import AuditEvent, Target
from demo.consents import fill_demo_consents
from demo.requests import fill_demo_requests
from demo.resources import load
from demo.retention import fill_demo_retention
from demo.store import fill_demo_store
from governance.audit_actions import AuditAction
from governance.clients.services import ClientService
from governance.db import unit_of_work
from governance.runtime import Runtime, cli_actor, open_runtime
from governance.settings import Settings
from governance.startup import initialise

_accounts = load("accounts")
# (name, role, purposes): one key per role, and one per application with the purposes its
# work rests on (policies/access.yaml)
DEMO_CLIENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (client["name"], client["role"], client["purposes"]) for client in _accounts["clients"]
)
# One console user per role; each run gives them new one-time passwords.
DEMO_USERS: tuple[tuple[str, str], ...] = tuple(
    (user["name"], user["role"]) for user in _accounts["users"]
)


def run_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    initialise(settings)  # the demo is a first run: migrations and keys
    rt = open_runtime(settings)

    def progress(done: int, total: int) -> None:
        print(f"\r  customers {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    print(
        f"filling the demo CRM store ({args.customers:,} customers, seed {args.seed}) ...",
        file=sys.stderr,
    )
    summary = fill_demo_store(
        rt.sessions,
        rt.policy.datamap,
        rt.crypto,
        customers=args.customers,
        seed=args.seed,
        progress=progress,
    )
    print(file=sys.stderr)
    print("recording demo consent histories ...", file=sys.stderr)
    consents = fill_demo_consents(
        rt, customers=args.customers, seed=args.seed, actor=cli_actor(), progress=progress
    )
    print(file=sys.stderr)
    requests = fill_demo_requests(rt, customers=args.customers, seed=args.seed, actor=cli_actor())
    if requests.created:
        states = ", ".join(f"{n} {s}" for s, n in sorted(requests.statuses.items()))
        print(f"demo data-subject requests: {states}", file=sys.stderr)
    if fill_demo_retention(rt, actor=cli_actor()) is not None:
        print(
            "demo retention sweep completed (as of the demo world's date); what expired "
            "since is due in GET /v1/retention/plan",
            file=sys.stderr,
        )
    keys: list[tuple[str, str, str]] = []
    with unit_of_work(rt.sessions) as session:
        service = ClientService(session)
        for name, role, purposes in DEMO_CLIENTS:
            issued = service.issue_or_reissue(name, role, purposes)
            keys.append((name, role, issued.key))
            rt.audit.record(
                session,
                AuditEvent(
                    action=str(AuditAction.CLIENT_CREATED),
                    actor=cli_actor(),
                    target=Target(record_id=issued.client.id),
                    policy_version=rt.policy.version,
                    details={
                        "client_id": issued.client.id,
                        "role": role,
                        "purposes": list(purposes),
                    },
                ),
            )
        users = _demo_users(rt, session)
        rt.audit.record(
            session,
            AuditEvent(
                action=str(AuditAction.DEMO_LOADED),
                actor=cli_actor(),
                policy_version=rt.policy.version,
                details={"rows": sum(summary.inserted.values()), "count": args.customers},
            ),
        )
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session, checkpoint=True)
    inserted = sum(summary.inserted.values())
    print(
        f"demo store ready: {inserted:,} rows inserted now, "
        f"{summary.skipped_batches} batch(es) already present; "
        f"{consents.events:,} consent events recorded now "
        f"({consents.skipped:,} customers had their history already)"
    )
    print("demo API keys (shown once; running the demo again issues new ones):")
    for name, role, key in keys:
        print(f"  {name:20} {role:19} {key}")
    print(
        "demo console users, at /console (one-time passwords, to be changed at the first "
        "sign-in; running the demo again issues new ones):"
    )
    for name, role, password in users:
        print(f"  {name:20} {role:19} {password}")
    rt.dispose()
    if args.no_serve:
        return 0
    from api.serving import serve

    print(
        f"serving on http://{args.host}:{args.port}  (try: curl -H 'Authorization: Bearer "
        f"<demo-admin key>' http://{args.host}:{args.port}/v1/datamap)",
        flush=True,
    )
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def _demo_users(rt: Runtime, session: Session) -> list[tuple[str, str, str]]:
    from governance.users.services import UserService

    service = UserService(session, rt.audit, cli_actor(), rt.policy.version)
    existing = {u.name: u for u in service.list()}
    shown = []
    for name, role in DEMO_USERS:
        user = existing.get(name)
        if user is None:
            password = service.create(name, role).one_time_password or ""
        else:
            password = service.reset_password(user.id)
        shown.append((name, role, password))
    return shown
