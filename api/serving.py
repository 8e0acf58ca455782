"""Run the HTTP app under gunicorn, a production WSGI server, from inside the CLI.

The serving model: a few worker processes, each with a bounded pool of threads
(``api.gunicorn_worker.ProblemThreadWorker``). A worker's event loop holds the idle and
slow connections (bounded keep-alive, a bounded time to send a request's head), so a few
slow or idle clients cannot take the threads, and one client's expensive requests are
bounded within a worker (``api.inflight``).
"""

from __future__ import annotations

import errno
import gc
import logging
import socket
import time
from typing import Any

from gunicorn.app.base import BaseApplication

from governance.settings import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Built in each worker after the fork: no engine or thread crosses a fork.
        from api import create_app
        from api.inflight import EXTENSION_KEY, InFlight

        app = create_app(self.settings)
        # One client's expensive requests in flight, bounded by this worker's threads.
        bound: InFlight = app.extensions[EXTENSION_KEY]
        scaled = InFlight.for_threads(int(self.options["threads"]))
        bound.per_client, bound.total = scaled.per_client, scaled.total
        # What the worker has built by now (modules, the app, policies, the data map,
        # prebuilt statements) lives as long as the worker: frozen, the garbage collector
        # stops walking it on every full collection (about 8% of a policy read's CPU).
        gc.collect()
        gc.freeze()
        return app


#: Threads per worker: the requests one worker runs at once (connections waiting for a
#: request cost no thread). The app is CPU-bound under the GIL, so more threads add little
#: throughput; enough of them keep one slow request from holding the others up.
DEFAULT_THREADS = 8
#: Seconds a connection is kept open for its next request; idle beyond that, it is closed.
KEEPALIVE_SECONDS = 5
#: Connections one worker holds at most (kept-alive and slow ones included); beyond that,
#: new ones wait in the kernel's backlog.
WORKER_CONNECTIONS = 1000
#: Seconds `governance serve` waits for its port to come free (orphaned workers of a killed
#: instance, a previous instance still stopping) before it gives up.
PORT_WAIT_SECONDS = 300.0
log = logging.getLogger("api.serving")


def gunicorn_options(
    *, host: str, port: int, workers: int, log_level: str, threads: int = DEFAULT_THREADS
) -> dict[str, Any]:
    """The server's configuration (the policy benchmark serves its bare baseline with it too,
    so that the two differ only in the application)."""
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        # gunicorn's threaded worker, reading request heads without a thread and answering
        # its own refusals (bad request line, headers too large) as problem+json that echo
        # nothing sent.
        "worker_class": "api.gunicorn_worker.ProblemThreadWorker",
        "threads": max(1, threads),
        "keepalive": KEEPALIVE_SECONDS,
        "worker_connections": WORKER_CONNECTIONS,
        # gunicorn >= 25 opens a control socket at one path per user
        # (~/.gunicorn/gunicorn.ctl): two services on a host would take it from each other.
        # Nothing of ours uses it; stopping and reloading go by signals to the master.
        "control_socket_disable": True,
        "accesslog": "-",
        # The access log line carries the client's network, the route template and our
        # request id, never the client's address, the raw path or the query string: the
        # address is personal data, a path or query can hold an e-mail (api.security_headers).
        "access_log_format": (
            '%({gateway.client}e)s "%(m)s %({gateway.route}e)s" %(s)s %(B)s '
            "%(M)sms %({gateway.request_id}e)s"
        ),
        "loglevel": log_level.lower(),
        "timeout": 60,
    }


def wait_for_port(host: str, port: int, *, seconds: float = PORT_WAIT_SECONDS) -> None:
    """Return once ``host:port`` can be bound (as gunicorn binds it); after ``seconds``,
    raise the OSError. gunicorn itself tries five times in five seconds and exits, while
    the workers of a killed instance can keep a port for longer than that."""
    deadline = time.monotonic() + seconds
    said = 0.0
    while True:
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                raise
            if time.monotonic() - said >= 10:
                log.warning("port %d is in use; waiting for it to come free", port)
                said = time.monotonic()
            time.sleep(0.5)


def serve(
    settings: Settings, *, host: str, port: int, workers: int, threads: int = DEFAULT_THREADS
) -> None:
    # gunicorn names itself and its version in every Server header; an attacker needs
    # neither. Its response class reads this module global when it writes the header.
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = "crm-privacy-gateway"
    wait_for_port(host, port)
    _Gunicorn(
        settings,
        gunicorn_options(
            host=host, port=port, workers=workers, log_level=settings.log_level, threads=threads
        ),
    ).run()
