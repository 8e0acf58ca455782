"""The ``governance`` command: operate the service from a shell.

Each command opens the runtime from the environment's settings, runs one unit of work and
records what it changed in the audit log as the CLI user. Output meant for scripts is on the
last line (a new key) or in ``--json``; nothing personal is ever printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from audit.events import AuditEvent, Target
from governance.audit_actions import AuditAction
from governance.authz import Role
from governance.clients.services import ClientService
from governance.db import UNAVAILABLE_ERRORS, unit_of_work
from governance.errors import GovernanceError, SettingsError
from governance.runtime import Runtime, cli_actor, open_runtime
from governance.settings import Settings
from governance.timestamps import as_utc
from policies.errors import PolicyFileError

#: what a command meets when a file or a store fails under it (one line, exit 2)
COMMAND_FAILURES: tuple[type[BaseException], ...] = (OSError, *UNAVAILABLE_ERRORS)


class UsageError(Exception):
    """A command given options or files it cannot use: one line, exit status 2."""


def _runtime() -> Runtime:
    return open_runtime(Settings.from_env())


def _record(rt: Runtime, session: Any, action: AuditAction, **kwargs: Any) -> None:
    rt.audit.record(
        session,
        AuditEvent(
            action=str(action), actor=cli_actor(), policy_version=rt.policy.version, **kwargs
        ),
    )


def _integrate(rt: Runtime, checkpoint: bool = True) -> None:
    with unit_of_work(rt.sessions) as session:
        rt.audit.integrate(session, checkpoint=checkpoint)


# -- db ---------------------------------------------------------------------------------
def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from governance.migrate import upgrade, upgrade_keystore

    settings = Settings.from_env()
    upgrade(settings.database_url, args.revision)
    upgrade_keystore(settings.keystore_url)
    print(f"database and key store migrated to {args.revision}")
    return 0


def cmd_init(_args: argparse.Namespace) -> int:
    from governance.startup import initialise

    settings = Settings.from_env()
    created = initialise(settings)
    for path in created:
        print(f"created {path} (0600): back it up, apart from the stores")
    print("database and key store migrated; keys ready")
    return 0


# -- clients ----------------------------------------------------------------------------
def cmd_clients_create(args: argparse.Namespace) -> int:
    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        issued = ClientService(session, rt.policy.purposes.ids()).create(
            args.name, args.role, args.purpose or ())
        _record(rt, session, AuditAction.CLIENT_CREATED, target=Target(record_id=issued.client.id),
                details={"client_id": issued.client.id, "role": issued.client.role,
                         "purposes": issued.client.purposes})
    _integrate(rt, checkpoint=False)
    if args.json:
        print(json.dumps({"id": issued.client.id, "key": issued.key}))
    else:
        print(f"created client {issued.client.name} ({issued.client.id}), "
              f"role {issued.client.role}")
        print("the key is shown once; store it now:")
        print(issued.key)
    return 0


def cmd_clients_list(args: argparse.Namespace) -> int:
    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        clients: list[dict[str, Any]] = [
            {"id": c.id, "name": c.name, "role": c.role, "purposes": c.purposes,
             "key_prefix": c.key_prefix, "created_at": c.created_at.isoformat(),
             "revoked": c.revoked_at is not None}
            for c in ClientService(session).list()
        ]
    if args.json:
        print(json.dumps(clients, indent=2))
        return 0
    print(f"{'id':32}  {'name':24} {'role':18} {'key':10} {'state':8} purposes")
    for c in clients:
        state = "revoked" if c["revoked"] else "active"
        print(f"{c['id']:32}  {c['name']:24} {c['role']:18} {c['key_prefix']:10} {state:8} "
              f"{','.join(c['purposes'])}")
    return 0


def cmd_clients_revoke(args: argparse.Namespace) -> int:
    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        client = ClientService(session).revoke(args.client)
        _record(rt, session, AuditAction.CLIENT_REVOKED, target=Target(record_id=client.id),
                details={"client_id": client.id, "revoked": True})
    _integrate(rt, checkpoint=False)
    print(f"revoked client {client.name} ({client.id})")
    return 0


# -- console users ----------------------------------------------------------------------
def _users(rt: Runtime, session: Any) -> Any:
    from governance.users.services import UserService

    return UserService(session, rt.audit, cli_actor(), rt.policy.version)


def cmd_users_create(args: argparse.Namespace) -> int:
    import getpass

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not args.one_time:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("governance: the passwords differ", file=sys.stderr)
            return 2
    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        created = _users(rt, session).create(args.name, args.role, password)
        user_id, name, role = created.user.id, created.user.name, created.user.role
    _integrate(rt, checkpoint=False)
    print(f"created console user {name} ({user_id}), role {role}")
    if created.one_time_password is not None:
        print("one-time password (shown once; it must be changed at the first sign-in):")
        print(created.one_time_password)
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        users = [{"id": u.id, "name": u.name, "role": u.role,
                  "disabled": u.disabled_at is not None,
                  "locked": (u.locked_until is not None
                             and as_utc(u.locked_until) > datetime.now(UTC))}
                 for u in _users(rt, session).list()]
    if args.json:
        print(json.dumps(users, indent=2))
        return 0
    for u in users:
        state = "disabled" if u["disabled"] else "locked" if u["locked"] else "active"
        print(f"{u['id']:32}  {u['name']:24} {u['role']:18} {state}")
    return 0


# -- audit ------------------------------------------------------------------------------
def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.file is not None:
        return _audit_verify_offline(args)
    rt = _runtime()
    _integrate(rt)
    with unit_of_work(rt.sessions) as session:
        report = rt.audit.verify(session)
    print(f"tree size {report.tree_size}, root {report.root_hash.hex()}, "
          f"{report.checkpoints_checked} checkpoint(s) checked, {report.pending} pending")
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

    signer = _runtime().audit.signer
    print(f"verifier key: {signer.verifier_key}")
    print(f"fingerprint: {fingerprint(signer.public_key_bytes)}")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    rt = _runtime()
    _integrate(rt)
    with unit_of_work(rt.sessions) as session:
        _record(rt, session, AuditAction.AUDIT_EXPORTED)
    _integrate(rt)
    with unit_of_work(rt.sessions) as session:
        if args.output == "-":
            count = rt.audit.export(session, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                count = rt.audit.export(session, out)
    print(f"exported {count} events", file=sys.stderr)
    return 0


# -- keys -------------------------------------------------------------------------------
def _key_events(rt: Runtime) -> Any:
    from governance.keys.events import KeyEvents

    return KeyEvents(rt.sessions, rt.audit, cli_actor(), rt.policy.version)


def cmd_keys_status(args: argparse.Namespace) -> int:
    from governance.keys.status import key_status

    rt = _runtime()
    status = key_status(rt.keys)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print(f"provider {status['provider']}, current KEK version {status['current_version']}")
    for v in status["versions"]:
        state = "current" if v["current"] else ("retired" if v["retired_at"] else "live")
        print(f"  version {v['version']:>3}  {state:8} data keys {v['data_keys']:>9,}  "
              f"created {v['created_at']}")
    print(f"data keys: {status['live_data_keys']:,} live, "
          f"{status['shredded_data_keys']:,} shredded")
    job = status["rotation"]
    if job is not None:
        print(f"last rotation {job['id']}: {job['state']}, to version {job['kek_version']}, "
              f"{job['processed']:,} rewrapped")
    rt.dispose()
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job
    from governance.keys.rotation import RotationReport, begin_rotation, run_rotation

    rt = _runtime()
    events = _key_events(rt)
    with unit_of_work(rt.sessions) as session:  # the job first: a crash leaves it to the reaper
        queued, _ = Jobs(session).enqueue(JobKind.KEYS_ROTATE, actor=cli_actor(),
                                          exclusive="keys.rotate")
        queued_id = queued.id
    reports: list[RotationReport] = []

    def progress(done: int) -> None:
        print(f"\r  rewrapped {done:,}", end="", file=sys.stderr, flush=True)

    def rotate(_job: object) -> None:
        job, resumed = begin_rotation(rt.keys, events)
        verb = "resuming" if resumed else "started"
        print(f"{verb} rotation {job.id} to KEK version {job.target_version}", file=sys.stderr)
        reports.append(run_rotation(rt.keys, job, events, resumed=resumed,
                                    batch_size=args.batch_size,
                                    pause_seconds=args.pause_ms / 1000, progress=progress))

    if run_job(rt, queued_id, raise_errors=True, work=rotate) is None:
        print("a rotation is running in another process; `governance keys status` shows it",
              file=sys.stderr)
        return 1
    report = reports[0]
    print(file=sys.stderr)
    _integrate(rt, checkpoint=False)
    retired = ", ".join(map(str, report.retired)) or "none"
    print(f"KEK version {report.kek_version}: {report.rewrapped:,} data keys rewrapped; "
          f"retired versions: {retired}")
    rt.dispose()
    return 0


def cmd_keys_encrypt_existing(args: argparse.Namespace) -> int:
    from governance.keys.existing import encrypt_existing

    rt = _runtime()

    def progress(collection: str, rows: int) -> None:
        print(f"\r  {collection}: {rows:,} rows sealed so far", end="", file=sys.stderr, flush=True)

    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job

    with unit_of_work(rt.sessions) as session:  # recorded first: a crash leaves it resumable
        queued, _ = Jobs(session).enqueue(JobKind.KEYS_ENCRYPT_EXISTING, actor=cli_actor(),
                                          exclusive="keys.encrypt_existing")
        queued_id = queued.id
    reports: list[Any] = []

    def seal(_job: object) -> None:
        reports.append(encrypt_existing(rt.sessions, rt.policy.datamap, rt.tables, rt.crypto,
                                        _key_events(rt), batch_size=args.batch_size,
                                        progress=progress))

    if run_job(rt, queued_id, raise_errors=True, work=seal) is None:
        print("sealing existing values runs in another process", file=sys.stderr)
        return 1
    report = reports[0]
    print(file=sys.stderr)
    _integrate(rt, checkpoint=False)
    print(f"{'resumed' if report.resumed else 'done'}: {report.rows:,} rows, "
          f"{report.sealed:,} values sealed, {report.indexed:,} blind indexes filled")
    if report.without_subject or report.unreadable:
        print(f"left as they are: {report.without_subject:,} values in rows of no subject, "
              f"{report.unreadable:,} values not of their field's type (fix, then run again)")
    rt.dispose()
    return 0


# -- policy -----------------------------------------------------------------------------
def cmd_policy_check(args: argparse.Namespace) -> int:
    from policies.loader import load_policy_set
    from policies.summary import access_summary

    policy = load_policy_set(Settings.from_env().policy_dir)
    datamap = policy.datamap
    print(f"policy version {policy.version}")
    print(f"{'collection':20} {'relation':8} {'fields':>6} {'encrypted':>9} "
          f"{'retention':9} erasure")
    for c in datamap.collections.values():
        enc = sum(f.encrypted for f in c.fields.values())
        print(f"{c.name:20} {c.relation:8} {len(c.fields):>6} {enc:>9} "
              f"{c.retention.period.text:9} {c.erasure.strategy}")
    print()
    print(f"{'purpose':28} {'legal basis':20} {'consent':7} {'object':6} {'sells':5} "
          f"{'restricted':12} data use")
    for p in policy.purposes:
        print(f"{p.id:28} {p.legal_basis:20} {_yes(p.requires_consent):7} "
              f"{_yes(p.objectable):6} {_yes(p.sells_or_shares):5} "
              f"{p.restriction_exemption or 'stops':12} {p.data_use}")
    print()
    print("what each purpose may see (field, or field:mask; * = may also write; "
          "anything not listed is denied)")
    for purpose in access_summary(policy.access, policy.purposes):
        print(f"{purpose.purpose}  (free text with undeclared PII: {purpose.free_text_pii})")
        for grants in purpose.collections:
            print(f"  {grants.collection:20} {', '.join(g.label for g in grants.fields)}")
    return 0


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


# -- consent ----------------------------------------------------------------------------
def cmd_consent_verify(args: argparse.Namespace) -> int:
    from governance.consent.services import rebuild_state, state_differences

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        differences = state_differences(session)
        for d in differences[:50]:
            print(f"DIFFERS: {d.key}: stored {d.stored!r}, history says {d.computed!r}")
        if differences and args.rebuild:
            rows = rebuild_state(session)
            _record(rt, session, AuditAction.CONSENT_REBUILT, details={"rows": rows})
            print(f"rebuilt the consent state from the history ({rows} rows)")
    if not differences:
        print("ok: the consent state agrees with the history")
        return 0
    print(f"{len(differences)} difference(s)" + ("" if args.rebuild else "; --rebuild fixes them"))
    return 0 if args.rebuild else 1


# -- pii --------------------------------------------------------------------------------
def cmd_pii_scan(args: argparse.Namespace) -> int:
    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job

    rt = _runtime()
    scans = rt.pii_scans()
    with unit_of_work(rt.sessions) as session:
        if args.resume:
            scan_id = args.resume
        else:
            from governance.pii.errors import ScanInProgress

            scan, created = scans.request(
                session, sample=args.sample or rt.settings.pii_scan_sample,
                requested_by=cli_actor().id)
            if not created:  # one scan at a time; running it here too would run it twice
                raise ScanInProgress(scan.id)
            scan_id = scan.id
            _record(rt, session, AuditAction.PII_SCAN_REQUESTED, target=Target(record_id=scan_id),
                    details={"count": scan.fields_total})
        job, _ = Jobs(session).enqueue(JobKind.PII_SCAN, scan_id, actor=cli_actor(),
                                       exclusive=f"pii.scan:{scan_id}")
        job_id = job.id
    print(f"scan {scan_id}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        print(f"  {done}/{total} fields", file=sys.stderr, flush=True)

    if run_job(rt, job_id, raise_errors=True,
               work=lambda _job: scans.run(scan_id, progress=progress)) is None:
        print("the scan is running in another process", file=sys.stderr)
        return 1
    _integrate(rt, checkpoint=False)
    with unit_of_work(rt.sessions) as session:
        report = scans.report(session, scan_id)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"{'collection.field':40} {'category':34} {'method':13} {'n':>4}  entity types (values)")
    for f in report["fields"]:
        found = ", ".join(f"{t} ({v['values']})" for t, v in f.get("entities", {}).items())
        print(f"{f['collection'] + '.' + f['field']:40} {f.get('category', ''):34} "
              f"{f.get('method', ''):13} {f.get('sampled', 0):>4}  {found}")
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
    print("\nindependent sources, held-out halves of fresh fillings, ours beside plain Presidio "
          "(mean / worst split):")
    print(independent)
    return 0 if report.meets_targets else 1


# -- data-subject requests ---------------------------------------------------------------
def cmd_requests_list(args: argparse.Namespace) -> int:
    from governance.requests.services import QueueFilter, RequestService, statuses_named

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        query = QueueFilter(statuses=statuses_named(args.status or ()),
                            overdue=True if args.overdue else None,
                            due_within_days=args.due_within)
        items, _ = RequestService(session, rt, cli_actor()).list(query, limit=500)
        _record(rt, session, AuditAction.REQUEST_LISTED, details={"count": len(items)})
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
                {"id": r.id, "type": r.type, "regulation": r.regulation, "status": r.status,
                 "subject_id": r.subject_id, "received_at": _iso(r.received_at),
                 "due_at": _iso(r.due_at), "extended": r.extended,
                 "overdue": r.is_overdue(now)}
                for r in items]
    _integrate(rt, checkpoint=False)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':32}  {'type':13} {'law':4} {'status':11} {'due (UTC)':20} flags")
    for r in rows:
        flags = " ".join(f for f, on in (("OVERDUE", r["overdue"]), ("extended", r["extended"]))
                         if on)
        print(f"{r['id']:32}  {r['type']:13} {r['regulation']:4} {r['status']:11} "
              f"{r['due_at'][:19]:20} {flags}")
    print(f"{len(rows)} request(s)")
    return 0


def cmd_requests_execute(args: argparse.Namespace) -> int:
    """Execute (or resume) requests in this process; a crash's leftovers with --all."""
    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job
    from governance.requests.services import RequestService, unfinished

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        ids = unfinished(session) if args.all else [args.request_id]
        service = RequestService(session, rt, cli_actor())
        jobs = {}
        for request_id in ids:
            service.start(request_id)
            job, _ = Jobs(session).enqueue(JobKind.REQUEST_EXECUTE, request_id,
                                           actor=cli_actor(),
                                           exclusive=f"request.execute:{request_id}")
            jobs[request_id] = job.id
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
    _integrate(rt, checkpoint=False)
    rt.dispose()
    return 1 if failed else 0


