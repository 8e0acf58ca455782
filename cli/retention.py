"""``governance retention``: what is due, and sweeps."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.common import Subcommands, integrate, positive, runtime
from governance.db import unit_of_work
from governance.runtime import cli_actor


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    retention = sub.add_parser("retention", help="retention sweeps").add_subparsers(
        dest="retention", required=True
    )
    rplan = retention.add_parser("plan", help="what is due per rule, and what is held")
    rplan.add_argument("--json", action="store_true")
    rplan.add_argument("--ids", action="store_true", help="also list the due records' ids")
    rplan.set_defaults(func=cmd_retention_plan)
    rrun = retention.add_parser("run", help="sweep now (resumes an unfinished run first)")
    rrun.add_argument("--dry-run", action="store_true", help="record the plan, change nothing")
    rrun.add_argument(
        "--batch-size",
        type=positive,
        default=None,
        metavar="N",
        help="records per committed batch (default 500)",
    )
    rrun.add_argument("--json", action="store_true")
    rrun.set_defaults(func=cmd_retention_run)


def cmd_retention_plan(args: argparse.Namespace) -> int:
    """What is due per rule: counts, the oldest due date, how many are held; ids only with
    --ids (never values)."""
    from governance.retention.sweep import RetentionSweep

    rt = runtime()
    with unit_of_work(rt.sessions) as session:
        rules = RetentionSweep(rt, cli_actor()).read_plan(session, ids=args.ids)["rules"]
    integrate(rt, checkpoint=False)
    if args.json:
        print(json.dumps(rules, indent=2))
        return 0
    print(f"{'rule':34} {'period':7} {'from':12} {'due':>8} {'held':>6}  oldest due")
    for r in rules:
        print(
            f"{r['rule']:34} {r['period']:7} {r['counted_from']:12} {r['due']:>8} "
            f"{r['held']:>6}  {(r['oldest_due'] or '-')[:10]}"
        )
        for record_id in r.get("ids", []):
            print(f"    {record_id}")
    print(f"{sum(r['due'] for r in rules)} record(s) due, {sum(r['held'] for r in rules)} held")
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    """Sweep in this process (resuming an unfinished run first); meant for a daily timer.
    The run is swept as its job, recorded with it before any batch: if this process is
    killed, its lease lapses and the reaper (or a worker) resumes the run to the end."""
    from governance.jobs.work import run_job
    from governance.retention.sweep import RetentionSweep

    rt = runtime()
    sweeper = RetentionSweep(rt, cli_actor())
    with unit_of_work(rt.sessions) as session:
        started = sweeper.start(session, dry_run=args.dry_run, batch_size=args.batch_size)
        run_id, resumed = started.value.id, started.value.started_at is not None
        job_id = started.jobs[0]
    if resumed:
        print(f"resuming unfinished run {run_id}")
    swept: list[Any] = []
    if (
        run_job(rt, job_id, raise_errors=True, work=lambda _job: swept.append(sweeper.run(run_id)))
        is None
    ):
        print(
            f"run {run_id} is being swept by another process, or its job waits to be "
            f"retried (`governance jobs show {job_id}`)",
            file=sys.stderr,
        )
        rt.dispose()
        return 1
    done = swept[0]
    integrate(rt, checkpoint=False)
    rt.dispose()
    totals = done.totals or {}
    if args.json:
        print(
            json.dumps(
                {"id": done.id, "state": done.state, "dry_run": done.dry_run, "totals": totals},
                indent=2,
            )
        )
        return 0
    print(f"run {done.id}: {done.state}{' (dry run: nothing changed)' if done.dry_run else ''}")
    for name, value in totals.items():
        print(f"  {name}: {value}")
    return 0
