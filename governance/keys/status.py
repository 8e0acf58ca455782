"""What an operator sees of the keys: versions, how many data keys each wraps, the jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from governance.keys.keystore import KeyJob
from governance.keys.local import LocalKeyProvider
from governance.keys.rotation import ROTATION
from governance.keys.services import KeyService


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def job_view(job: KeyJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "kek_version": job.target_version,
        "processed": job.processed,
        "started_at": _utc(job.started_at),
        "finished_at": _utc(job.finished_at),
    }


def key_status(keys: KeyService) -> dict[str, Any]:
    per_version = keys.keystore.count_by_version()
    counts = keys.keystore.counts()
    provider = keys.provider
    if isinstance(provider, LocalKeyProvider):
        versions = provider.describe()
        name = "local-file" if provider.writable else "local-env"
    else:  # pragma: no cover - another provider describes what it can
        versions = [
            {
                "version": v,
                "created_at": None,
                "retired_at": None,
                "current": v == provider.current_version(),
            }
            for v in provider.versions()
        ]
        name = type(provider).__name__
    for entry in versions:
        entry["data_keys"] = per_version.get(entry["version"], 0)
    return {
        "provider": name,
        "current_version": provider.current_version(),
        "versions": versions,
        "live_data_keys": counts["live"],
        "shredded_data_keys": counts["shredded"],
        "rotation": job_view(
            keys.keystore.running_job(ROTATION) or keys.keystore.latest_job(ROTATION)
        ),
    }
