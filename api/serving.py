"""Run the HTTP app under gunicorn, a production WSGI server, from inside the CLI."""

from __future__ import annotations

import gc
from typing import Any

from gunicorn.app.base import BaseApplication

from governance.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
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

        app = create_app(self.settings)
        # What the worker has built by now (modules, the app, policies, the data map,
        # prebuilt statements) lives as long as the worker: frozen, the garbage collector
        # stops walking it on every full collection (about 8% of a policy read's CPU).
        gc.collect()
        gc.freeze()
        return app


def gunicorn_options(*, host: str, port: int, workers: int, log_level: str) -> dict[str, Any]:
    """The server's configuration (the policy benchmark serves its bare baseline with it too,
    so that the two differ only in the application)."""
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        # gunicorn's sync worker, answering its own refusals (bad request line, headers too
        # large) as problem+json that echo nothing sent.
        "worker_class": "api.gunicorn_worker.ProblemWorker",
        "accesslog": "-",
        # The access log line carries the client's network, the route template and our
        # request id, never the client's address, the raw path or the query string: the
        # address is personal data, a path or query can hold an e-mail (api.security_headers).
        "access_log_format": ('%({gateway.client}e)s "%(m)s %({gateway.route}e)s" %(s)s %(B)s '
                              '%(M)sms %({gateway.request_id}e)s'),
        "loglevel": log_level.lower(),
        "timeout": 60,
    }


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    # gunicorn names itself and its version in every Server header; an attacker needs
    # neither. Its response class reads this module global when it writes the header.
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = "crm-privacy-gateway"
    _Gunicorn(settings, gunicorn_options(host=host, port=port, workers=workers,
                                         log_level=settings.log_level)).run()