def cmd_requests_purge_exports(args: argparse.Namespace) -> int:
    from governance.requests.services import RequestService

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        count = RequestService(session, rt, cli_actor()).purge_exports()
    _integrate(rt, checkpoint=False)
    print(f"deleted {count} export(s) past their retention period")
    return 0


# -- retention --------------------------------------------------------------------------
def cmd_retention_plan(args: argparse.Namespace) -> int:
    """What is due per rule: counts, the oldest due date, how many are held; ids only with
    --ids (never values)."""
    from governance.retention.sweep import RetentionSweep

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        rules = RetentionSweep(rt, cli_actor()).plan(session, ids=args.ids)
        _record(rt, session, AuditAction.RETENTION_PLAN_READ,
                details={"count": sum(r["due"] for r in rules),
                         "held": sum(r["held"] for r in rules)})
    _integrate(rt, checkpoint=False)
    if args.json:
        print(json.dumps(rules, indent=2))
        return 0
    print(f"{'rule':34} {'period':7} {'from':12} {'due':>8} {'held':>6}  oldest due")
    for r in rules:
        print(f"{r['rule']:34} {r['period']:7} {r['counted_from']:12} {r['due']:>8} "
              f"{r['held']:>6}  {(r['oldest_due'] or '-')[:10]}")
        for record_id in r.get("ids", []):
            print(f"    {record_id}")
    print(f"{sum(r['due'] for r in rules)} record(s) due, {sum(r['held'] for r in rules)} held")
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    """Sweep in this process (resuming an unfinished run first); meant for a daily timer.
    The run is swept as its job, recorded with it before any batch: if this process is
    killed, its lease lapses and the reaper (or a worker) resumes the run to the end."""
    from governance.jobs.service import JobKind, Jobs
    from governance.jobs.work import run_job
    from governance.retention.sweep import RetentionSweep

    rt = _runtime()
    sweeper = RetentionSweep(rt, cli_actor())
    with unit_of_work(rt.sessions) as session:
        run = sweeper.create(session, dry_run=args.dry_run, batch_size=args.batch_size)
        run_id, resumed = run.id, run.started_at is not None
        job, _ = Jobs(session).enqueue(JobKind.RETENTION_SWEEP, run_id, actor=cli_actor(),
                                       exclusive=f"retention.sweep:{run_id}")
        job_id = job.id
    if resumed:
        print(f"resuming unfinished run {run_id}")
    swept: list[Any] = []
    if run_job(rt, job_id, raise_errors=True, work=lambda _job: swept.append(
            sweeper.run(run_id))) is None:
        print(f"run {run_id} is being swept by another process, or its job waits to be "
              f"retried (`governance jobs show {job_id}`)", file=sys.stderr)
        rt.dispose()
        return 1
    done = swept[0]
    _integrate(rt, checkpoint=False)
    rt.dispose()
    totals = done.totals or {}
    if args.json:
        print(json.dumps({"id": done.id, "state": done.state, "dry_run": done.dry_run,
                          "totals": totals}, indent=2))
        return 0
    print(f"run {done.id}: {done.state}{' (dry run: nothing changed)' if done.dry_run else ''}")
    for name, value in totals.items():
        print(f"  {name}: {value}")
    return 0


