"""``governance keys``: key status, KEK rotation, sealing values of adopted stores."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.common import Subcommands, integrate, non_negative, positive, runtime
from governance.db import unit_of_work
from governance.runtime import Runtime, cli_actor


def register(sub: Subcommands) -> None:
    """Add this group's commands to the ``governance`` parser."""
    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys", required=True)
    kstatus = keys.add_parser("status", help="KEK versions, data keys per version, rotation")
    kstatus.add_argument("--json", action="store_true")
    kstatus.set_defaults(func=cmd_keys_status)
    rotate = keys.add_parser(
        "rotate", help="new KEK version, rewrap every data key (resumes an unfinished rotation)"
    )
    rotate.add_argument("--batch-size", type=positive, default=1000)
    rotate.add_argument(
        "--pause-ms",
        type=non_negative,
        default=0,
        help="pause between batches, to spare a busy key store",
    )
    rotate.set_defaults(func=cmd_keys_rotate)
    existing = keys.add_parser(
        "encrypt-existing",
        help="seal plaintext values of encrypted fields (adopted stores); resumable",
    )
    existing.add_argument("--batch-size", type=positive, default=500)
    existing.set_defaults(func=cmd_keys_encrypt_existing)


def _key_events(rt: Runtime) -> Any:
    from governance.keys.events import KeyEvents

    return KeyEvents(rt.sessions, rt.audit, cli_actor(), rt.policy.version)


def cmd_keys_status(args: argparse.Namespace) -> int:
    from governance.keys.status import key_status

    rt = runtime()
    status = key_status(rt.keys)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print(f"provider {status['provider']}, current KEK version {status['current_version']}")
    for v in status["versions"]:
        state = "current" if v["current"] else ("retired" if v["retired_at"] else "live")
        print(
            f"  version {v['version']:>3}  {state:8} data keys {v['data_keys']:>9,}  "
            f"created {v['created_at']}"
        )
    print(
        f"data keys: {status['live_data_keys']:,} live, {status['shredded_data_keys']:,} shredded"
    )
    job = status["rotation"]
    if job is not None:
        print(
            f"last rotation {job['id']}: {job['state']}, to version {job['kek_version']}, "
            f"{job['processed']:,} rewrapped"
        )
    rt.dispose()
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from governance.jobs.work import run_job
    from governance.keys.rotation import RotationReport, run_rotation, start_rotation

    rt = runtime()
    events = _key_events(rt)
    with unit_of_work(rt.sessions) as session:  # the job first: a crash leaves it to the reaper
        started = start_rotation(session, rt.keys, events, cli_actor())
    (job, resumed), queued_id = started.value, started.jobs[0]
    verb = "resuming" if resumed else "started"
    print(f"{verb} rotation {job.id} to KEK version {job.target_version}", file=sys.stderr)
    reports: list[RotationReport] = []

    def progress(done: int) -> None:
        print(f"\r  rewrapped {done:,}", end="", file=sys.stderr, flush=True)

    def rotate(_job: object) -> None:
        reports.append(
            run_rotation(
                rt.keys,
                job,
                events,
                resumed=resumed,
                batch_size=args.batch_size,
                pause_seconds=args.pause_ms / 1000,
                progress=progress,
            )
        )

    if run_job(rt, queued_id, raise_errors=True, work=rotate) is None:
        print(
            "a rotation is running in another process; `governance keys status` shows it",
            file=sys.stderr,
        )
        return 1
    report = reports[0]
    print(file=sys.stderr)
    integrate(rt, checkpoint=False)
    retired = ", ".join(map(str, report.retired)) or "none"
    print(
        f"KEK version {report.kek_version}: {report.rewrapped:,} data keys rewrapped; "
        f"retired versions: {retired}"
    )
    rt.dispose()
    return 0


def cmd_keys_encrypt_existing(args: argparse.Namespace) -> int:
    from governance.keys.existing import encrypt_existing

    rt = runtime()

    def progress(collection: str, rows: int) -> None:
        print(f"\r  {collection}: {rows:,} rows sealed so far", end="", file=sys.stderr, flush=True)

    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job

    with unit_of_work(rt.sessions) as session:  # recorded first: a crash leaves it resumable
        queued, _ = Jobs(session).enqueue(
            JobKind.KEYS_ENCRYPT_EXISTING, actor=cli_actor(), exclusive="keys.encrypt_existing"
        )
        queued_id = queued.id
    reports: list[Any] = []

    def seal(_job: object) -> None:
        reports.append(
            encrypt_existing(
                rt.sessions,
                rt.policy.datamap,
                rt.tables,
                rt.crypto,
                _key_events(rt),
                batch_size=args.batch_size,
                progress=progress,
            )
        )

    if run_job(rt, queued_id, raise_errors=True, work=seal) is None:
        print("sealing existing values runs in another process", file=sys.stderr)
        return 1
    report = reports[0]
    print(file=sys.stderr)
    integrate(rt, checkpoint=False)
    print(
        f"{'resumed' if report.resumed else 'done'}: {report.rows:,} rows, "
        f"{report.sealed:,} values sealed, {report.indexed:,} blind indexes filled"
    )
    if report.without_subject or report.unreadable:
        print(
            f"left as they are: {report.without_subject:,} values in rows of no subject, "
            f"{report.unreadable:,} values not of their field's type (fix, then run again)"
        )
    rt.dispose()
    return 0
