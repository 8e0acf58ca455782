"""The keys package's jobs: a KEK rotation and the sealing of values written before their
field was encrypted. Registered where the process is put together (``governance.runtime``).
"""

from __future__ import annotations

from audit.events import Actor
from governance.jobs.handlers import JobHandlers
from governance.jobs.models import Job
from governance.jobs.service import JobKind
from governance.keys import rotation
from governance.keys.events import KeyEvents
from governance.keys.existing import encrypt_existing as seal_existing
from governance.shared import Shared


def register(handlers: JobHandlers) -> None:
    handlers.register(JobKind.KEYS_ROTATE, rotate_keys)
    handlers.register(JobKind.KEYS_ENCRYPT_EXISTING, encrypt_existing)


def _events(runtime: Shared, job: Job) -> KeyEvents:
    return KeyEvents(
        runtime.sessions,
        runtime.audit,
        Actor(id=job.requested_by, role=job.requested_role),
        runtime.policy.version,
        request_id=job.trace_id,
    )


def rotate_keys(runtime: Shared, job: Job) -> None:
    events = _events(runtime, job)
    key_job, resumed = rotation.begin_rotation(runtime.keys, events)
    rotation.run_rotation(runtime.keys, key_job, events, resumed=resumed)


def encrypt_existing(runtime: Shared, job: Job) -> None:
    seal_existing(
        runtime.sessions,
        runtime.policy.datamap,
        runtime.tables,
        runtime.crypto,
        _events(runtime, job),
    )
