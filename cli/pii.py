"""``governance pii``: scan the store against the data map, evaluate the detector."""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import Subcommands, integrate, runtime
from governance.db import unit_of_work
from governance.runtime import cli_actor
from governance.settings import Settings


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    pii = sub.add_parser("pii", help="PII detection").add_subparsers(dest="pii", required=True)
    scan = pii.add_parser("scan", help="scan the store's fields against the data map")
    scan.add_argument("--sample", type=int, help="records sampled per collection")
    scan.add_argument("--resume", metavar="SCAN_ID", help="continue an unfinished scan")
    scan.add_argument("--json", action="store_true")
    scan.set_defaults(func=cmd_pii_scan)
    evaluate = pii.add_parser("evaluate", help="precision and recall on a generated, labelled set")
    evaluate.add_argument("--documents", type=int, default=600)
    evaluate.add_argument("--seed", type=int, default=7)
    evaluate.set_defaults(func=cmd_pii_evaluate)


def cmd_pii_scan(args: argparse.Namespace) -> int:
    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job
    from governance.pii.errors import ScanInProgress

    rt = runtime()
    scans = rt.pii_scans()
    with unit_of_work(rt.sessions) as session:
        if args.resume:
            scan_id = args.resume
            job, _ = Jobs(session).enqueue(
                JobKind.PII_SCAN, scan_id, actor=cli_actor(), exclusive=f"pii.scan:{scan_id}"
            )
            job_id = job.id
        else:
            started = scans.start(
                session, cli_actor(), sample=args.sample or rt.settings.pii_scan_sample
            )
            scan, created = started.value
            if not created:  # one scan at a time; running it here too would run it twice
                raise ScanInProgress(scan.id)
            scan_id, job_id = scan.id, started.jobs[0]
    print(f"scan {scan_id}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        print(f"  {done}/{total} fields", file=sys.stderr, flush=True)

    if (
        run_job(
            rt, job_id, raise_errors=True, work=lambda _job: scans.run(scan_id, progress=progress)
        )
        is None
    ):
        print("the scan is running in another process", file=sys.stderr)
        return 1
    integrate(rt, checkpoint=False)
    with unit_of_work(rt.sessions) as session:
        report = scans.report(session, scan_id)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"{'collection.field':40} {'category':34} {'method':13} {'n':>4}  entity types (values)")
    for f in report["fields"]:
        found = ", ".join(f"{t} ({v['values']})" for t, v in f.get("entities", {}).items())
        print(
            f"{f['collection'] + '.' + f['field']:40} {f.get('category', ''):34} "
            f"{f.get('method', ''):13} {f.get('sampled', 0):>4}  {found}"
        )
    print(f"\n{len(report['findings'])} finding(s) against the data map:")
    for x in report["findings"]:
        what = x.get("entity_type") or ", ".join(x.get("entity_types", []))
        print(f"  {x['collection']}.{x['field']}: {x['kind']} {what}")
    return 0


def cmd_pii_evaluate(args: argparse.Namespace) -> int:
    from governance.pii import evaluation

    settings = Settings.from_env()
    from governance.pii.engine import engine_for

    engine = engine_for(settings.pii_config_file, settings.pii_model)
    report = evaluation.run(engine, count=args.documents, seed=args.seed)
    print(f"model {settings.pii_model}, {report.documents} generated documents (seed {args.seed})")
    print(report.table())
    from governance.pii.evaluation_sources.compare import (
        compare_splits,
        plain_analyzer,
        splits_table,
    )

    plain = plain_analyzer(engine.config.nlp_configuration)
    independent, _ = splits_table(compare_splits(engine, plain))
    print(
        "\nindependent sources, held-out halves of fresh fillings, ours beside plain Presidio "
        "(mean / worst split):"
    )
    print(independent)
    return 0 if report.meets_targets else 1