# -- the record of processing ------------------------------------------------------------
def cmd_ropa_export(args: argparse.Namespace) -> int:
    """The record of processing activities (Art. 30) as JSON, CSV or XLSX."""
    from governance.ropa.formats import to_csv, to_xlsx
    from governance.ropa.record import build_record

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        document = build_record(session, rt)
        _record(rt, session, AuditAction.ROPA_READ,
                details={"count": len(document["processing"]), "type": args.format})
    _integrate(rt, checkpoint=False)
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
        print(f"wrote the record of processing ({len(document['processing'])} purposes, "
              f"{args.format}) to {args.output}")
    return 0


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat()


# -- serve and demo ---------------------------------------------------------------------
# -- jobs -------------------------------------------------------------------------------
def _job_line(job: Any) -> str:
    error = f"  {job.error_code}" if job.error_code else ""
    return (f"{job.id}  {job.kind:22} {job.state:9} {job.attempts}/{job.max_attempts}  "
            f"{job.target_id or '-'}{error}")


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from governance.jobs.service import Jobs

    rt = _runtime()
    with rt.sessions() as session:
        jobs = Jobs(session).list(kind=args.kind, states=tuple(args.state or ()),
                                  limit=args.limit)
        if args.json:
            print(json.dumps([{c: getattr(j, c) for c in _JOB_FIELDS} for j in jobs],
                             indent=2, default=str))
        else:
            for job in jobs:
                print(_job_line(job))
    rt.dispose()
    return 0


