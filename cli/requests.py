"""``governance requests``: the data-subject request queue, execution, exports."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from cli.common import Subcommands, integrate, non_negative, record, runtime
from governance.audit_actions import AuditAction
from governance.db import unit_of_work
from governance.errors import GovernanceError
from governance.runtime import cli_actor
from governance.timestamps import as_utc


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    requests = sub.add_parser("requests", help="data-subject requests").add_subparsers(
        dest="requests", required=True
    )
    rlist = requests.add_parser("list", help="the queue: open requests by due time")
    rlist.add_argument("--overdue", action="store_true", help="only those past their due time")
    rlist.add_argument(
        "--due-within",
        type=non_negative,
        metavar="DAYS",
        help="only those due within DAYS days (7: this week)",
    )
    rlist.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        choices=[
            "received",
            "verified",
            "in_progress",
            "on_hold",
            "completed",
            "failed",
            "rejected",
            "open",
            "closed",
        ],
        help="a status, open or closed (repeat for several; default: open)",
    )
    rlist.add_argument("--json", action="store_true")
    rlist.set_defaults(func=cmd_requests_list)
    rexec = requests.add_parser(
        "execute", help="execute a verified request, or resume one a crash interrupted"
    )
    target = rexec.add_mutually_exclusive_group(required=True)
    target.add_argument("request_id", nargs="?")
    target.add_argument("--all", action="store_true", help="resume every request in progress")
    rexec.set_defaults(func=cmd_requests_execute)
    purge = requests.add_parser("purge-exports", help="delete exports past their retention")
    purge.set_defaults(func=cmd_requests_purge_exports)


def cmd_requests_list(args: argparse.Namespace) -> int:
    from governance.requests.services import QueueFilter, RequestService, statuses_named

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        query = QueueFilter(
            statuses=statuses_named(args.status or ()),
            overdue=True if args.overdue else None,
            due_within_days=args.due_within,
        )
        items, _ = RequestService(session, rt, cli_actor()).list(query, limit=500)
        record(rt, session, AuditAction.REQUEST_LISTED, details={"count": len(items)})
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "type": r.type,
                "regulation": r.regulation,
                "status": r.status,
                "subject_id": r.subject_id,
                "received_at": _iso(r.received_at),
                "due_at": _iso(r.due_at),
                "extended": r.extended,
                "overdue": r.is_overdue(now),
            }
            for r in items
        ]
    integrate(rt, checkpoint=False)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':32}  {'type':13} {'law':4} {'status':11} {'due (UTC)':20} flags")
    for r in rows:
        flags = " ".join(
            f for f, on in (("OVERDUE", r["overdue"]), ("extended", r["extended"])) if on
        )
        print(
            f"{r['id']:32}  {r['type']:13} {r['regulation']:4} {r['status']:11} "
            f"{r['due_at'][:19]:20} {flags}"
        )
    print(f"{len(rows)} request(s)")
    return 0


def cmd_requests_execute(args: argparse.Namespace) -> int:
    """Execute (or resume) requests in this process; a crash's leftovers with --all."""
    from governance.jobs.work import run_job
    from governance.requests.services import RequestService, unfinished

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        ids = unfinished(session) if args.all else [args.request_id]
        service = RequestService(session, rt, cli_actor())
        jobs = {request_id: service.start_execution(request_id).jobs[0] for request_id in ids}
    failed = 0
    for request_id in ids:
        try:
            ran = run_job(rt, jobs[request_id], raise_errors=True)
            if ran is None:
                status = "running elsewhere (its job is held by another worker)"
            else:
                with unit_of_work(rt.sessions) as session:
                    status = RequestService(session, rt, cli_actor()).get(request_id).status
        except GovernanceError as exc:
            status = f"failed ({exc.type})"
        except Exception as exc:  # noqa: BLE001 - recorded on the request and its job
            status = f"failed ({type(exc).__name__})"
        failed += status != "completed"
        print(f"{request_id}: {status}")
    integrate(rt, checkpoint=False)
    rt.dispose()
    return 1 if failed else 0


def cmd_requests_purge_exports(args: argparse.Namespace) -> int:
    from governance.requests.services import RequestService

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        count = RequestService(session, rt, cli_actor()).purge_exports()
    integrate(rt, checkpoint=False)
    print(f"deleted {count} export(s) past their retention period")
    return 0


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()
