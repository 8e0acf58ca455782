"""Job runners deliver job ids to workers; the jobs table decides what runs.

``GOVERNANCE_TASK_RUNNER`` chooses one:
- ``thread`` (the embedded default): a thread per delivered job in the serving process, and
  a reaper thread, so a job a killed process left behind is taken up again after a restart
  with nothing typed;
- ``celery``: a Celery task per job on a Redis broker, run by ``governance worker``
  processes, with the reaper on ``governance scheduler``;
- ``inline``: in the caller's thread (tests, scripts, the CLI).

Delivery always follows the commit of the transaction that created the job (``api``: after
the request's commit; the CLI: after its unit of work), so a worker never looks for a job
that is not there yet, and a rolled-back change delivers nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import select

from audit.events import Actor
from governance.db import unit_of_work
from governance.errors import Unavailable
from governance.jobs.broker import send
from governance.jobs.host import JobHost
from governance.jobs.models import Job
from governance.jobs.reaper import reap
from governance.jobs.service import JobKind, Jobs
from governance.jobs.work import run_job

log = logging.getLogger("governance.jobs")


class BrokerUnavailable(Unavailable):
    type = "broker-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "the job is recorded but the job queue did not answer; it is "
            "delivered when the queue is back"
        )


class BrokerBreaker:
    """A circuit breaker per broker address, for this process: a delivery that finds the
    broker down opens it for ``broker_down_seconds``, and while it is open a caller that
    must answer fast (a web request) is told at once instead of each spending a connect
    attempt on it. The jobs are committed either way; the reaper, which always tries,
    delivers them and closes the breaker when the broker answers again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until: dict[str, float] = {}

    def is_open(self, url: str) -> bool:
        with self._lock:
            until = self._down_until.get(url)
            return until is not None and time.monotonic() < until

    def trip(self, url: str, seconds: float) -> None:
        with self._lock:
            self._down_until[url] = time.monotonic() + seconds

    def reset(self, url: str) -> None:
        with self._lock:
            self._down_until.pop(url, None)


BROKER_BREAKER = BrokerBreaker()


class InlineJobRunner:
    """Runs each job in the caller's thread when delivered. Errors propagate (after the job
    recorded them), so a test or a CLI command sees what failed."""

    deliver_on_close = True  # an HTTP response is sent first, as with a real queue

    def __init__(self, runtime: JobHost) -> None:
        self.runtime = runtime

    def deliver(self, job_ids: Sequence[str], *, fail_fast: bool = False) -> None:
        for job_id in job_ids:
            run_job(self.runtime, job_id, raise_errors=True)

    def start_reaper(self) -> None:
        """Nothing runs in the background inline; ``governance jobs reap`` does it by hand."""


class ThreadJobRunner:
    """The embedded default: one daemon thread per delivered job, and a reaper thread."""

    deliver_on_close = False

    def __init__(self, runtime: JobHost) -> None:
        self.runtime = runtime
        self.threads: list[threading.Thread] = []
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def deliver(self, job_ids: Sequence[str], *, fail_fast: bool = False) -> None:
        for job_id in job_ids:
            thread = threading.Thread(
                target=self._run, args=(job_id,), name="governance-job", daemon=True
            )
            with self._lock:
                self.threads = [t for t in self.threads if t.is_alive()] + [thread]
            thread.start()

    def _run(self, job_id: str) -> None:
        try:
            run_job(self.runtime, job_id)
        except Exception as exc:  # noqa: BLE001 - run_job recorded what it could; log the type
            log.error("job %s could not be run: %s", job_id, type(exc).__name__)

    def start_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(
                target=self._reap_forever, name="governance-reaper", daemon=True
            )
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def _reap_forever(self) -> None:
        """The reaper's rounds, and the periodic work the embedded default has no scheduler
        for: the export purge hourly and the retention sweep daily, each an exclusive job
        (several web workers each run this loop; only one of each is ever open)."""
        interval = self.runtime.settings.reaper_interval_seconds
        due = {"exports.purge": time.monotonic(), "retention.sweep": time.monotonic() + 600}
        every = {"exports.purge": 3600, "retention.sweep": 86400}
        while True:
            try:
                for kind, at in due.items():
                    if time.monotonic() >= at:
                        self._periodic(kind)
                        due[kind] = time.monotonic() + every[kind]
                reap(self.runtime, self.deliver)
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("reaper round failed: %s", type(exc).__name__)
            if self._stop.wait(interval):
                return

    def _periodic(self, kind: str) -> None:
        with unit_of_work(self.runtime.sessions) as session:
            job, created = Jobs(session).enqueue(
                JobKind(kind), actor=Actor(id="system", role="system"), exclusive=f"periodic:{kind}"
            )
            job_id = job.id
        if created:
            self.deliver([job_id])


class CeleryJobRunner:
    """Sends each job id to its queue on the Celery broker; ``governance worker`` runs it."""

    deliver_on_close = False

    def __init__(self, runtime: JobHost) -> None:
        self.runtime = runtime

    def deliver(self, job_ids: Sequence[str], *, fail_fast: bool = False) -> None:
        """Send each job id; ``BrokerUnavailable`` if the broker did not take them. With
        ``fail_fast`` (a web request), a broker found down in the last
        ``broker_down_seconds`` is not tried again (``BROKER_BREAKER``)."""
        settings = self.runtime.settings
        if fail_fast and BROKER_BREAKER.is_open(settings.broker_url):
            raise BrokerUnavailable()
        queues = _queues(self.runtime, job_ids)
        try:
            for job_id in job_ids:
                send(settings, job_id, queues.get(job_id, "bulk"))
        except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; all mean "not sent"
            BROKER_BREAKER.trip(settings.broker_url, settings.broker_down_seconds)
            log.error(
                "the broker did not take %d job(s): %s; job-creating requests answer "
                "503 at once for %d s, the reaper delivers the jobs",
                len(job_ids),
                type(exc).__name__,
                settings.broker_down_seconds,
            )
            raise BrokerUnavailable() from None
        BROKER_BREAKER.reset(settings.broker_url)

    def start_reaper(self) -> None:
        """The reaper is a beat task of ``governance scheduler``."""


def _queues(runtime: JobHost, job_ids: Sequence[str]) -> dict[str, str]:
    with runtime.sessions() as session:
        rows = session.execute(select(Job.id, Job.queue).where(Job.id.in_(list(job_ids))))
        return {job_id: queue for job_id, queue in rows}


def make_runner(runtime: JobHost) -> InlineJobRunner | ThreadJobRunner | CeleryJobRunner:
    kind = runtime.settings.task_runner
    if kind == "inline":
        return InlineJobRunner(runtime)
    if kind == "celery":
        return CeleryJobRunner(runtime)
    return ThreadJobRunner(runtime)