_JOB_FIELDS = ("id", "kind", "target_id", "queue", "state", "attempts", "max_attempts",
               "not_before", "lease_until", "worker", "error_code", "error_message",
               "requested_by", "created_at", "started_at", "finished_at")


def cmd_jobs_show(args: argparse.Namespace) -> int:
    from governance.jobs.service import Jobs

    rt = _runtime()
    with rt.sessions() as session:
        job = Jobs(session).get(args.job_id)
        print(json.dumps({c: getattr(job, c) for c in _JOB_FIELDS}, indent=2, default=str))
    rt.dispose()
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    from governance.jobs.service import Jobs
    from governance.jobs.work import retry_policy

    rt = _runtime()
    with unit_of_work(rt.sessions) as session:
        job = Jobs(session, retry_policy(rt)).retry_now(args.job_id)
        _record(rt, session, AuditAction.JOB_RETRIED, target=Target(record_id=job.id),
                details={"type": job.kind, "attempts": job.attempts})
        job_id = job.id
    if rt.settings.task_runner == "celery":
        rt.task_runner.deliver([job_id])
    print(f"{job_id}: queued again; a worker (or the reaper) runs it")
    rt.dispose()
    return 0


def cmd_jobs_reap(args: argparse.Namespace) -> int:
    """One reaper round by hand (the embedded default runs it in `governance serve`)."""
    from governance.jobs.reaper import reap

    rt = _runtime()
    report = reap(rt, rt.task_runner.deliver)
    print(f"{report.requeued} requeued, {report.dead} dead, {report.delivered} delivered")
    rt.dispose()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from governance.jobs.celery_app import QUEUES, worker_main

    settings = Settings.from_env()
    if settings.task_runner != "celery":
        raise SettingsError("governance worker needs GOVERNANCE_TASK_RUNNER=celery and "
                            "GOVERNANCE_BROKER_URL")
    # Fail here, in one line, if a store or key is wrong; never create a key.
    open_runtime(settings, create_keys=False).dispose()
    worker_main(settings, args.concurrency, args.queues or list(QUEUES))
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from pathlib import Path

    from governance.jobs.celery_app import schedule_file, scheduler_main

    settings = Settings.from_env()
    if settings.task_runner != "celery":
        raise SettingsError("governance scheduler needs GOVERNANCE_TASK_RUNNER=celery and "
                            "GOVERNANCE_BROKER_URL")
    var_dir = Path(os.environ.get("GOVERNANCE_VAR_DIR", "var")).resolve()
    scheduler_main(settings, str(schedule_file(var_dir)))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api.serving import serve
    from governance.startup import check_service

    settings = Settings.from_env()
    check_service(settings)  # fail here, once, with the setting's name, not in each worker
    extra = {} if args.threads is None else {"threads": args.threads}
    serve(settings, host=args.host, port=args.port, workers=args.workers, **extra)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from governance.demo_setup import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="governance", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser(
        "init",
        help="first run: migrate both stores and create the key file and the signing key "
             "(never over keys the stores say existed)",
    )
    init.set_defaults(func=cmd_init)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    up = db.add_parser(
        "upgrade",
        help="apply the migrations to GOVERNANCE_DATABASE_URL and GOVERNANCE_KEYSTORE_URL",
    )
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    clients = sub.add_parser("clients", help="API clients").add_subparsers(
        dest="clients", required=True
    )
    create = clients.add_parser("create", help="create a client and print its key once")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--purpose", action="append", help="a purpose an application may use")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=cmd_clients_create)
    listing = clients.add_parser("list", help="list clients (never their keys)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_clients_list)
    revoke = clients.add_parser("revoke", help="revoke a client's key")
    revoke.add_argument("client", help="client id or name")
    revoke.set_defaults(func=cmd_clients_revoke)

    users = sub.add_parser("users", help="console users (people)").add_subparsers(
        dest="users", required=True)
    ucreate = users.add_parser("create", help="create a console user; the password is prompted")
    ucreate.add_argument("name")
    ucreate.add_argument("--role", required=True,
                         choices=["admin", "compliance_officer", "auditor"])
    how = ucreate.add_mutually_exclusive_group()
    how.add_argument("--one-time", action="store_true",
                     help="print a one-time password, to be changed at the first sign-in")
    how.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    ucreate.set_defaults(func=cmd_users_create)
    ulist = users.add_parser("list", help="list console users (never their passwords)")
    ulist.add_argument("--json", action="store_true")
    ulist.set_defaults(func=cmd_users_list)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit", required=True
    )
    verify = audit.add_parser(
        "verify", help="recompute the tree and check every checkpoint; with --file, check an "
                       "export offline against a pinned key")
    verify.add_argument("--file", metavar="EXPORT", help="an export (governance audit export)")
    verify.add_argument("--key", metavar="VERIFIER_KEY",
                        help="the verifier key you pinned (or a file holding it)")
    verify.add_argument("--checkpoint", metavar="OLD",
                        help="a checkpoint note you kept: the export must extend it")
    verify.set_defaults(func=cmd_audit_verify)
    key = audit.add_parser("key", help="print the checkpoint verifier key and its fingerprint")
    key.set_defaults(func=cmd_audit_key)
    export = audit.add_parser("export", help="write the log as JSON Lines with its checkpoint")
    export.add_argument("--output", "-o", default="-")
    export.set_defaults(func=cmd_audit_export)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys", required=True)
    kstatus = keys.add_parser("status", help="KEK versions, data keys per version, rotation")
    kstatus.add_argument("--json", action="store_true")
    kstatus.set_defaults(func=cmd_keys_status)
    rotate = keys.add_parser(
        "rotate", help="new KEK version, rewrap every data key (resumes an unfinished rotation)"
    )
    rotate.add_argument("--batch-size", type=_positive, default=1000)
    rotate.add_argument("--pause-ms", type=_non_negative, default=0,
                        help="pause between batches, to spare a busy key store")
    rotate.set_defaults(func=cmd_keys_rotate)
    existing = keys.add_parser(
        "encrypt-existing",
        help="seal plaintext values of encrypted fields (adopted stores); resumable",
    )
    existing.add_argument("--batch-size", type=_positive, default=500)
    existing.set_defaults(func=cmd_keys_encrypt_existing)

    policy = sub.add_parser("policy", help="policy files").add_subparsers(
        dest="policy", required=True
    )
    check = policy.add_parser("check", help="validate the policy files and summarise them")
    check.set_defaults(func=cmd_policy_check)

    consent = sub.add_parser("consent", help="consent records").add_subparsers(
        dest="consent", required=True)
    verify_consent = consent.add_parser(
        "verify", help="check the materialised consent state against the history")
    verify_consent.add_argument("--rebuild", action="store_true",
                                help="recompute the state from the history if they differ")
    verify_consent.set_defaults(func=cmd_consent_verify)

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

    requests = sub.add_parser("requests", help="data-subject requests").add_subparsers(
        dest="requests", required=True)
    rlist = requests.add_parser("list", help="the queue: open requests by due time")
    rlist.add_argument("--overdue", action="store_true", help="only those past their due time")
    rlist.add_argument("--due-within", type=_non_negative, metavar="DAYS",
                       help="only those due within DAYS days (7: this week)")
    rlist.add_argument("--status", action="append", metavar="STATUS",
                       choices=["received", "verified", "in_progress", "on_hold", "completed",
                                "failed", "rejected", "open", "closed"],
                       help="a status, open or closed (repeat for several; default: open)")
    rlist.add_argument("--json", action="store_true")
    rlist.set_defaults(func=cmd_requests_list)
    rexec = requests.add_parser(
        "execute", help="execute a verified request, or resume one a crash interrupted")
    target = rexec.add_mutually_exclusive_group(required=True)
    target.add_argument("request_id", nargs="?")
    target.add_argument("--all", action="store_true", help="resume every request in progress")
    rexec.set_defaults(func=cmd_requests_execute)
    purge = requests.add_parser("purge-exports", help="delete exports past their retention")
    purge.set_defaults(func=cmd_requests_purge_exports)

    jobs = sub.add_parser("jobs", help="background jobs").add_subparsers(
        dest="jobs", required=True)
    jlist = jobs.add_parser("list", help="jobs, newest first")
    jlist.add_argument("--kind", choices=["request.execute", "pii.scan", "keys.rotate",
                                          "keys.encrypt_existing", "exports.purge",
                                          "audit.integrate"])
    jlist.add_argument("--state", action="append",
                       choices=["queued", "running", "succeeded", "failed", "dead"],
                       help="a state (repeat for several)")
    jlist.add_argument("--limit", type=int, default=50)
    jlist.add_argument("--json", action="store_true")
    jlist.set_defaults(func=cmd_jobs_list)
    jshow = jobs.add_parser("show", help="one job")
    jshow.add_argument("job_id")
    jshow.set_defaults(func=cmd_jobs_show)
    jretry = jobs.add_parser("retry", help="queue a dead or failed job again")
    jretry.add_argument("job_id")
    jretry.set_defaults(func=cmd_jobs_retry)
    jreap = jobs.add_parser("reap", help="one reaper round: requeue lapsed leases, deliver")
    jreap.set_defaults(func=cmd_jobs_reap)

    worker = sub.add_parser("worker", help="run a Celery worker (GOVERNANCE_TASK_RUNNER=celery)")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument("--queues", action="append", choices=["interactive", "bulk"],
                        help="queues to serve (repeat; default both)")
    worker.set_defaults(func=cmd_worker)
    scheduler = sub.add_parser("scheduler", help="run the one Celery beat process (periodic work)")
    scheduler.set_defaults(func=cmd_scheduler)
    retention = sub.add_parser("retention", help="retention sweeps").add_subparsers(
        dest="retention", required=True)
    rplan = retention.add_parser("plan", help="what is due per rule, and what is held")
    rplan.add_argument("--json", action="store_true")
    rplan.add_argument("--ids", action="store_true", help="also list the due records' ids")
    rplan.set_defaults(func=cmd_retention_plan)
    rrun = retention.add_parser("run", help="sweep now (resumes an unfinished run first)")
    rrun.add_argument("--dry-run", action="store_true", help="record the plan, change nothing")
    rrun.add_argument("--batch-size", type=_positive, default=None, metavar="N",
                      help="records per committed batch (default 500)")
    rrun.add_argument("--json", action="store_true")
    rrun.set_defaults(func=cmd_retention_run)

    ropa = sub.add_parser("ropa", help="the record of processing activities").add_subparsers(
        dest="ropa", required=True)
    rexport = ropa.add_parser("export", help="write the Art. 30 record (and CCPA view)")
    rexport.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    rexport.add_argument("-o", "--output", default="-", metavar="FILE",
                         help="the file to write (default: stdout, not for xlsx)")
    rexport.set_defaults(func=cmd_ropa_export)

    serve = sub.add_parser("serve", help="serve the API under gunicorn")
    _serving_args(serve)
    serve.add_argument("--threads", type=int, default=None,
                       help="requests each worker runs at once (default 8)")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="create a demo store, demo clients, and serve it")
    demo.add_argument("--customers", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=20261123)
    demo.add_argument("--no-serve", action="store_true", help="fill the store and exit")
    _serving_args(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _serving_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PolicyFileError as exc:
        print(f"governance: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"governance: {exc}", file=sys.stderr)
        return 2
    except GovernanceError as exc:
        print(f"governance: {exc.detail}", file=sys.stderr)
        for name, messages in exc.extra.get("errors", {}).items():
            print(f"  {name}: {'; '.join(messages)}", file=sys.stderr)
        return 2
    except COMMAND_FAILURES as exc:  # a file or a store failing under a command
        from governance.startup import one_line

        print(f"governance: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
