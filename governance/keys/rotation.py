"""KEK rotation: a new KEK version, then every data key rewrapped under it, in batches.

The job survives a crash at any point:
- the new version is written to the key file atomically before any data key uses it;
- each batch stores its new wrappings and the job's resume point in one key-store
  transaction, and each update applies only if the row still holds the wrapping it was read
  with (so a key shredded meanwhile stays shredded, and two workers resuming the same job
  cannot undo each other);
- a restart finds the running job (or, if the crash came between the new version and the
  job row, keys wrapped by an older version) and continues rather than starting over;
- an old version is retired (its key bytes deleted from the key file) only once a final
  pass from the start finds no data key that still refers to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from audit.events import Actor
from governance.audit_actions import AuditAction
from governance.authz import Permission, require
from governance.jobs.after_commit import AfterCommit
from governance.jobs.service import JobKind, Jobs
from governance.keys.events import KeyAuditor
from governance.keys.keystore import KeyJob
from governance.keys.local import LocalKeyProvider
from governance.keys.services import KeyService

ROTATION = "rotation"
DEFAULT_BATCH = 1000
# A progress event per this many rewrapped keys: enough for an auditor to follow a long
# rotation, few enough not to flood the log.
_PROGRESS_EVERY = 10_000


@dataclass
class RotationReport:
    job_id: str
    kek_version: int
    resumed: bool
    rewrapped: int = 0
    retired: list[int] = field(default_factory=list)
    finished: bool = False


def start_rotation(
    session: Session,
    keys: KeyService,
    events: KeyAuditor,
    actor: Actor,
    *,
    trace_id: str | None = None,
) -> AfterCommit[tuple[KeyJob, bool]]:
    """A rotation asked for by ``actor`` (the API, the console, the CLI): its exclusive
    ``keys.rotate`` job, then the new KEK version and the key-store job (or the unfinished
    rotation, resumed: ``True``), audited by ``events``. The job is the caller's to deliver.

    The one use case that commits the caller's session, and only the job row in it: the
    KEK version that follows is made outside any transaction, so the job must be committed
    first; whatever happens next (a kill while the version is made), the reaper finds the
    job and the rotation completes. Call it with nothing else pending in ``session``.
    """
    require(actor.role, Permission.KEYS_ROTATE)
    queued, _ = Jobs(session).enqueue(
        JobKind.KEYS_ROTATE, actor=actor, exclusive="keys.rotate", trace_id=trace_id
    )
    queued_id = queued.id
    session.commit()
    job, resumed = begin_rotation(keys, events)
    return AfterCommit((job, resumed), (queued_id,))


def begin_rotation(keys: KeyService, events: KeyAuditor | None) -> tuple[KeyJob, bool]:
    """The rotation job to run: the unfinished one if there is one (resumed=True), else a new
    KEK version and a job that rewraps every data key under it."""
    running = keys.keystore.running_job(ROTATION)
    if running is not None:
        return running, True
    current = keys.provider.current_version()
    stale = {v: n for v, n in keys.keystore.count_by_version().items() if v != current}
    if stale:
        # A crash came after the new version was made but before its job row: finish that one.
        job = keys.keystore.start_job(ROTATION, current)
        resumed = True
    else:
        version = keys.provider.create_version()
        job = keys.keystore.start_job(ROTATION, version)
        resumed = False
        if events is not None:
            events.record(AuditAction.KEY_KEK_CREATED, {"kek_version": version})
    if events is not None:
        events.record(
            AuditAction.KEY_ROTATION_STARTED,
            {
                "kek_version": job.target_version or 0,
                "job_id": job.id,
                "resumed": resumed,
            },
        )
    return job, resumed


def run_rotation(
    keys: KeyService,
    job: KeyJob,
    events: KeyAuditor | None,
    *,
    resumed: bool = False,
    batch_size: int = DEFAULT_BATCH,
    pause_seconds: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    assert job.target_version is not None
    target = job.target_version
    report = RotationReport(job_id=job.id, kek_version=target, resumed=resumed)
    after = job.position or ""
    since_event = 0
    while True:
        batch = keys.keystore.stale_batch(target, after, batch_size)
        if not batch:
            if after == "":
                break
            after = ""  # a final pass from the start catches keys a stale worker added behind us
            continue
        rewrapped = [(stored, target, keys.rewrap(stored, target)) for stored in batch]
        after = batch[-1].subject_id
        done = keys.keystore.rewrap(rewrapped, job.id, after)
        report.rewrapped += done
        since_event += done
        if progress is not None:
            progress(report.rewrapped)
        if events is not None and since_event >= _PROGRESS_EVERY:
            events.record(
                AuditAction.KEY_REWRAP_PROGRESS,
                {"kek_version": target, "job_id": job.id, "count": report.rewrapped},
            )
            since_event = 0
        if pause_seconds:
            time.sleep(pause_seconds)
    report.retired = retire_unreferenced(keys, target)
    keys.keystore.finish_job(job.id)
    report.finished = True
    if events is not None:
        events.record(
            AuditAction.KEY_ROTATED,
            {
                "kek_version": target,
                "job_id": job.id,
                "count": report.rewrapped,
                "kek_versions": report.retired,
            },
        )
    return report


def retire_unreferenced(keys: KeyService, keep: int) -> list[int]:
    """Retire every KEK version other than ``keep`` that no data key refers to."""
    if not isinstance(keys.provider, LocalKeyProvider) or not keys.provider.writable:
        return []  # a KEK from the environment is retired by removing it there
    referenced = keys.keystore.count_by_version()
    retired = []
    for version in keys.provider.versions():
        if version != keep and not referenced.get(version):
            keys.provider.retire(version)
            retired.append(version)
    return retired


def rotate(keys: KeyService, events: KeyAuditor | None, **options: object) -> RotationReport:
    job, resumed = begin_rotation(keys, events)
    return run_rotation(keys, job, events, resumed=resumed, **options)  # type: ignore[arg-type]
